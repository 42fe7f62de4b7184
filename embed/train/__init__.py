"""Training entry point: corpus -> vocabulary -> backend -> :class:`TrainResult`."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from embed.config import OptionError, TrainConfig
from embed.corpus import Corpus, TokenSpool
from embed.errors import ConfigError
from embed.train import distributed
from embed.train.base import SINGLE_RUN, Callbacks, EpochStats, RunOptions, Trainer, TrainResult
from embed.train.distributed import RowSync, env_world, process_group, resolve_mode
from embed.vocab import Vocab

if TYPE_CHECKING:
    from embed.train.checkpoint import Snapshot

__all__ = [
    "train",
    "check_run",
    "start_run",
    "get_trainer",
    "Callbacks",
    "DivergedError",
    "EpochStats",
    "RunOptions",
    "TrainResult",
    "Trainer",
]

logger = logging.getLogger(__name__)


class DivergedError(OptionError):
    """The weights blew up (NaN, inf, or a probe loss far above an untrained model's): the learning rate or
    the batch is too large for this corpus."""


# An untrained model's probe loss is (negative + 1) ln 2 (every score 0; 4.16 for 5 negatives) and
# training lowers it. An epoch ending above this many times that has blown up, though still finite:
# torch skip-gram with 8,192-pair batches on the bundled Bible ended its first epoch at loss ~1e13-1e28
# with every neighbour at cosine 1.00, and went on to write the model (2026-12-02, BENCHMARKS.md issue 17).
# gensim at --alpha 1 (the most the CLI takes) ends at ~1,080 on the first 3,000 KJV lines: refused too.
DIVERGED_LOSS_FACTOR = 10.0


class _DivergenceGuard(Callbacks):
    """Passes the hooks on, but stops training at the first epoch whose probe loss is not finite, or
    above :data:`DIVERGED_LOSS_FACTOR` times an untrained model's.

    The probe loss (:mod:`embed.train.loss`) is a numerically stable function of the
    weights, so NaN or inf there means NaN or inf in them; stopping at once saves the
    remaining epochs, which cannot recover.
    """

    def __init__(self, inner: Callbacks, alpha: float, negative: int) -> None:
        self.inner = inner
        self.alpha = alpha
        self.limit = DIVERGED_LOSS_FACTOR * (negative + 1) * math.log(2)

    def on_train_begin(self, total_words: int, epochs: int) -> None:
        self.inner.on_train_begin(total_words, epochs)

    def on_progress(self, epoch: int, words: int) -> None:
        self.inner.on_progress(epoch, words)

    def on_epoch_end(self, stats: EpochStats) -> None:
        if not math.isfinite(stats.loss) or stats.loss > self.limit:
            raise DivergedError(
                "training diverged at epoch {epoch} (loss {loss:.4g}); lower {alpha} (now {now:g})",
                epoch=stats.epoch + 1,
                loss=stats.loss,
                now=self.alpha,
            )
        self.inner.on_epoch_end(stats)


def check_finite(result: TrainResult, alpha: float) -> None:
    """Refuse vectors holding NaN or inf, naming the first such word.

    Raises:
        DivergedError: some row is not finite.
    """
    matrix = result.vectors.matrix
    step = 65_536  # rows per block: no full-size boolean copy of a large matrix
    bad = np.concatenate(
        [np.flatnonzero(~np.isfinite(matrix[i : i + step]).all(axis=1)) + i for i in range(0, len(matrix), step)]
        or [np.zeros(0, np.int64)]
    )
    if bad.size:
        word = result.vectors.words[int(bad[0])]
        others = f" and {bad.size - 1:,} other words" if bad.size > 1 else ""
        raise DivergedError(
            "training diverged: the vector of {word}{others} is not finite; lower {alpha} (now {now:g})",
            word=repr(word),
            others=others,
            now=alpha,
        )


def get_trainer(backend: str) -> Trainer:
    """The trainer for ``backend`` (``gensim`` or ``torch``)."""
    if backend == "gensim":
        from embed.train.gensim_backend import GensimTrainer

        return GensimTrainer()
    if backend == "torch":
        try:
            from embed.train.torch_backend import TorchTrainer
        except ModuleNotFoundError as exc:
            if exc.name == "embed.train.torch_backend":
                raise OptionError("the torch backend is not available in this version; use {backend_gensim}") from None
            raise
        return TorchTrainer()
    raise ConfigError(f"backend must be 'gensim' or 'torch', got {backend!r}")


def check_run(config: TrainConfig, run: RunOptions, source: str = "corpus") -> None:
    """Refuse run options that ``config`` cannot honour: the one place these combinations are checked.

    ``source`` is the corpus path (``-``: standard input, which cannot be read again on resume).

    Raises:
        OptionError: checkpoints or resuming without the torch backend or on standard input;
            distributed training without the torch backend, with subwords or on standard input;
            resuming a checkpoint of another world size or sync setting.
    """
    checkpoints = run.checkpointer is not None or run.resume is not None
    if checkpoints and config.backend != "torch":
        raise OptionError(
            "{checkpoint} and {resume} need {backend_torch}"
            " (gensim's own save format is pickle, which embed does not write)"
        )
    if checkpoints and source == "-":
        raise OptionError(
            "{checkpoint}/{resume} need a corpus file or directory, not stdin (it cannot be read again on resume)"
        )
    if run.resume is not None:
        _check_resume_world(run.resume, run.sync)
    if run.sync is None:
        return
    if config.backend != "torch":
        raise OptionError("{sync} needs {backend_torch}")
    if config.subwords:
        raise OptionError(
            "{sync} does not train subword models yet (its row sync covers word rows only); drop {subwords} or {sync}"
        )
    if source == "-":
        raise OptionError("{sync} needs a corpus file or directory, not stdin (each rank reads its own share of it)")


def _check_resume_world(resume: Snapshot, sync: RowSync | None) -> None:
    """A snapshot continues only with the world size, and the sync settings, that wrote it."""
    saved, now = resume.world_size, 1 if sync is None else sync.world

    def ranks(n: int) -> str:
        return "a single process" if n == 1 else f"{n} ranks"

    if saved != now:
        how = "without torchrun and {sync}" if saved == 1 else f"with torchrun --nproc-per-node {saved} and {{sync}}"
        raise OptionError(
            "{path}: this checkpoint was written by {saved_ranks} and this run has {now_ranks};"
            " resume it with the same world size ({how})".replace("{how}", how),
            path=resume.path,
            saved_ranks=ranks(saved),
            now_ranks=ranks(now),
        )
    if resume.distributed is not None and sync is not None:
        every, mode = resume.distributed["sync"]["every"], resume.distributed["sync"]["mode"]
        if (every, mode) != (sync.every, sync.mode):
            raise OptionError(
                "{path}: this checkpoint synced every {every} round(s) with mode {mode}, this run asks"
                " {now_every} and {now_mode}; resume with the checkpoint's {sync_every} and {sync_mode}",
                path=resume.path,
                every=every,
                mode=mode,
                now_every=sync.every,
                now_mode=sync.mode,
            )


@contextlib.contextmanager
def start_run(
    config: TrainConfig,
    source: str,
    run: RunOptions = SINGLE_RUN,
    *,
    distributed: bool = False,
    sync_every: int = 1,
    sync_mode: str = "auto",
) -> Iterator[RunOptions]:
    """``run``, checked by :func:`check_run`, for the block; ``distributed`` adds this rank's row sync.

    With ``distributed`` the block runs inside torchrun's process group
    (:func:`embed.train.distributed.process_group`), joined once the options passed the check,
    left after the block. ``source`` is the corpus path (``-``: standard input).

    Raises:
        OptionError: what :func:`check_run` refuses; ``distributed`` outside torchrun.
    """
    if distributed:  # checked before joining: a refused run never waits for its peers
        sync_mode = resolve_mode(sync_mode, config.arch, env_world())  # "auto": by architecture and world size
        run = dataclasses.replace(run, sync=RowSync(sync_every, sync_mode, world=env_world()))
        # What concerns the snapshot (its world size) is checked after joining, by every rank together
        # (train -> distributed.open_shard), so that each rank prints it before torchrun stops the others.
        check_run(config, dataclasses.replace(run, resume=None), source)
    else:
        check_run(config, run, source)
    if not distributed:
        yield run
        return
    with process_group(config.device, sync_every, sync_mode) as sync:
        yield dataclasses.replace(run, sync=sync)


def train(
    corpus: Corpus | Iterable[list[str]] | str | os.PathLike[str],
    config: TrainConfig | None = None,
    callbacks: Callbacks | None = None,
    *,
    run: RunOptions | None = None,
) -> TrainResult:
    """Build the vocabulary in one streaming pass, then train with ``config.backend``.

    Args:
        corpus: a :class:`Corpus`, a path (read with ``config.tokenizer``), or any
            re-iterable of token lists.
        run: snapshots, resuming or data-parallel training (:class:`RunOptions`); with
            ``run.resume``, ``config`` must be the snapshot's and the corpus the one it was trained on.

    Raises:
        CorpusError, VocabError, ConfigError: bad input, with a message naming the fix.
        OptionError: ``run`` asks what ``config.backend`` cannot do (:func:`check_run`).
        DivergedError: the loss or the vectors went NaN/inf (checked after every epoch).
    """
    config = config or TrainConfig()
    run = run or SINGLE_RUN
    started = time.time()
    source = _source(corpus)  # a path's Corpus reports the same str(path)
    if run.sync is None:  # a data-parallel run checks on every rank at once (distributed.open_shard)
        check_run(config, run, source)
    callbacks = _DivergenceGuard(callbacks or Callbacks(), config.start_alpha, config.negative)
    shard = None
    if run.sync is not None:  # this rank's share, once the ranks agree they run one training
        every = run.checkpointer.every if run.checkpointer is not None else None
        identity = distributed.run_identity(config, run.sync, every, run.resume)
        check = functools.partial(check_run, config, run, source)
        corpus = shard = distributed.open_shard(corpus, config, identity, run.sync, source, check)
    elif isinstance(corpus, (str, os.PathLike)):
        corpus = Corpus(corpus, tokenizer=config.tokenizer, workers=config.workers)
    trainer = get_trainer(config.backend)
    t0 = time.perf_counter()
    # Tokenize once: the vocabulary pass spools the tokens; every later pass reads them back.
    spool = TokenSpool(corpus)
    try:
        if shard is None:
            vocab = Vocab.build(
                spool,
                min_count=config.min_count,
                max_vocab=config.max_vocab,
                source=source,
                count_limit=config.count_limit,
            )
        else:
            assert run.sync is not None
            vocab = distributed.build_vocab(spool, shard, config, run.sync, source)
        vocab_seconds = time.perf_counter() - t0
        if run.resume is not None:
            run.resume.check_vocab(vocab, source)
        result = trainer.fit(spool, vocab, config, callbacks, run)
        check_finite(result, config.start_alpha)
    finally:
        spool.close()
    result.vocab_seconds = vocab_seconds
    result.started, result.source = started, source
    if isinstance(corpus, Corpus):
        result.corpus_stats = corpus.stats
    if shard is not None and run.sync is not None:
        result.corpus_stats = distributed.combined_stats(shard, run.sync) or result.corpus_stats
        distributed.finish(result.backend_info.get("distributed", {}), shard, run.sync)
    result.vectors.meta.setdefault("tokenizer", config.tokenizer)  # case folding and evaluation defaults follow it
    return result


def _source(corpus: object) -> str:
    """The corpus path (``-``: standard input) for messages, or ``corpus`` for token lists."""
    if isinstance(corpus, Corpus):
        return corpus.source
    return str(corpus) if isinstance(corpus, (str, os.PathLike)) else "corpus"
