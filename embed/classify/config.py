"""The frozen, validated configuration of a sentence classifier (saved as ``config.json``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from embed.config import TOKENIZERS, check_at_least_one, check_choices
from embed.errors import ConfigError

ClassifierArch = Literal["cnn", "lstm", "gru"]
EmbeddingMode = Literal["rand", "static", "non-static", "multichannel"]
Optimizer = Literal["adadelta", "adam"]

CLASSIFIER_ARCHES: tuple[str, ...] = ("cnn", "lstm", "gru")
MODES: tuple[str, ...] = ("rand", "static", "non-static", "multichannel")
OPTIMIZERS: tuple[str, ...] = ("adadelta", "adam")
CLASSIFIER_TOKENIZERS: tuple[str, ...] = TOKENIZERS


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything that defines a classifier and its training run.

    Defaults are Kim (2014)'s CNN: windows 3/4/5 x 100 maps, dropout 0.5, max-norm 3 on
    the output weights, batch 50, Adadelta (rho 0.95, eps 1e-6), 25 epochs, the best
    epoch on the dev split kept. RNNs (``lstm``/``gru``) default to Adam, lr 1e-3.

    ``mode``: ``rand`` learns embeddings from uniform(-0.25, 0.25); ``static`` keeps the
    pre-trained vectors frozen; ``non-static`` fine-tunes them; ``multichannel`` uses a
    frozen and a tuned copy (for the CNN exactly Kim's two channels with shared filters).

    ``normalize_vectors`` rescales every pre-trained vector to the expected length of an
    unknown word's uniform(-0.25, 0.25) vector (Kim matched the two scales; vectors from
    small corpora have frequent words 4x longer than rare ones, which cost 3.7 points of
    SST-2 accuracy here).

    ``pad_left``: the CNN pads ``widest - 1`` zeros before each sentence as well as after
    it, as Kim's code does, so a sentence's first words fall in as many windows as the
    others. Models saved before this option existed were trained without it.

    ``truncate``: training and dev texts over ``max_tokens`` keep their first
    ``max_tokens`` tokens (``fit`` records how many in ``info["truncated"]``) instead of
    being an error. It does not carry over to prediction: ``Classifier.predict`` and
    ``evaluate`` take their own ``truncate`` argument, so loading a model never changes
    which texts it refuses.
    """

    arch: ClassifierArch = "cnn"
    mode: EmbeddingMode = "rand"
    bidirectional: bool = False
    dim: int = 300
    filter_sizes: tuple[int, ...] = (3, 4, 5)
    num_filters: int = 100
    hidden: int = 150
    dropout: float = 0.5
    max_norm: float | None = 3.0
    batch_size: int = 50
    epochs: int = 25
    patience: int | None = None
    optimizer: Optimizer | None = None
    lr: float | None = None
    dev_fraction: float = 0.1
    normalize_vectors: bool = True
    pad_left: bool = True
    tokenizer: str = "simple"
    max_tokens: int = 1000
    truncate: bool = False
    seed: int = 1
    threads: int = 2

    def __post_init__(self) -> None:
        check_choices(self, arch=CLASSIFIER_ARCHES, mode=MODES, tokenizer=CLASSIFIER_TOKENIZERS)
        if self.optimizer is not None:
            check_choices(self, optimizer=OPTIMIZERS)
        object.__setattr__(self, "filter_sizes", tuple(int(k) for k in self.filter_sizes))
        check_at_least_one(self, "dim", "num_filters", "hidden", "batch_size", "epochs", "max_tokens", "threads")
        if not self.filter_sizes or min(self.filter_sizes) < 1:
            raise ConfigError(f"filter_sizes must be positive window widths, got {self.filter_sizes}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.max_norm is not None and self.max_norm <= 0:
            raise ConfigError(f"max_norm must be > 0 or unset, got {self.max_norm}")
        if not 0 < self.dev_fraction < 1:
            raise ConfigError(f"dev_fraction must be in (0, 1), got {self.dev_fraction}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"patience must be >= 1 or unset, got {self.patience}")
        if self.lr is not None and self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")

    @property
    def resolved_optimizer(self) -> str:
        """``optimizer`` or the default: Adadelta for the CNN (Kim), Adam for RNNs."""
        return self.optimizer or ("adadelta" if self.arch == "cnn" else "adam")

    @property
    def resolved_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        return 1.0 if self.resolved_optimizer == "adadelta" else 1e-3

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["filter_sizes"] = list(self.filter_sizes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassifierConfig:
        """Rebuild from ``to_dict`` output; unknown keys are an error (a newer embed wrote them)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown classifier config keys {unknown}; the model was written by a newer embed")
        return cls(**{"pad_left": False, **d})  # configs written before pad_left existed
