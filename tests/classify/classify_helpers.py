"""Synthetic labelled data for the classifier tests: a planted keyword decides the label."""

from __future__ import annotations

import random

import numpy as np

from embed.classify.config import ClassifierConfig
from embed.vectors import Vectors

KEYS = {"pos": "splendid", "neg": "dreadful", "mid": "average"}
FILLER = [f"w{i}" for i in range(60)]


def planted(
    n: int, seed: int, labels: tuple[str, ...] = ("pos", "neg", "mid"), max_len: int = 10
) -> tuple[list[str], list[str]]:
    """``n`` texts of random filler words with one label keyword inserted at a random place."""
    rng = random.Random(seed)
    texts, labs = [], []
    for _ in range(n):
        lab = rng.choice(labels)
        words = rng.choices(FILLER, k=rng.randint(0, max_len))
        words.insert(rng.randint(0, len(words)), KEYS[lab])
        texts.append(" ".join(words))
        labs.append(lab)
    return texts, labs


def planted_vectors() -> Vectors:
    """16-dim vectors for the filler words and the keywords, seeded (normal, sigma 0.3)."""
    words = [*FILLER, *KEYS.values()]
    return Vectors.from_arrays(words, np.random.default_rng(0).normal(0, 0.3, (len(words), 16)).astype(np.float32))


def small_config(**kw: object) -> ClassifierConfig:
    """A tiny, fast model: 16 dims, 8 maps per window, 1 thread."""
    base: dict[str, object] = dict(dim=16, num_filters=8, hidden=16, epochs=6, threads=1, batch_size=25)
    base.update(kw)
    return ClassifierConfig(**base)  # type: ignore[arg-type]
