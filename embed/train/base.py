"""The one small interface every training backend implements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from embed.config import TrainConfig
from embed.vectors import Vectors
from embed.vocab import Vocab


@dataclass
class EpochStats:
    """One finished epoch.

    ``loss`` is the mean negative-sampling loss per example on a fixed probe sample
    (see :mod:`embed.train.loss`), measured with the weights at the end of the epoch.
    """

    epoch: int
    loss: float
    words: int
    seconds: float
    words_per_sec: float


class Callbacks:
    """Progress hooks; the CLI subclasses this to draw a progress bar. All no-ops here."""

    def on_train_begin(self, total_words: int, epochs: int) -> None:
        """``total_words`` raw corpus tokens per epoch."""

    def on_progress(self, epoch: int, words: int) -> None:
        """``words`` raw tokens of ``epoch`` (0-based) handed to the trainer so far."""

    def on_epoch_end(self, stats: EpochStats) -> None:
        """Called once per epoch with its loss and speed."""


@dataclass
class TrainResult:
    vectors: Vectors
    vocab: Vocab
    epochs: list[EpochStats] = field(default_factory=list)
    train_seconds: float = 0.0
    vocab_seconds: float = 0.0
    backend_info: dict[str, Any] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return self.vocab_seconds + self.train_seconds

    @property
    def words_per_sec(self) -> float:
        """Raw corpus tokens x epochs / wall time, vocabulary pass included (as in ANCHORS.md)."""
        return self.vocab.total_tokens * len(self.epochs) / max(self.total_seconds, 1e-9)

    def epochs_as_dicts(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.epochs]


class Trainer(Protocol):
    """A backend: trains vectors for ``vocab`` from a re-iterable corpus of token lists."""

    name: str

    def fit(
        self, corpus: Iterable[list[str]], vocab: Vocab, config: TrainConfig, callbacks: Callbacks
    ) -> TrainResult: ...


class ProgressCorpus:
    """Wraps a re-iterable corpus and reports raw tokens handed out, per epoch."""

    def __init__(self, corpus: Iterable[list[str]], callbacks: Callbacks, every: int = 512) -> None:
        self.corpus = corpus
        self.callbacks = callbacks
        self.every = every
        self.epoch = -1

    def __iter__(self):
        self.epoch += 1
        words = 0
        n = 0
        cb = self.callbacks
        for tokens in self.corpus:
            words += len(tokens)
            n += 1
            if n % self.every == 0:
                cb.on_progress(self.epoch, words)
            yield tokens
        cb.on_progress(self.epoch, words)
