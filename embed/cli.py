"""The ``embed`` command line: parse, call the library, print."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from embed import cli_options as opt
from embed.config import (
    ARCHES,
    BACKENDS,
    CHUNK_TOKENS,
    SYNC_AUTO,
    SYNC_CAP,
    SYNC_MODES,
    OptionError,
    momentum_round_tokens,
)
from embed.errors import ConfigError, EmbedError, describe_os_error
from embed.train.base import Callbacks

DEFAULT_SHOW = {"en": ("king", "god", "water", "love"), "zh": ("曹操", "宝玉", "悟空", "江")}
# The flags that stand for the library's option names in its messages (embed.config.OptionError).
FLAGS = {
    "alpha": "--alpha",
    "backend_gensim": "--backend gensim",
    "backend_torch": "--backend torch",
    "checkpoint": "--checkpoint-every",
    "resume": "--resume",
    "subwords": "--subwords",
    "sync": "--distributed",
    "sync_every": "--sync-every",
    "sync_mode": "--sync-mode",
}


class EmbedGroup(click.Group):
    """Turns the library's errors into one clear line and exit code 1, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EmbedError as exc:  # the library names options as a Python caller knows them; here they are flags
            raise click.ClickException(exc.render(FLAGS) if isinstance(exc, OptionError) else str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted; nothing was written", err=True)
            sys.exit(130)
        except OSError as exc:  # the disk, the file system or permissions: one line, not a traceback
            logging.getLogger(__name__).debug("OS error", exc_info=True)
            raise click.ClickException(_os_error_line(exc)) from None


def _os_error_line(exc: OSError) -> str:
    """``PATH: what happened; the fix (nothing was written)`` for an OSError that reached the CLI."""
    where = exc.filename if exc.filename is not None else "writing the output"
    return f"{where}: {describe_os_error(exc)} (nothing was written: partial files are removed)"


@click.group(cls=EmbedGroup)
@click.version_option(package_name="embed")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Word embeddings: train, query, evaluate, serve."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


_tokenizer_opt = opt.tokenizer_option("simple: Unicode lower-cased words; whitespace: pre-tokenized; jieba: Chinese.")
_arch_opt = opt.choice_option("--arch", choices=ARCHES, default="skipgram")


def _raise_interrupt(signum: int, frame: Any) -> None:
    # Only this process runs it: a forked child has the default actions back (_default_signals_in_child).
    # Later signals are ignored so that the clean-up this starts (token files, the temporary
    # model directory) is not cut short; kill -9 still works, and the next run removes its leftovers.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def _default_signals_in_child() -> None:
    """A forked child (jieba's pool workers) gets SIGINT/SIGTERM's default action back, not _raise_interrupt.

    A Python-level handler only runs between bytecodes: a worker that takes Pool.terminate()'s SIGTERM just
    before it blocks on the pool's queue lock sleeps there for ever, with the handler pending, and the parent
    waits on it (seen: ``embed train --tokenizer jieba`` hung in Pool.__exit__). The kernel's default action
    kills it wherever it is.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is _raise_interrupt:
            signal.signal(sig, signal.SIG_DFL)


os.register_at_fork(after_in_child=_default_signals_in_child)


@contextmanager
def _interrupt_on_signals() -> Iterator[None]:
    """SIGTERM (and SIGINT, unless ignored) raise KeyboardInterrupt, so ``finally`` blocks delete
    the temporary files; :class:`EmbedGroup` then prints one line and exits 130."""
    if threading.current_thread() is not threading.main_thread():  # signal.signal would raise
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig, old in saved.items():
        if old is not signal.SIG_IGN:  # nohup/background jobs ignore SIGINT on purpose
            signal.signal(sig, _raise_interrupt)
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _with_signal_cleanup(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _interrupt_on_signals():
            return f(*args, **kwargs)

    return wrapper


def _remove_stale(out: Path) -> None:
    """Delete token files and ``.OUT.tmp-<pid>-*`` directories that SIGKILLed runs left behind."""
    from embed.tmp import SERVING_PREFIX, remove_stale

    # A killed server's worker marker (an empty file) is removed too, but it is no run's temporary output.
    removed = [p for p in remove_stale(out) if not p.name.startswith(SERVING_PREFIX)]
    if removed:
        shown = ", ".join(str(p) for p in removed[:3]) + (f" and {len(removed) - 3} more" if len(removed) > 3 else "")
        click.echo(f"removed {len(removed)} stale temporary file(s) of killed embed runs: {shown}", err=True)


@main.command()
@click.argument("corpus")
@opt.path_option("--out", "out", default=None, help="Model directory to write [default: runs/<corpus name>].")
@_arch_opt
@opt.choice_option("--backend", choices=BACKENDS, default="gensim")
@opt.choice_option("--device", choices=["cpu", "cuda", "auto"], default="cpu", help="torch backend only.")
@opt.count_option("--dim", default=100)
@opt.count_option("--window", default=5)
@opt.count_option("--negative", default=5)
@opt.count_option("--min-count", default=5)
@click.option("--max-vocab", type=click.IntRange(min=1), default=None, help="Keep only the N most frequent words.")
@click.option(
    "--count-limit",
    type=click.IntRange(min=1000),
    default=None,
    help="Bound counting memory: hold at most N distinct words, pruning rare ones (gensim's max_vocab_size).",
)
@click.option("--sample", type=click.FloatRange(0, 1, max_open=True), default=1e-3, show_default=True)
@opt.count_option("--epochs", default=5)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Initial learning rate [default: 0.025 skip-gram, 0.05 CBOW].",
)
@opt.workers_option()
@opt.seed_option()
@_tokenizer_opt
@opt.flag_option(
    "--subwords",
    help="fastText's model: words are their own row plus hashed character n-grams, so unknown words get vectors"
    " (skip-gram and CBOW, both backends).",
)
@click.option(
    "--minn",
    type=int,
    default=3,
    show_default=True,
    help="--subwords: shortest n-gram, in characters (jieba Chinese: 1).",
)
@click.option("--maxn", type=int, default=6, show_default=True, help="--subwords: longest n-gram (jieba Chinese: 2).")
@click.option(
    "--bucket",
    type=int,
    default=2_000_000,
    show_default=True,
    help="--subwords: n-gram hash rows (memory: bucket x dim x 4 bytes, twice while training).",
)
@opt.flag_option("--text", "text_format", help="Write vectors.txt (word2vec text) instead of vectors.bin.")
@opt.overwrite_option("training")
@opt.flag_option(
    "--no-eval",
    help="Skip the evaluation after saving (English: Google analogies, WS353, SimLex-999; Chinese: CA8, wordsim-240).",
)
@click.option(
    "--show",
    default=None,
    help="Comma-separated words whose neighbours are printed at the end"
    " [default: king,god,water,love; with jieba: 曹操,宝玉,悟空,江].",
)
@opt.quiet_option()
@click.option(
    "--checkpoint-every",
    type=click.FloatRange(0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="torch backend: write a resumable snapshot at most every SECONDS (between 200k-token chunks).",
)
@opt.path_option(
    "--checkpoint-dir",
    default=None,
    help="Where snapshots go [default: <out>.checkpoint]; removed once the model is written.",
)
@opt.path_option(
    "--resume",
    default=None,
    metavar="CKPT_DIR",
    help="Continue the training saved in CKPT_DIR (same CORPUS; its options and --out are reused).",
)
@opt.flag_option(
    "--distributed",
    help="torch backend under torchrun: train this rank's share, sync touched rows (gloo on CPU, NCCL on CUDA).",
)
@opt.count_option(
    "--sync-every",
    default=1,
    help=f"--distributed: sync after every N rounds of one {CHUNK_TOKENS // 1000}k-token chunk per rank.",
)
@opt.choice_option(
    "--sync-mode",
    choices=[SYNC_AUTO, *SYNC_MODES],
    default=SYNC_AUTO,
    help="--distributed: add the ranks' mean or summed row changes, (capped) their sum scaled to at most"
    f" {SYNC_CAP} ranks' worth per row, or (momentum) a block-momentum step, in rounds of"
    f" {momentum_round_tokens(CHUNK_TOKENS, 2) // 1000}k tokens of all ranks at 2 ranks,"
    f" {momentum_round_tokens(CHUNK_TOKENS, 8) // 1000}k at 8;"
    " auto: sum for CBOW at 2 ranks, momentum otherwise (what kept one process's quality).",
)
@click.pass_context
@_with_signal_cleanup
def train(
    ctx: click.Context,
    corpus: str,
    out: Path | None,
    text_format: bool,
    overwrite: bool,
    no_eval: bool,
    show: str | None,
    quiet: bool,
    checkpoint_every: float | None,
    checkpoint_dir: Path | None,
    resume: Path | None,
    distributed: bool,
    sync_every: int,
    sync_mode: str,
    **opts: Any,
) -> None:
    """Train word2vec on CORPUS (a file, a directory, .gz/.bz2, or - for stdin)."""
    from embed.io import check_output_dir, save_trained
    from embed.plots import plot_training
    from embed.runtime import configure_threads
    from embed.train import RunOptions, start_run
    from embed.train.checkpoint import Checkpointer, read_snapshot

    snapshot = read_snapshot(resume) if resume is not None else None
    if snapshot is None and distributed and checkpoint_every is not None:
        snapshot = _restarted(checkpoint_dir or _checkpoint_dir(out or _default_out(corpus)))
    config = _run_config(ctx, opts, snapshot)
    configure_threads(config.workers, "train")  # before torch (or torch.distributed) loads its OpenMP
    out = out or (Path(snapshot.out) if snapshot is not None and snapshot.out else None) or _default_out(corpus)
    check_output_dir(out, overwrite)  # fail before hours of training, not after
    _remove_stale(out)
    _refuse_unused_options(ctx, checkpoint_every, checkpoint_dir, resume, distributed)
    sync_every, sync_mode = _sync_settings(ctx, snapshot, sync_every, sync_mode)
    plan = RunOptions(Checkpointer.for_model(out, checkpoint_every, checkpoint_dir, snapshot), resume=snapshot)
    with start_run(config, corpus, plan, distributed=distributed, sync_every=sync_every, sync_mode=sync_mode) as run:
        result = _train_with_progress(corpus, config, run, quiet)
    if run.rank != 0:
        return  # rank 0 writes the model; the ranks hold the same weights after the last sync

    def plot(folder: Path) -> None:
        plot_training(result.epochs, folder / "loss.png", f"{config.backend} {config.arch}, {Path(corpus).name}")

    save_trained(out, result, binary=not text_format, overwrite=overwrite, extra=plot)
    if run.checkpointer is not None:
        run.checkpointer.remove()  # the model is complete: the snapshots have served their purpose
    scores = {} if no_eval else _evaluate_saved(out, result.vectors)  # after the save: never costs the model
    _print_summary(out, result, scores, _show_words(show, config.tokenizer))


def _default_out(corpus: str) -> Path:
    return Path("runs") / (Path(corpus).name.split(".")[0] if corpus != "-" else "stdin")


def _checkpoint_dir(out: Path) -> Path:
    """Where snapshots go without --checkpoint-dir (as :meth:`Checkpointer.for_model` decides)."""
    return out.with_name(out.name + ".checkpoint")


def _restarted(directory: Path) -> Any:
    """The snapshot to continue from when torchrun restarted the workers (embed.train.checkpoint.restart_snapshot)."""
    from embed.train.checkpoint import restart_snapshot

    snapshot = restart_snapshot(directory)
    if snapshot is not None and os.environ.get("RANK", "0") == "0":
        click.echo(
            f"torchrun restarted the workers: resuming from {directory} (epoch {snapshot.epoch + 1},"
            f" {snapshot.chunk} round(s) done)",
            err=True,
        )
    return snapshot


def _sync_settings(ctx: click.Context, snapshot: Any, every: int, mode: str) -> tuple[int, str]:
    """--sync-every and --sync-mode, or with --resume of a data-parallel checkpoint the checkpoint's
    (given as well, they must agree: embed.train.check_run refuses another)."""
    saved = None if snapshot is None or snapshot.distributed is None else snapshot.distributed["sync"]
    if saved is None:
        return every, mode
    if ctx.get_parameter_source("sync_every") is not ParameterSource.COMMANDLINE:
        every = int(saved["every"])
    if ctx.get_parameter_source("sync_mode") is not ParameterSource.COMMANDLINE:
        mode = str(saved["mode"])
    return every, mode


def _run_config(ctx: click.Context, opts: dict[str, Any], snapshot: Any) -> Any:
    """The options given, or with --resume the checkpoint's (an option given as well must agree)."""
    from embed.config import TrainConfig

    if snapshot is None:
        return _train_config(TrainConfig, opts)
    _refuse_conflicts(ctx, opts, snapshot.config)
    return snapshot.config


def _refuse_unused_options(
    ctx: click.Context, every: float | None, directory: Path | None, resume: Path | None, distributed: bool
) -> None:
    """Options that only modify another option, given without it."""
    if directory is not None and every is None and resume is None:
        raise ConfigError("--checkpoint-dir needs --checkpoint-every SECONDS (or --resume)")
    given = [n for n in ("sync_every", "sync_mode") if ctx.get_parameter_source(n) is ParameterSource.COMMANDLINE]
    if given and not distributed:
        raise ConfigError("--sync-every and --sync-mode need --distributed (under torchrun)")


def _train_with_progress(corpus: str, config: Any, run: Any, quiet: bool) -> Any:
    """Train on CORPUS with a progress bar (none with -q, or on ranks other than 0)."""
    from embed.corpus import Corpus
    from embed.train import train as run_train

    # Distributed: each rank opens only its shard, inside train(), where every rank hears of another's error.
    stream = Corpus(corpus, tokenizer=config.tokenizer, workers=config.workers) if run.sync is None else None
    progress = _TqdmCallbacks(disable=quiet or run.rank != 0)
    try:
        return run_train(corpus if stream is None else stream, config, progress, run=run)
    finally:
        progress.close()
        if stream is not None:
            stream.close()


def _show_words(show: str | None, tokenizer: str) -> list[str]:
    """--show's words, or the defaults of the model's language."""
    if show is None:
        show = ",".join(DEFAULT_SHOW["zh" if tokenizer == "jieba" else "en"])
    return [w.strip() for w in show.split(",") if w.strip()]


def _train_config(cls: Any, opts: dict[str, Any]) -> Any:
    """``TrainConfig(**opts)``, its subword options named as flags in an error (``maxn`` -> ``--maxn``)."""
    import re

    try:
        return cls(**opts)
    except ConfigError as exc:
        text = re.sub(r"\b(minn|maxn|bucket)\b", r"--\1", str(exc)).replace("subwords=True", "--subwords")
        raise ConfigError(text) from None


def _evaluate_saved(out: Path, vectors: Any) -> dict[str, Any]:
    """Evaluate on the model language's default sets (:func:`embed.train.train` recorded the tokenizer) and
    record the scores in ``meta.json``."""
    from embed.evaluate import evaluate as run_eval
    from embed.io import update_meta

    try:
        scores = run_eval(vectors).to_dict()
    except EmbedError as exc:
        click.echo(f"warning: evaluation failed ({exc}); the model at {out} is complete", err=True)
        return {}
    update_meta(out, evaluation=scores)
    return scores


def _refuse_conflicts(ctx: click.Context, opts: dict[str, Any], config: Any) -> None:
    """With --resume the checkpoint's options rule; an option given on the command line must agree."""
    saved = dataclasses.asdict(config)
    for name, value in opts.items():
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE and saved.get(name) != value:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{flag} {value} conflicts with the checkpoint's {saved.get(name)}; drop {flag} when resuming"
                " (the checkpoint's options are used)"
            )


