"""Training entry point: corpus -> vocabulary -> backend -> :class:`TrainResult`."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable

from embed.config import TrainConfig
from embed.corpus import Corpus, TokenSpool
from embed.errors import ConfigError
from embed.train.base import Callbacks, EpochStats, Trainer, TrainResult
from embed.train.checkpoint import Checkpointer, Snapshot
from embed.train.distributed import RowSync
from embed.vocab import Vocab

__all__ = ["train", "get_trainer", "Callbacks", "EpochStats", "TrainResult", "Trainer"]

logger = logging.getLogger(__name__)


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
    """
    config = config or TrainConfig()
    callbacks = callbacks or Callbacks()
    if isinstance(corpus, (str, os.PathLike)):
        corpus = Corpus(corpus, tokenizer=config.tokenizer, workers=config.workers)
    trainer = get_trainer(config.backend)
    if sync is not None and config.backend != "torch":
        raise ConfigError("--distributed needs --backend torch")
    if sync is not None and (checkpointer is not None or resume is not None):
        raise ConfigError("--distributed cannot be combined with --checkpoint-every/--resume yet; checkpoint single-process runs")
    if (checkpointer is not None or resume is not None) and config.backend != "torch":
        raise ConfigError("checkpoints and --resume need --backend torch (gensim's own save format is pickle, which embed does not write)")
    t0 = time.perf_counter()
    source = corpus.source if isinstance(corpus, Corpus) else "corpus"
    # Tokenize once: the vocabulary pass spools the tokens; every later pass reads them back.
    spool = TokenSpool(corpus)
    try:
        vocab = Vocab.build(spool, min_count=config.min_count, max_vocab=config.max_vocab, source=source, count_limit=config.count_limit)
        vocab_seconds = time.perf_counter() - t0
        result = _fit(trainer, spool, vocab, config, callbacks, checkpointer, resume, sync, source)
    finally:
        spool.close()
    result.vocab_seconds = vocab_seconds
    result.vectors.meta.setdefault("tokenizer", config.tokenizer)  # case folding and evaluation defaults follow it
    return result


def _fit(
    trainer: Trainer, corpus: TokenSpool, vocab: Vocab, config: TrainConfig, callbacks: Callbacks,
    checkpointer: Checkpointer | None, resume: Snapshot | None, sync: RowSync | None, source: str,
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
