"""``embed import``, ``export``, ``similar``, ``analogy`` and ``vectors``: working with vectors files of any size."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from embed import cli_options as opt
from embed.errors import EmbedError

if TYPE_CHECKING:
    from tqdm import tqdm

    from embed.importer import ExportFormat
    from embed.neighbours import Metric
    from embed.search import Hits


class _Bytes:
    """A tqdm bar over the bytes of a file (``progress(done, total)``)."""

    def __init__(self, desc: str, disable: bool) -> None:
        self.desc, self.disable = desc, disable
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=self.desc,
                disable=self.disable,
                dynamic_ncols=True,
                mininterval=0.5,
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def open_model(model: str, quiet: bool = False) -> Path:
    """A model directory for MODEL: itself, or a vectors file's import in the cache (made once)."""
    from embed.importer import model_dir_for

    bar = _Bytes(f"importing {Path(model).name} (once)", disable=quiet)
    try:
        return model_dir_for(model, progress=bar)
    finally:
        bar.close()


@click.command("import")
@click.argument("src", type=click.Path(path_type=Path))
@opt.path_option("--out", required=True, help="Model directory to write.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Read only the first N rows (gensim's limit).")
@opt.choice_option(
    "--format",
    "fmt",
    choices=["auto", "word2vec-bin", "word2vec-txt", "glove", "fasttext-bin"],
    default="auto",
    help="auto tells a fastText .bin (subwords kept) by its magic number.",
)
@opt.flag_option("--allow-nonfinite", help="Keep rows holding NaN or inf (refused by default).")
@opt.overwrite_option("the import")
@opt.quiet_option()
def import_(
    src: Path, out: Path, limit: int | None, fmt: str, allow_nonfinite: bool, overwrite: bool, quiet: bool
) -> None:
    """Import SRC (word2vec .bin/.txt, fastText .vec or .bin, GloVe; also .gz/.bz2) into a memory-mapped
    model directory.

    A fastText .bin keeps its n-grams: the model answers words outside its vocabulary.
    """
    from embed.importer import import_vectors

    bar = _Bytes(f"importing {src.name}", disable=quiet)
    try:
        path, source = import_vectors(
            src,
            out,
            limit=limit,
            format=None if fmt == "auto" else fmt,
            allow_nonfinite=allow_nonfinite,
            overwrite=overwrite,
            progress=bar,
        )
    finally:
        bar.close()
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    store = meta["store"]
    click.echo(
        f"wrote {path}: {store['rows']:,} words x {store['dim']} dims from {source['format']}"
        f" in {meta['timings']['import_seconds']:.1f}s"
    )
    for line in source["messages"]:
        click.echo(f"  {line}")


@click.command()
@click.argument("model")
@opt.choice_option(
    "--format",
    "fmt",
    choices=["word2vec-bin", "word2vec-txt", "projector", "fasttext-bin"],
    default="word2vec-bin",
    help="fasttext-bin: a subword model as fastText's .bin"
    " (fasttext nn/print-word-vectors, gensim load_facebook_vectors).",
)
@opt.path_option(
    "--out",
    required=True,
    help="File to write (projector: a directory for vectors.tsv and metadata.tsv).",
)
def export(model: str, fmt: ExportFormat, out: Path) -> None:
    """Write MODEL's vectors as word2vec binary/text or the TensorFlow Embedding Projector's two TSV files."""
    from embed.importer import export_vectors

    for path in export_vectors(open_model(model), out, fmt):
        click.echo(f"wrote {path}")


def _lines(args: tuple[str, ...], join: bool = False) -> Iterator[str]:
    """The queries given on the command line (``join``: as one), or (``-``) one query per line of stdin."""
    if args != ("-",):
        yield from [" ".join(args)] if join else args
        return
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def _answer_each(queries: Iterator[str], answer: Callable[[str], Hits], as_json: bool, label: str, many: bool) -> None:
    """Print each query's ranked results; with several queries a bad one is reported and the rest go on.

    A JSON line marks query words built from their n-grams as the HTTP answers do (``"oov": true, "oov_words"``);
    the text output notes them on standard error.
    """
    failed = 0
    if not as_json and not many and label:
        click.echo(f"rank\tword\t{label}")
    for query in queries:
        try:
            hits = answer(query)
        except EmbedError as exc:
            if not many:
                raise
            failed += 1
            click.echo(
                json.dumps({"query": query, "error": str(exc)}, ensure_ascii=False) if as_json else f"# {query}: {exc}"
            )
            continue
        results = list(zip(hits.words, hits.scores, strict=True))
        for word in hits.oov:
            click.echo(f"# {word}: not in the vocabulary; its vector is built from its character n-grams", err=True)
        if as_json:
            ranked = [{"word": w, "score": s, "rank": r} for r, (w, s) in enumerate(results, 1)]
            oov = {"oov": True, "oov_words": list(hits.oov)} if hits.oov else {}
            click.echo(json.dumps({"query": query, **oov, "results": ranked}, ensure_ascii=False))
            continue
        if many:
            click.echo(f"# {query}")
        for rank, (w, s) in enumerate(results, 1):
            click.echo(f"{rank}\t{w}\t{s:.4f}")
    if failed:
        raise click.ClickException(f"{failed} quer{'y' if failed == 1 else 'ies'} could not be answered (see above)")