def _print_summary(out: Path, result: Any, scores: dict[str, Any], show: list[str]) -> None:
    v = result.vectors
    click.echo(
        f"wrote {out}: {len(v):,} words x {v.dim} dims, {result.vocab.total_tokens:,} tokens,"
        f" {result.words_per_sec:,.0f} words/s, final loss {result.epochs[-1].loss:.4f}"
    )
    for line in _score_lines(scores):
        click.echo("  " + line)
    for word in show:
        if word in v:
            near = ", ".join(f"{w} {s:.2f}" for w, s in v.most_similar(word, topn=6))
            click.echo(f"  {word}: {near}")


def _score_lines(scores: dict[str, Any]) -> list[str]:
    """One line per evaluation set: its score and coverage, or why it was skipped."""
    lines = []
    for key, label, describe in (("analogies", "analogy", _analogy_score), ("pairs", "pairs", _pairs_score)):
        for entry in scores.get(key, []):
            result = f"skipped, {entry['skipped']}" if entry.get("skipped") else describe(entry)
            lines.append(f"{label} {entry['name']}: {result}")
    return lines


def _analogy_score(a: dict[str, Any]) -> str:
    return f"{a['accuracy']:.1%} of {a['total']} questions in vocabulary (of {a.get('questions', a['total'])})"


