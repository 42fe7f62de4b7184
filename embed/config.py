"""Frozen, validated configuration passed whole to trainers."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from embed.errors import ConfigError

Arch = Literal["skipgram", "cbow"]
Backend = Literal["gensim", "torch"]
Tokenizer = Literal["simple", "whitespace", "jieba"]

ARCHES: tuple[str, ...] = ("skipgram", "cbow")
MAX_DIM = 10_000
BACKENDS: tuple[str, ...] = ("gensim", "torch")
# --distributed's ways to combine the ranks' row changes (embed.train.distributed); the default,
# SYNC_AUTO, picks one of them by architecture and world size (distributed.resolve_mode).
SYNC_MODES: tuple[str, ...] = ("average", "sum", "capped", "momentum")
SYNC_AUTO = "auto"
# mode="capped": a row's summed change is divided by max(1, ranks that touched it / SYNC_CAP). Summing
# 2 ranks' steps kept quality (full enwiki: +0.9 analogy points), but at 4 and 8 ranks the sum diverged
# (3M tokens: analogy 0.0%, WS353 0.10; BENCHMARKS.md, issue 20), as 4-8 stale steps on frequent rows.
SYNC_CAP = 2
# The torch backend's chunk of the token cache, and a data-parallel round's unit (distributed.RowSync.chunk_tokens).
CHUNK_TOKENS = 200_000


def momentum_round_tokens(single: int, world: int) -> int:
    """mode="momentum": the tokens of all ``world`` ranks between two syncs, for a single process's chunk of
    ``single`` tokens: ``2 single / W`` (each rank's chunk is a ``1/W`` share of it; distributed.RowSync.chunk_tokens),
    as block momentum keeps quality only with many syncs.

    >>> momentum_round_tokens(CHUNK_TOKENS, 2), momentum_round_tokens(CHUNK_TOKENS, 8)
    (200000, 50000)
    """
    return 2 * single // world


TOKENIZERS: tuple[str, ...] = ("simple", "whitespace", "jieba")

# How the library's messages name the options of a run (TrainConfig fields, RunOptions): the
# words OptionError puts into its template's slots. The CLI puts its flags there instead.
OPTION_NAMES: dict[str, str] = {
    "alpha": "alpha",
    "backend_gensim": "the gensim backend",
    "backend_torch": "the torch backend",
    "checkpoint": "checkpoints",
    "resume": "resuming",
    "subwords": "subwords",
    "sync": "distributed training",
    "sync_every": "RowSync.every",
    "sync_mode": "RowSync.mode",
}


class OptionError(ConfigError):
    """A ConfigError whose message names options through the ``{slots}`` of a template.

    ``str()`` names them as the library does (:data:`OPTION_NAMES`); :meth:`render` names them
    otherwise, e.g. as the CLI's flags. ``values`` fill the other fields of the template.

    >>> err = OptionError("training diverged; lower {alpha} (now {now:g})", now=0.5)
    >>> str(err)
    'training diverged; lower alpha (now 0.5)'
    >>> err.render({"alpha": "--alpha"})
    'training diverged; lower --alpha (now 0.5)'
    """

    def __init__(self, template: str, **values: object) -> None:
        self.template = template
        self.values = values
        super().__init__(self.render(OPTION_NAMES))

    def render(self, names: Mapping[str, str]) -> str:
        """The message with each option slot filled from ``names`` (the library's word where it has none)."""
        return self.template.format_map({**OPTION_NAMES, **names, **self.values})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a word2vec training run.

    Defaults follow word2vec.c / gensim: skip-gram, 100 dims, window 5, 5 negatives,
    min-count 5, sample 1e-3, 5 epochs; ``alpha`` defaults to 0.025 for skip-gram and
    0.05 for CBOW when left as ``None``.

    ``subwords=True`` trains fastText's model (:mod:`embed.subwords`): each word's input
    vector is the mean of its own row and its character ``minn``..``maxn``-gram rows, hashed
    into ``bucket`` rows (fastText's defaults 3, 6, 2,000,000; for jieba-tokenised Chinese
    use 1 and 2, see BENCHMARKS.md).
    """

    arch: Arch = "skipgram"
    dim: int = 100
    window: int = 5
    negative: int = 5
    min_count: int = 5
    max_vocab: int | None = None
    count_limit: int | None = None
    sample: float = 1e-3
    epochs: int = 5
    alpha: float | None = None
    min_alpha: float = 1e-4
    workers: int = 2
    seed: int = 1
    tokenizer: Tokenizer = "simple"
    backend: Backend = "gensim"
    device: str = "cpu"
    batch_size: int = 4096
    subwords: bool = False
    minn: int = 3
    maxn: int = 6
    bucket: int = 2_000_000

    def __post_init__(self) -> None:
        check_choices(self, arch=ARCHES, backend=BACKENDS, tokenizer=TOKENIZERS)
        check_at_least_one(self, "dim", "window", "epochs", "workers", "min_count", "batch_size")
        if self.dim > MAX_DIM:
            raise ConfigError(
                f"dim must be at most {MAX_DIM:,} (word vectors use 50-1,000), got {self.dim:,}; lower --dim"
            )
        if self.negative < 1:
            raise ConfigError(f"negative must be >= 1 (negative sampling is the only objective), got {self.negative}")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ConfigError(f"device must be one of cpu, cuda, auto; got {self.device!r}")
        if self.backend == "gensim" and self.device != "cpu":
            raise ConfigError(
                f"device={self.device!r} applies to the torch backend only (gensim trains on CPU); "
                "drop --device or use --backend torch"
            )
        if self.max_vocab is not None and self.max_vocab < 1:
            raise ConfigError(f"max_vocab must be >= 1 or unset, got {self.max_vocab}")
        if self.count_limit is not None and self.count_limit < 1000:
            raise ConfigError(f"count_limit must be >= 1000 distinct words or unset, got {self.count_limit}")
        if not 0 <= self.sample < 1:
            raise ConfigError(f"sample must be in [0, 1), got {self.sample}; 0 disables subsampling")
        if self.alpha is not None and not 0 < self.alpha <= 1:
            raise ConfigError(f"alpha must be in (0, 1], got {self.alpha}")
        if not 0 <= self.min_alpha <= self.start_alpha:
            raise ConfigError(f"min_alpha must be in [0, alpha], got {self.min_alpha}")
        self._check_subwords()

    def _check_subwords(self) -> None:
        from embed.subwords import check_spec

        if self.subwords:
            check_spec(self.minn, self.maxn, self.bucket)
            return
        for name, default in (("minn", 3), ("maxn", 6), ("bucket", 2_000_000)):
            if getattr(self, name) != default:
                raise ConfigError(
                    f"{name} applies to subword training only; set subwords=True or leave {name} at {default:,}"
                )

    @property
    def start_alpha(self) -> float:
        """The initial learning rate: ``alpha`` or the word2vec default for the architecture."""
        if self.alpha is not None:
            return self.alpha
        return 0.025 if self.arch == "skipgram" else 0.05

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["alpha"] = self.start_alpha
        if not self.subwords:  # word-only models record what they always did
            for name in ("subwords", "minn", "maxn", "bucket"):
                del d[name]
        return d


def check_choices(config: object, **allowed: tuple[str, ...]) -> None:
    """Raise ConfigError for the first field ``NAME=CHOICES`` in ``allowed`` whose value on ``config`` is not a choice.

    >>> from types import SimpleNamespace
    >>> config = SimpleNamespace(arch="cbow", tokenizer="bpe")
    >>> check_choices(config, arch=ARCHES)
    >>> check_choices(config, arch=ARCHES, tokenizer=TOKENIZERS)
    Traceback (most recent call last):
    ...
    embed.errors.ConfigError: tokenizer must be one of simple, whitespace, jieba; got 'bpe'
    """
    for name, choices in allowed.items():
        value = getattr(config, name)
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def check_at_least_one(config: object, *names: str) -> None:
    """Raise ConfigError naming the first of the fields ``names`` of ``config`` that is below 1."""
    for name in names:
        value = getattr(config, name)
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
