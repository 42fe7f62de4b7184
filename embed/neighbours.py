"""Exact nearest neighbours by blocked matrix products, and the query vectors gensim uses.

No FAISS here (that lives in :mod:`embed.index`): the exact top-k table for every word is
one pass of ``block x vocab`` matrix products with a top-k per block, so memory stays at
``block * vocab`` floats while the whole vocabulary is covered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from embed.errors import ConfigError

if TYPE_CHECKING:
    from embed.vectors import Vectors

logger = logging.getLogger(__name__)

Metric = Literal["cosine", "euclidean"]
METRICS: tuple[str, ...] = ("cosine", "euclidean")


def check_metric(metric: str) -> None:
    """Raises ConfigError for anything but 'cosine' or 'euclidean'."""
    if metric not in METRICS:
        raise ConfigError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32 ``(n, dim)``.

    >>> normalise(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.ascontiguousarray(m / np.where(norms == 0, 1, norms), dtype=np.float32)


def exact_topk(
    matrix: np.ndarray,
    k: int,
    metric: Metric = "cosine",
    block: int = 2048,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact ``k`` nearest other words of every row of ``matrix``.

    Args:
        matrix: ``(n, dim)`` vectors. Cosine works on unit rows; Euclidean on raw rows.
        k: neighbours per row (at most ``n - 1``).
        block: rows per matrix product; memory is ``block * n * 4`` bytes.
        threads: torch intra-op threads for the products (None: leave as is).
        progress: called with ``(rows_done, n)`` after each block.

    Returns:
        ``ids`` int32 ``(n, k)`` and ``scores`` float32 ``(n, k)``, best first: cosine
        similarity (descending) or Euclidean distance (ascending). A row never lists itself.

    Raises:
        ConfigError: bad ``k`` or metric.
    """
    import torch  # lazily: only index building needs it

    check_metric(metric)
    n = matrix.shape[0]
    if not 1 <= k <= n - 1:
        raise ConfigError(f"k must be between 1 and {n - 1} (vocabulary size - 1), got {k}")
    if threads is not None:
        torch.set_num_threads(threads)
    base = normalise(matrix) if metric == "cosine" else np.ascontiguousarray(matrix, dtype=np.float32)
    x = torch.from_numpy(base)
    sq = (x * x).sum(1)
    ids = np.empty((n, k), dtype=np.int32)
    scores = np.empty((n, k), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, n, block):
            stop = min(start + block, n)
            prod = x[start:stop] @ x.T  # (b, n)
            rows = torch.arange(stop - start)
            if metric == "cosine":
                prod[rows, rows + start] = -torch.inf  # a word is not its own neighbour
                val, idx = torch.topk(prod, k, dim=1, largest=True, sorted=True)
            else:
                # |a|^2 is constant along a row, so rank by |b|^2 - 2ab (one fused op) and add it after.
                part = prod.mul_(-2.0).add_(sq[None, :])
                part[rows, rows + start] = torch.inf
                val, idx = torch.topk(part, k, dim=1, largest=False, sorted=True)
                val = val.add_(sq[start:stop, None]).clamp_min_(0).sqrt_()
            ids[start:stop] = idx.numpy()
            scores[start:stop] = val.numpy()
            if progress is not None:
                progress(stop, n)
    return ids, scores


def query_vector(vectors: "Vectors", positive: Sequence[str], negative: Sequence[str], metric: Metric) -> np.ndarray:
    """The ``(dim,)`` float32 query for ``positive``/``negative`` words, as ``Vectors.most_similar`` builds it.

    Cosine (gensim's rule): the weighted mean of unit vectors (+1 positive, -1 negative),
    scaled to unit length. Euclidean: ``sum(positive) - sum(negative)`` of raw vectors.

    Raises:
        NotInVocabError: a word is unknown.
        ConfigError: no words, or a bad metric.
    """
    check_metric(metric)
    if not positive and not negative:
        raise ConfigError("a query needs at least one positive or negative word")
    rows_pos = [vectors.index(w) for w in positive]
    rows_neg = [vectors.index(w) for w in negative]
    m = vectors.matrix
    if metric == "euclidean":
        q = m[rows_pos].sum(0) if rows_pos else np.zeros(vectors.dim, np.float32)
        return np.asarray(q - m[rows_neg].sum(0) if rows_neg else q, dtype=np.float32)
    unit = normalise(m[rows_pos + rows_neg])
    weights = np.array([1.0] * len(rows_pos) + [-1.0] * len(rows_neg), dtype=np.float32)
    mean = (weights[:, None] * unit).sum(0) / len(weights)
    return normalise(mean[None, :])[0]