def _pairs_score(p: dict[str, Any]) -> str:
    return f"Spearman {p['spearman']:.3f} ({p['oov_percent']:.0f}% of pairs out of vocabulary)"


class _TqdmCallbacks(Callbacks):
    """A tqdm progress bar: epoch, words/s, ETA and last epoch's loss."""

    def __init__(self, disable: bool = False) -> None:
        self.disable = disable
        self.bar: Any = None
        self.done_epochs = 0
        self.total_words = 0

    def on_train_begin(self, total_words: int, epochs: int) -> None:
        from tqdm import tqdm

        self.total_words = total_words
        self.epochs = epochs
        self.bar = tqdm(
            total=total_words * epochs,
            unit="w",
            unit_scale=True,
            disable=self.disable,
            desc=f"epoch 1/{epochs}",
            dynamic_ncols=True,
            mininterval=0.5,
        )

    def on_progress(self, epoch: int, words: int) -> None:
        if self.bar is not None:
            done = epoch * self.total_words + min(words, self.total_words)
            if epoch + 1 != self.done_epochs:
                self.done_epochs = epoch + 1
                self.bar.set_description(f"epoch {epoch + 1}/{self.epochs}", refresh=False)
            self.bar.update(done - self.bar.n)  # update() honours tqdm's refresh interval

    def on_epoch_end(self, stats: Any) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{stats.loss:.4f}", refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@main.command()
