"""Training entry point: corpus -> vocabulary -> backend -> :class:`TrainResult`."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable

from embed.config import TrainConfig
from embed.corpus import Corpus
from embed.errors import ConfigError
from embed.train.base import Callbacks, EpochStats, Trainer, TrainResult
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
) -> TrainResult:
    """Build the vocabulary in one streaming pass, then train with ``config.backend``.

    Args:
        corpus: a :class:`Corpus`, a path (read with ``config.tokenizer``), or any
            re-iterable of token lists.

    Raises:
        CorpusError, VocabError, ConfigError: bad input, with a message naming the fix.
    """
    config = config or TrainConfig()
    callbacks = callbacks or Callbacks()
    if isinstance(corpus, (str, os.PathLike)):
        corpus = Corpus(corpus, tokenizer=config.tokenizer)
    trainer = get_trainer(config.backend)
    t0 = time.perf_counter()
    source = corpus.source if isinstance(corpus, Corpus) else "corpus"
    vocab = Vocab.build(corpus, min_count=config.min_count, max_vocab=config.max_vocab, source=source, count_limit=config.count_limit)
    vocab_seconds = time.perf_counter() - t0
    result = trainer.fit(corpus, vocab, config, callbacks)
    result.vocab_seconds = vocab_seconds
    return result
