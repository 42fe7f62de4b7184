"""Training entry point: corpus -> vocabulary -> backend -> :class:`TrainResult`."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable

import numpy as np

from embed.config import TrainConfig
from embed.corpus import Corpus, TokenSpool
from embed.errors import ConfigError
from embed.train.base import Callbacks, EpochStats, Trainer, TrainResult
from embed.train.checkpoint import Checkpointer, Snapshot
from embed.train.distributed import RowSync
from embed.vocab import Vocab

__all__ = ["train", "get_trainer", "Callbacks", "DivergedError", "EpochStats", "TrainResult", "Trainer"]

logger = logging.getLogger(__name__)


class DivergedError(ConfigError):
    """The weights went non-finite (NaN or inf): the learning rate is too high for this corpus."""


class _DivergenceGuard(Callbacks):
    """Passes the hooks on, but stops training at the first epoch whose probe loss is not finite.

    The probe loss (:mod:`embed.train.loss`) is a numerically stable function of the
    weights, so NaN or inf there means NaN or inf in them; stopping at once saves the
    remaining epochs, which cannot recover.
    """

    def __init__(self, inner: Callbacks, alpha: float) -> None:
        self.inner = inner
        self.alpha = alpha

    def on_train_begin(self, total_words: int, epochs: int) -> None:
        self.inner.on_train_begin(total_words, epochs)

    def on_progress(self, epoch: int, words: int) -> None:
        self.inner.on_progress(epoch, words)

    def on_epoch_end(self, stats: EpochStats) -> None:
        if not math.isfinite(stats.loss):
            raise DivergedError(
                f"training diverged at epoch {stats.epoch + 1} (loss {stats.loss}); lower --alpha (now {self.alpha:g})"
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
            f"training diverged: the vector of {word!r}{others} is not finite; lower --alpha (now {alpha:g})"
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
                raise ConfigError("the torch backend is not available in this version; use --backend gensim") from None
            raise
        return TorchTrainer()
    raise ConfigError(f"backend must be 'gensim' or 'torch', got {backend!r}")


def train(
    corpus: Corpus | Iterable[list[str]] | str | os.PathLike[str],
    config: TrainConfig | None = None,
    callbacks: Callbacks | None = None,
    *,
    checkpointer: Checkpointer | None = None,
    resume: Snapshot | None = None,
    sync: RowSync | None = None,
) -> TrainResult:
    """Build the vocabulary in one streaming pass, then train with ``config.backend``.

    Args:
        corpus: a :class:`Corpus`, a path (read with ``config.tokenizer``), or any
            re-iterable of token lists.
        checkpointer: write resumable snapshots while training (torch backend only).
        resume: continue from a snapshot (:func:`embed.train.checkpoint.read_snapshot`);
            ``config`` must be the snapshot's and the corpus the one it was trained on.
        sync: train as one rank of a torch.distributed run (:mod:`embed.train.distributed`).

    Raises:
        CorpusError, VocabError, ConfigError: bad input, with a message naming the fix.
        DivergedError: the loss or the vectors went NaN/inf (checked after every epoch).
    """
    config = config or TrainConfig()
    callbacks = _DivergenceGuard(callbacks or Callbacks(), config.start_alpha)
    if isinstance(corpus, (str, os.PathLike)):
        corpus = Corpus(corpus, tokenizer=config.tokenizer, workers=config.workers)
    trainer = get_trainer(config.backend)
    if sync is not None and config.backend != "torch":
        raise ConfigError("--distributed needs --backend torch")
    if sync is not None and config.subwords:
        raise ConfigError(
            "--distributed does not train subword models yet (its row sync covers word rows only); drop --subwords or --distributed"
        )
    if sync is not None and (checkpointer is not None or resume is not None):
        raise ConfigError(
            "--distributed cannot be combined with --checkpoint-every/--resume yet; checkpoint single-process runs"
        )
    if (checkpointer is not None or resume is not None) and config.backend != "torch":
        raise ConfigError(
            "checkpoints and --resume need --backend torch (gensim's own save format is pickle, which embed does not write)"
        )
    t0 = time.perf_counter()
    source = corpus.source if isinstance(corpus, Corpus) else "corpus"
    # Tokenize once: the vocabulary pass spools the tokens; every later pass reads them back.
    spool = TokenSpool(corpus)
    try:
        vocab = Vocab.build(
            spool, min_count=config.min_count, max_vocab=config.max_vocab, source=source, count_limit=config.count_limit
        )
        vocab_seconds = time.perf_counter() - t0
        result = _fit(trainer, spool, vocab, config, callbacks, checkpointer, resume, sync, source)
        check_finite(result, config.start_alpha)
    finally:
        spool.close()
    result.vocab_seconds = vocab_seconds
    result.vectors.meta.setdefault("tokenizer", config.tokenizer)  # case folding and evaluation defaults follow it
    return result


def _fit(
    trainer: Trainer,
    corpus: TokenSpool,
    vocab: Vocab,
    config: TrainConfig,
    callbacks: Callbacks,
    checkpointer: Checkpointer | None,
    resume: Snapshot | None,
    sync: RowSync | None,
    source: str,
) -> TrainResult:
    if resume is not None:
        resume.check_vocab(vocab, source)
        result = trainer.fit(corpus, vocab, config, callbacks, checkpointer=checkpointer, resume=resume)  # type: ignore[call-arg]
    elif checkpointer is not None:
        result = trainer.fit(corpus, vocab, config, callbacks, checkpointer=checkpointer)  # type: ignore[call-arg]
    elif sync is not None:
        result = trainer.fit(corpus, vocab, config, callbacks, sync=sync)  # type: ignore[call-arg]
    else:
        result = trainer.fit(corpus, vocab, config, callbacks)
    return result