@click.argument("corpus")
@opt.count_option("--window", default=2)
@_arch_opt
@opt.count_option("--limit", default=20)
@opt.count_option("--min-count", default=1)
@click.option(
    "--sample",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Subsampling threshold (0: keep every word, easier to follow).",
)
@opt.seed_option()
@_tokenizer_opt
def pairs(
    corpus: str, window: int, arch: str, limit: int, min_count: int, sample: float, seed: int, tokenizer: str
) -> None:
    """Print the training examples word2vec builds from CORPUS (dynamic window, seeded)."""
    import numpy as np

    from embed.corpus import Corpus
    from embed.pairs import cbow_examples_from_windows, reduced_windows, skipgram_pairs_from_windows, subsample
    from embed.vocab import Vocab

    stream = Corpus(corpus, tokenizer=tokenizer)
    vocab = Vocab.build(stream, min_count=min_count, source=stream.source)
    keep = vocab.keep_probs(sample)
    rng = np.random.default_rng(seed)
    shown = 0
    for tokens in stream:
        ids = subsample(vocab.encode(tokens), keep, rng)
        eff = reduced_windows(ids.size, window, rng)
        words = vocab.words
        click.echo("# " + " ".join(f"{words[i]}(w={e})" for i, e in zip(ids.tolist(), eff.tolist(), strict=False)))
        if arch == "skipgram":
            centres, contexts = skipgram_pairs_from_windows(ids, eff)
            rows = [f"{words[c]}\t->\t{words[x]}" for c, x in zip(centres.tolist(), contexts.tolist(), strict=False)]
        else:
            rows = [
                f"{' '.join(words[i] for i in ctx)}\t->\t{words[c]}" for ctx, c in cbow_examples_from_windows(ids, eff)
            ]
        for row in rows[: limit - shown]:
            click.echo(row)
        shown += min(len(rows), limit - shown)
        if shown >= limit:
            break


