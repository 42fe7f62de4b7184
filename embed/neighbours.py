"""Exact nearest neighbours by blocked matrix products: all-pairs tables and query scans.

No FAISS here (that lives in :mod:`embed.index`): the exact top-k table for every word is
one pass of ``block x vocab`` matrix products with a top-k per block, so memory stays at
``block * vocab`` floats while the whole vocabulary is covered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np

from embed.errors import ConfigError

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
    with np.errstate(invalid="ignore"):  # a NaN/inf row (allow_nonfinite) stays NaN: the searcher never answers it
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
    base = normalise(matrix) if metric == "cosine" else np.array(matrix, dtype=np.float32)  # a writable copy for torch
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


def inverse_norms(norms: np.ndarray) -> np.ndarray:
    """``1 / norms``, 0 for zero rows (they score 0 against every query).

    >>> inverse_norms(np.array([2.0, 0.0], dtype=np.float32)).tolist()
    [0.5, 0.0]
    """
    nrm = np.asarray(norms, dtype=np.float32)
    return np.divide(1.0, nrm, out=np.zeros_like(nrm), where=nrm > 0)


def exact_search(
    matrix: np.ndarray,
    norms: np.ndarray,
    queries: np.ndarray,
    k: int,
    metric: Metric = "cosine",
    limit: int | None = None,
    block: int = 65_536,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` rows of ``matrix`` for every query: one matrix product per block of rows.

    Args:
        matrix: ``(n, dim)`` raw vectors (may be a read-only memmap: read block by block).
        norms: ``(n,)`` their L2 norms.
        queries: ``(q, dim)``; unit length for cosine.
        limit: search only the first ``limit`` rows (gensim's ``restrict_vocab``).

    Returns:
        ``ids`` int64 ``(q, k')`` and ``scores`` float32 ``(q, k')``, ``k' = min(k, n)``, best
        first: cosine similarity (descending; zero rows score 0) or Euclidean distance
        (ascending). Ties keep the lower row first.

    >>> m = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=np.float32)
    >>> ids, s = exact_search(m, np.linalg.norm(m, axis=1), np.array([[1.0, 0.0]]), 2)
    >>> ids.tolist(), [round(float(x), 3) for x in s[0]]
    ([[0, 2]], [1.0, 0.707])
    """
    check_metric(metric)
    n = matrix.shape[0] if limit is None else min(limit, matrix.shape[0])
    q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, matrix.shape[1])
    k = min(k, n)
    sign = -1.0 if metric == "cosine" else 1.0  # rank ascending on sign * score
    cand_ids, cand_keys = [], []
    for start in range(0, n, block):
        stop = min(start + block, n)
        rows = np.asarray(matrix[start:stop], dtype=np.float32)
        prod = q @ rows.T  # (q, b)
        nrm = np.asarray(norms[start:stop], dtype=np.float32)
        with np.errstate(invalid="ignore", over="ignore"):  # rows with NaN/inf (allow_nonfinite) rank last
            if metric == "cosine":
                key = prod * (-inverse_norms(nrm))
            else:
                key = (nrm * nrm)[None, :] - 2.0 * prod  # + |q|^2 after the top-k
        kk = min(k, stop - start)
        part = (
            np.argpartition(key, kk - 1, axis=1)[:, :kk]
            if kk < stop - start
            else np.broadcast_to(np.arange(stop - start), (q.shape[0], stop - start))
        )
        cand_keys.append(np.take_along_axis(key, part, axis=1))
        cand_ids.append(part + start)
    keys, ids = np.concatenate(cand_keys, axis=1), np.concatenate(cand_ids, axis=1)
    order = np.lexsort((ids, keys), axis=1)[:, :k]
    ids, keys = np.take_along_axis(ids, order, axis=1), np.take_along_axis(keys, order, axis=1)
    if metric == "cosine":
        scores = sign * keys
    else:
        scores = np.sqrt(np.maximum(keys + np.einsum("ij,ij->i", q, q)[:, None], 0.0))
    return ids.astype(np.int64), scores.astype(np.float32)
