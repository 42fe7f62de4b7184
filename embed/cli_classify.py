"""``embed classify``: train, evaluate and apply sentence classifiers on word vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from embed import cli_options as opt

if TYPE_CHECKING:
    from embed.classify.config import EmbeddingMode

_data_opts = [
    opt.choice_option(
        "--format",
        "fmt",
        choices=["auto", "fasttext", "tsv", "csv", "jsonl", "kim"],
        default="auto",
        help="Data format; auto detects it from the extension and first line.",
    ),
    click.option(
        "--text-column",
        default=None,
        help="CSV column / JSONL field holding the text [default: text, review, sentence or content].",
    ),
    click.option(
        "--label-column",
        default=None,
        help="CSV column / JSONL field holding the label [default: label, class, category or sentiment].",
    ),
]
_truncate_opt = opt.flag_option(
    "--truncate",
    help="Keep the first --max-tokens tokens of a longer text instead of refusing it; prints how many were cut.",
)


def _check_encoding(ctx: click.Context, param: click.Parameter, value: str) -> str:
    import codecs

    try:
        codecs.lookup(value)
    except LookupError:
        raise click.BadParameter(
            f"unknown encoding {value!r}; pass a codec name such as utf-8, cp1252 or gbk"
        ) from None
    return value


_encoding_opt = click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    callback=_check_encoding,
    help=(
        "Text encoding of the data (cp1252 for Kim's MR rt-polarity.all, gbk for older Chinese files); "
        "invalid UTF-8 bytes are replaced and counted."
    ),
)
_threads_opt = opt.threads_option("torch CPU threads (the project's machines have 2 cores).")
_json_opt = opt.json_option("Print the scores as JSON.")


def _configure(threads: int) -> None:
    """torch's threads and OpenMP's wait policy: first, since importing ``embed.classify`` loads torch."""
    from embed.runtime import configure_threads

    configure_threads(threads, "classify")


def data_options(f: Any) -> Any:
    for option in reversed([*_data_opts, _encoding_opt]):
        f = option(f)
    return f


def _read(path: str, fmt: str, text_column: str | None, label_column: str | None, encoding: str) -> Any:
    from embed.classify.data import read_dataset

    return read_dataset(path, fmt, text_column, label_column, encoding=encoding)


@click.group()
def classify() -> None:
    """Sentence classifiers (Kim's TextCNN, LSTM, GRU) on top of word vectors."""


@classify.command()
@click.argument("data")
@opt.path_option("--out", default=None, help="Classifier directory to write (required unless --cv).")
@opt.choice_option("--arch", choices=["cnn", "lstm", "gru"], default="cnn")
@opt.flag_option("--bidirectional", help="Bidirectional LSTM/GRU.")
@click.option(
    "--vectors", default=None, help="Pre-trained vectors: an 'embed train' directory or a word2vec/GloVe file."
)
@click.option(
    "--mode",
    type=click.Choice(["rand", "static", "non-static", "multichannel"]),
    default=None,
    help="Embeddings: random, frozen, fine-tuned, or both [default: non-static with --vectors, else rand].",
)
@click.option("--dim", type=click.IntRange(min=1), default=None, help="Embedding size [default: the vectors', or 300].")
@opt.flag_option(
    "--raw-vectors", help="Keep the pre-trained vectors' own lengths (default: rescale each to an unknown word's)."
)
@opt.count_option("--epochs", default=25)
@opt.count_option("--batch-size", default=50)
@click.option(
    "--patience",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after N epochs without a better dev accuracy [default: run all epochs, keep the best].",
)
@click.option(
    "--optimizer",
    type=click.Choice(["adadelta", "adam"]),
    default=None,
    help="[default: adadelta for cnn, adam for lstm/gru]",
)
@click.option(
    "--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="[default: 1.0 adadelta, 0.001 adam]"
)
@click.option("--filter-sizes", default="3,4,5", show_default=True, help="CNN window widths.")
@opt.count_option("--num-filters", default=100)
@opt.count_option("--hidden", default=150, help="LSTM/GRU hidden size.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.5, show_default=True)
@click.option("--max-norm", type=click.FloatRange(min=0, min_open=True), default=3.0, show_default=True)
@opt.tokenizer_option("whitespace for pre-tokenized data (Kim's files), jieba for Chinese.")
@opt.count_option("--max-tokens", default=1000, help="Longer texts are an error (or cut, with --truncate).")
@_truncate_opt
@opt.seed_option()
@_threads_opt
@click.option("--dev", "dev_path", default=None, help="Dev data picking the epoch [default: 10% of DATA].")
@click.option(
    "--test",
    "test_path",
    default=None,
    help="Test data scored after training (its words join the vocabulary, as in Kim 2014).",
)
@click.option(
    "--cv",
    type=click.IntRange(min=2),
    default=None,
    help="K-fold cross-validation on DATA instead of one model: prints the scores, writes nothing.",
)
@opt.overwrite_option("training")
@_json_opt
@opt.quiet_option("No per-epoch lines.")
@data_options
def train(
    data: str,
    out: Path | None,
    vectors: str | None,
    mode: EmbeddingMode | None,
    dim: int | None,
    raw_vectors: bool,
    filter_sizes: str,
    dev_path: str | None,
    test_path: str | None,
    cv: int | None,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
    fmt: str,
    text_column: str | None,
    label_column: str | None,
    encoding: str,
    **opts: Any,
) -> None:
    """Train a classifier on labelled DATA (fastText, label<TAB>text, CSV, JSONL or Kim's 'label text')."""
    if cv is None and out is None:
        raise click.UsageError("--out is required (or pass --cv K to cross-validate without writing a model)")
    if cv is not None and (out is not None or dev_path or test_path):
        raise click.UsageError("--cv scores DATA by cross-validation; it takes no --out, --dev or --test")
    _configure(opts["threads"])
    from embed.classify.config import ClassifierConfig
    from embed.io import check_output_dir, load

    if out is not None:
        check_output_dir(out, overwrite)  # fail before training, not after
    try:
        sizes = tuple(int(s) for s in filter_sizes.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{filter_sizes!r}: expected comma-separated integers such as 3,4,5", param_hint="--filter-sizes"
        ) from None
    vecs = load(vectors) if vectors else None
    config = ClassifierConfig(
        mode=mode or ("non-static" if vecs is not None else "rand"),
        dim=dim or (vecs.dim if vecs is not None else 300),
        filter_sizes=sizes,
        normalize_vectors=not raw_vectors,
        **opts,
    )
    dataset = _read(data, fmt, text_column, label_column, encoding)
    if cv is not None:
        _cross_validate(dataset, config, cv, vecs, as_json, quiet)
        return
    dev = _read(dev_path, fmt, text_column, label_column, encoding) if dev_path else None
    test = _read(test_path, fmt, text_column, label_column, encoding) if test_path else None
    _train_and_save(dataset, config, vecs, dev, test, out, overwrite, as_json, quiet, vectors)


def _epoch_printer(quiet: bool) -> Any:
    def show(r: Any) -> None:
        if not quiet:
            click.echo(
                f"epoch {r.epoch:>3}  loss {r.loss:.4f}  train {r.train_accuracy:.4f}  dev {r.dev_accuracy:.4f}  "
                f"{r.seconds:.1f} s{'  *' if r.best else ''}",
                err=True,
            )

    return show


def _train_and_save(
    dataset: Any,
    config: Any,
    vecs: Any,
    dev: Any,
    test: Any,
    out: Path | None,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
    vectors: str | None,
) -> None:
    from embed.classify.io import save_classifier
    from embed.classify.train import fit

    clf = fit(
        dataset,
        config,
        vecs,
        dev=dev,
        extra_texts=test.texts if test is not None else (),
        on_epoch=_epoch_printer(quiet),
    )
    test_metrics = clf.evaluate(test, truncate=config.truncate) if test is not None else None
    scores = {"test": test_metrics.to_dict()} if test_metrics is not None else {}
    assert out is not None
    save_classifier(out, clf, extra={"vectors": vectors, "data": dataset.source, "scores": scores}, overwrite=overwrite)
    if config.truncate:
        cut, info = clf.info["truncated"], clf.info
        parts = [
            f"{cut['train']} of {info['train_examples']} training texts",
            f"{cut['dev']} of {info['dev_examples']} dev texts",
        ]
        if test is not None:
            parts.append(f"{clf.count_over_limit(test.texts, test.source)} of {len(test)} test texts")
        click.echo(f"truncated {', '.join(parts[:-1])} and {parts[-1]} to --max-tokens {config.max_tokens}", err=True)
    if as_json:
        click.echo(json.dumps({"out": str(out), "info": clf.info, **scores}, indent=2, ensure_ascii=False))
        return
    best = clf.info["epochs"][clf.info["best_epoch"] - 1]
    click.echo(
        f"wrote {out}: {config.arch} {config.mode}, {len(clf.vocab):,} words ({clf.info['pretrained_rows']:,} "
        f"pre-trained), {len(clf.labels)} labels, best dev accuracy {best['dev_accuracy']:.4f} at epoch "
        f"{clf.info['best_epoch']}"
    )
    if test_metrics is not None:
        click.echo(test_metrics.format())


def _cross_validate(dataset: Any, config: Any, k: int, vecs: Any, as_json: bool, quiet: bool) -> None:
    import numpy as np

    from embed.classify.train import cross_validate

    def show(n: int, m: Any) -> None:
        if not quiet:
            click.echo(f"fold {n + 1}/{k}: accuracy {m.accuracy:.4f}  macro-F1 {m.macro_f1:.4f}", err=True)

    results = cross_validate(dataset, config, k, vecs, on_fold=show)
    acc, f1 = np.array([m.accuracy for m in results]), np.array([m.macro_f1 for m in results])
    if as_json:
        click.echo(
            json.dumps(
                {
                    "folds": [m.to_dict() for m in results],
                    "accuracy_mean": acc.mean(),
                    "accuracy_std": acc.std(),
                    "macro_f1_mean": f1.mean(),
                },
                indent=2,
            )
        )
        return
    click.echo(f"{k}-fold CV: accuracy {acc.mean():.4f} +- {acc.std():.4f}  macro-F1 {f1.mean():.4f}")


@classify.command("eval")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("data")
@_json_opt
@_truncate_opt
@_threads_opt
@data_options
def eval_(
    model_dir: Path,
    data: str,
    as_json: bool,
    truncate: bool,
    threads: int,
    fmt: str,
    text_column: str | None,
    label_column: str | None,
    encoding: str,
) -> None:
    """Score the classifier in MODEL_DIR on labelled DATA: accuracy, macro-F1, per class, confusion."""
    _configure(threads)
    from embed.classify.io import load_classifier

    clf = load_classifier(model_dir)
    dataset = _read(data, fmt, text_column, label_column, encoding)
    metrics = clf.evaluate(dataset, truncate=truncate)
    if truncate:
        _report_truncated(clf, dataset.texts, dataset.source)
    click.echo(json.dumps(metrics.to_dict(), indent=2, ensure_ascii=False) if as_json else metrics.format())


def _report_truncated(clf: Any, texts: list[str], source: str) -> None:
    cut = clf.count_over_limit(texts, source)
    click.echo(
        f"truncated {cut} of {len(texts)} texts to the classifier's --max-tokens {clf.config.max_tokens}", err=True
    )


@classify.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("file", default="-")
@click.option("-k", "--top-k", "k", type=click.IntRange(min=1), default=1, show_default=True, help="Labels per text.")
@opt.json_option("One JSON object per line: text, labels, probabilities.")
@_truncate_opt
@_threads_opt
@_encoding_opt
def predict(model_dir: Path, file: str, k: int, as_json: bool, truncate: bool, threads: int, encoding: str) -> None:
    """Label each non-blank line of FILE (or standard input): top-k labels with probabilities."""
    _configure(threads)
    from embed.classify.data import numbered_lines, read_text
    from embed.classify.io import load_classifier

    clf = load_classifier(model_dir)
    texts = [line for _, line in numbered_lines(read_text(file, encoding))]
    source = "<stdin>" if file == "-" else file
    results = clf.predict(texts, k=k, source=source, truncate=truncate)
    if truncate:
        _report_truncated(clf, texts, source)
    lines = []
    for text, top in zip(texts, results, strict=False):
        if as_json:
            lines.append(
                json.dumps(
                    {"text": text, "labels": [lab for lab, _ in top], "probabilities": [round(p, 6) for _, p in top]},
                    ensure_ascii=False,
                )
            )
        else:
            lines.append("\t".join(f"{lab}\t{p:.4f}" for lab, p in top))
    click.echo("\n".join(lines))