@main.command()
@click.argument("model")
@click.option(
    "--analogies",
    multiple=True,
    help="Analogy file or set name (repeatable): replaces the default analogy sets; 'none' runs none."
    " Names: google, ca8-morphological, ca8-semantic.",
)
@click.option(
    "--pairs",
    "pair_sets",
    multiple=True,
    help="Word-pair file or set name (repeatable): replaces the default pair sets; 'none' runs none."
    " Names: ws353, simlex999, wordsim240.",
)
@opt.count_option("--restrict-vocab", default=30_000, help="Analogies use only the N most frequent words.")
@opt.json_option("Print the report as JSON.")
def evaluate(
    model: str, analogies: tuple[str, ...], pair_sets: tuple[str, ...], restrict_vocab: int, as_json: bool
) -> None:
    """Analogy accuracy and word-pair Spearman correlation.

    The default sets follow the model's language: Google analogies, WS353 and SimLex-999
    (shipped with gensim) for English; CA8 morphological and semantic analogies and
    wordsim-240 (shipped with embed) for Chinese (a jieba model, or a mostly-CJK vocabulary).
    --analogies replaces only the default analogy sets and --pairs only the pair sets.
    A set with fewer than 20 questions or pairs in the vocabulary is reported as skipped.
    """
    from embed.cli_vectors import open_model
    from embed.evaluate import evaluate as run_eval
    from embed.io import load

    vectors = load(open_model(model))
    report = run_eval(vectors, analogies=_sets(analogies), pairs=_sets(pair_sets), restrict_vocab=restrict_vocab)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    for line in _score_lines(report.to_dict()):
        click.echo(line)


def _sets(given: tuple[str, ...]) -> tuple[str, ...] | None:
    """None (the defaults) when nothing was given; () for 'none'."""
    if not given:
        return None
    return tuple(g for g in given if g.lower() != "none")


from embed.cli_classify import classify as _classify  # noqa: E402
from embed.cli_clean import clean as _clean  # noqa: E402
from embed.cli_index import index as _index  # noqa: E402
from embed.cli_index import serve as _serve  # noqa: E402
from embed.cli_plot import plot as _plot  # noqa: E402
from embed.cli_project import project as _project  # noqa: E402
from embed.cli_vectors import analogy as _analogy  # noqa: E402
from embed.cli_vectors import export as _export  # noqa: E402
from embed.cli_vectors import import_ as _import  # noqa: E402
from embed.cli_vectors import similar as _similar  # noqa: E402
from embed.cli_vectors import vectors as _vectors  # noqa: E402

main.add_command(_index)
main.add_command(_serve)
main.add_command(_plot)
main.add_command(_project)
main.add_command(_classify)
main.add_command(_clean)
for _command in (_import, _export, _similar, _analogy, _vectors):
    main.add_command(_command)

if __name__ == "__main__":
    main()
