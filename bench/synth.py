"""A synthetic model directory: ``n`` words x ``dim`` dims, clustered like real embeddings.

Words are ``w000000 ...``; vectors are cluster centres plus noise (a Gaussian mixture), so
neighbourhoods have structure and an approximate index has something realistic to miss.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embed.io import save_model_dir
from embed.vectors import Vectors


def synthetic_vectors(n: int = 100_000, dim: int = 100, clusters: int = 2_000, seed: int = 0) -> Vectors:
    """``n`` clustered float32 vectors ``(n, dim)`` with counts falling off like Zipf's law."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, size=n)
    matrix = centres[labels] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    words = [f"w{i:06d}" for i in range(n)]
    counts = (1e7 / np.arange(1, n + 1)).astype(np.int64) + 1
    return Vectors.from_arrays(words, matrix, counts=counts.tolist())


def write_model(out: str | Path, n: int = 100_000, dim: int = 100, seed: int = 0) -> Path:
    """Write the synthetic model directory at ``out`` (replacing it)."""
    vectors = synthetic_vectors(n, dim, seed=seed)
    meta = {"params": {"synthetic": True, "n": n, "dim": dim, "seed": seed}}
    return save_model_dir(out, vectors, meta, overwrite=True)