def _query_command(words: str, k: int | None = None) -> Callable[[Callable[..., None]], click.Command]:
    """``@click.command()`` with what every query command starts with: MODEL, then the ``words`` argument
    (one or more, or ``-`` for standard input), then ``-k`` (results a query, default ``k``) unless ``k`` is None.
    """

    def decorate(f: Callable[..., None]) -> click.Command:
        if k is not None:
            f = click.option("-k", "topn", type=click.IntRange(1, 1000), default=k, show_default=True)(f)
        f = click.argument(words, nargs=-1, required=True)(f)
        return click.command()(click.argument("model")(f))

    return decorate


@_query_command("word", k=10)
@opt.choice_option("--metric", choices=["cosine", "euclidean"], default="cosine")
@click.option(
    "--exact/--approximate", default=None, help="Force an exact scan or the ANN index [default: exact where cheap]."
)
@opt.json_option("One JSON object a line: {query, results: [{word, score, rank}]}.")
def similar(model: str, word: tuple[str, ...], topn: int, metric: Metric, exact: bool | None, as_json: bool) -> None:
    """Nearest neighbours of WORD (cosine similarity or Euclidean distance); WORD - reads one word a line from stdin.

    MODEL is a model directory or a vectors file (imported once into the cache). The model is
    opened once, memory-mapped, with its index when it has one.
    """
    from embed.search import Searcher

    searcher = Searcher.open(open_model(model))

    def answer(q: str) -> Hits:
        return searcher.by_word(q, topn, metric, exact)

    _answer_each(
        _lines(word), answer, as_json, "cosine" if metric == "cosine" else "distance", word == ("-",) or len(word) > 1
    )


@_query_command("words", k=5)
@opt.choice_option("--method", choices=["3cosadd", "3cosmul"], default="3cosadd")
@click.option(
    "--exact/--approximate",
    default=None,
    help="3CosAdd: force an exact scan or the ANN index [default: exact where cheap].",
)
@opt.json_option("One JSON object a line.")
def analogy(model: str, words: tuple[str, ...], topn: int, method: str, exact: bool | None, as_json: bool) -> None:
    """A is to B as C is to ?  (b - a + c). WORDS: A B C, or - for 'A B C' lines on stdin."""
    from embed.errors import ConfigError
    from embed.search import Searcher

    if words != ("-",) and len(words) != 3:
        raise click.UsageError("give three words A B C, or - to read 'A B C' lines from standard input")
    searcher = Searcher.open(open_model(model))

    def answer(q: str) -> Hits:
        parts = q.split()
        if len(parts) != 3:
            raise ConfigError(f"{q!r}: an analogy line needs three words 'A B C'")
        a, b, c = parts
        return searcher.analogy(a, b, c, k=topn, method=method, exact=exact)

    _answer_each(_lines(words, join=True), answer, as_json, "", words == ("-",))


@_query_command("words")
@opt.json_option("One JSON object a line: {word, vector}.")
def vectors(model: str, words: tuple[str, ...], as_json: bool) -> None:
    """Print the vectors of WORDS (- reads one word a line from stdin), as fastText's print-word-vectors."""
    from embed.io import load

    vecs = load(open_model(model))

    def show(word: str) -> Any:
        vec = vecs[word]
        if as_json:
            return json.dumps({"word": word, "vector": [float(x) for x in vec]}, ensure_ascii=False)
        return word + " " + " ".join(f"{x:.6g}" for x in vec.tolist())

    failed = 0
    for word in _lines(words):
        try:
            click.echo(show(word))
        except EmbedError as exc:
            failed += 1
            click.echo(f"{word}: {exc}", err=True)
    if failed:
        raise click.ClickException(f"{failed} word{'s' if failed > 1 else ''} not in the vocabulary (see above)")
