"""The one small interface every training backend implements."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from embed.config import TrainConfig
from embed.corpus import CorpusStats
from embed.vectors import Vectors
from embed.vocab import Vocab

if TYPE_CHECKING:  # both import this module
    from embed.train.checkpoint import Checkpointer, Snapshot
    from embed.train.distributed import RowSync

Sentences: TypeAlias = Iterable[list[str]]
"""A re-iterable corpus of token lists: every pass yields the same sentences."""


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


@dataclass(frozen=True)
class RunOptions:
    """How a run trains, beside what it trains (:class:`TrainConfig`): snapshots, resuming, data parallelism.

    Every backend's ``fit`` takes one; :func:`embed.train.train` refuses the options a backend
    cannot honour (:func:`embed.train.check_run`) before any training starts.

    Attributes:
        checkpointer: write resumable snapshots while training (torch backend).
        resume: continue from a snapshot (:func:`embed.train.checkpoint.read_snapshot`).
        sync: train as one rank of a torch.distributed run (:mod:`embed.train.distributed`).
    """

    checkpointer: Checkpointer | None = None
    resume: Snapshot | None = None
    sync: RowSync | None = None

    @property
    def rank(self) -> int:
        """This process's rank in a distributed run; 0 otherwise (the rank that writes the model)."""
        return 0 if self.sync is None else self.sync.rank


@dataclass
class TrainResult:
    """Trained vectors and how they were trained; :func:`embed.io.model_meta` turns it into ``meta.json``.

    ``config``, ``source``, ``corpus_stats`` and ``started`` describe the run: the backends set
    ``config``, :func:`embed.train.train` the corpus fields and its start time.
    """

    vectors: Vectors
    vocab: Vocab
    epochs: list[EpochStats] = field(default_factory=list)
    train_seconds: float = 0.0
    vocab_seconds: float = 0.0
    backend_info: dict[str, Any] = field(default_factory=dict)
    config: TrainConfig = field(default_factory=TrainConfig)
    source: str = "corpus"
    corpus_stats: CorpusStats = field(default_factory=CorpusStats)
    started: float = field(default_factory=time.time)

    @property
    def total_seconds(self) -> float:
        return self.vocab_seconds + self.train_seconds

    @property
    def words_per_sec(self) -> float:
        """Raw corpus tokens x epochs / wall time, vocabulary pass included (as in ANCHORS.md)."""
        return self.vocab.total_tokens * len(self.epochs) / max(self.total_seconds, 1e-9)

    def epochs_as_dicts(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.epochs]


SINGLE_RUN = RunOptions()
"""A plain run: no snapshots, no resuming, one process."""


class Trainer(Protocol):
    """A backend: trains vectors for ``vocab`` from a re-iterable corpus of token lists.

    ``run`` has been checked against ``config`` by :func:`embed.train.check_run`: a backend
    honours what it is given and raises nothing about the combination.
    """

    name: str

    def fit(
        self, corpus: Sentences, vocab: Vocab, config: TrainConfig, callbacks: Callbacks, run: RunOptions = SINGLE_RUN
    ) -> TrainResult: ...


class ProgressCorpus:
    """Wraps a re-iterable corpus and reports raw tokens handed out, per epoch."""

    def __init__(self, corpus: Iterable[list[str]], callbacks: Callbacks, every: int = 512) -> None:
        self.corpus = corpus
        self.callbacks = callbacks
        self.every = every
        self.epoch = -1

    def __iter__(self) -> Iterator[list[str]]:
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
