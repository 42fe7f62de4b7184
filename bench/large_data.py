"""Data for bench/large.py: a clustered word2vec binary of any size, written and re-read block by block.

``Data(rows, dim, noise, seed)`` is the whole recipe: ``rows / 100`` random unit centres, each row a
centre plus Gaussian noise of norm ``noise * sqrt(2)`` (sqrt 2 ~ the distance between two random unit
centres), every block of 100,000 rows seeded by ``(seed, block)``. So the brute-force ground truth
regenerates the rows instead of reading them back from the system under test, and no step holds
the whole matrix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLOCK, N_UNICODE = 100_000, 300


def default_noise(dim: int) -> float:
    """Noise for ``dim`` dims: distances concentrate as ``dim`` grows, so the noise must grow too.

    Measured 2026-12 (this machine, HNSW M 32 / efConstruction 80 / efSearch 64, 300 queries):
    50 dims, 0.82: ~90% of a row's 10 true neighbours in its own cluster at 50,000 rows; 300 dims,
    1.4: 93% own-cluster, HNSW recall 0.935 at 300,000 rows (1.5 gave 82% / 0.855; 1.0, 100%
    / 1.000). The own-cluster share falls as rows grow (more clusters compete); the benchmark reports it.

    >>> round(default_noise(50), 2), round(default_noise(300), 2)
    (0.82, 1.41)
    """
    return 0.255 * dim**0.3


@dataclass(frozen=True)
class Data:
    """The generated file's recipe: any block of rows can be regenerated from it."""

    rows: int
    dim: int
    noise: float
    seed: int = 0

    def blocks(self, limit: int | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield (first row, ``(n, dim)`` float32 rows, ``(n,)`` cluster labels) for rows [0, limit)."""
        clusters = max(1, self.rows // 100)
        centres = np.random.default_rng([self.seed, 0]).standard_normal((clusters, self.dim), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        sigma = np.float32(self.noise * np.sqrt(2.0 / self.dim))
        end = self.rows if limit is None else min(limit, self.rows)
        for start in range(0, end, BLOCK):
            rng = np.random.default_rng([self.seed, 1 + start // BLOCK])
            n = min(BLOCK, self.rows - start)  # by rows, not limit: a block is the same whatever the limit
            labels = rng.integers(clusters, size=n)
            rows = centres[labels] + sigma * rng.standard_normal((n, self.dim), dtype=np.float32)
            keep = min(n, end - start)
            yield start, rows[:keep], labels[:keep]

    def word(self, i: int) -> str:
        """Row ``i``'s word: ``w0000042``, or a unique Chinese pair (its 2nd character is unique)."""
        step = max(1, self.rows // N_UNICODE)
        if i % step == step // 2 and i // step < N_UNICODE:
            k = i // step
            return chr(0x4E00 + (k * 131) % 20902) + chr(0x4E00 + k)
        return f"w{i:0{max(7, len(str(self.rows - 1)))}d}"

    def unicode_rows(self) -> list[int]:
        step = max(1, self.rows // N_UNICODE)
        return [i for i in range(step // 2, self.rows, step)][:N_UNICODE]

    @property
    def file(self) -> str:
        return f"w2v-{self.rows}x{self.dim}-noise{self.noise:.3f}-seed{self.seed}.bin"


def write_word2vec(data: Data, path: Path) -> None:
    """Stream ``data`` to a word2vec binary file, one block in memory at a time."""
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        f.write(f"{data.rows} {data.dim}\n".encode())
        for start, rows, _ in data.blocks():
            f.write(
                b"".join(
                    data.word(start + j).encode() + b" " + r.tobytes() + b"\n" for j, r in enumerate(rows.astype("<f4"))
                )
            )
    os.replace(tmp, path)


def brute_force(data: Data, query_rows: np.ndarray, limit: int, k: int = 10) -> tuple[np.ndarray, float]:
    """Exact cosine top-``k`` rows (self excluded) among rows [0, limit) for each query row.

    Returns ``(len(query_rows), k)`` row ids and the fraction of them in the query's own cluster.
    """
    q, q_label = np.empty((len(query_rows), data.dim), np.float32), np.empty(len(query_rows), np.int64)
    for start, rows, labels in data.blocks(limit):
        sel = np.nonzero((query_rows >= start) & (query_rows < start + len(rows)))[0]
        q[sel], q_label[sel] = rows[query_rows[sel] - start], labels[query_rows[sel] - start]
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    best_s, best_i = np.full((len(q), k), -np.inf, np.float32), np.zeros((len(q), k), np.int64)
    all_labels = []
    for start, rows, labels in data.blocks(limit):
        s = q @ (rows / np.linalg.norm(rows, axis=1, keepdims=True)).T
        sel = np.nonzero((query_rows >= start) & (query_rows < start + len(rows)))[0]
        s[sel, query_rows[sel] - start] = -np.inf
        part = np.argpartition(-s, k, axis=1)[:, :k] if s.shape[1] > k else np.tile(np.arange(s.shape[1]), (len(q), 1))
        cand_s = np.concatenate([best_s, np.take_along_axis(s, part, 1)], 1)
        cand_i = np.concatenate([best_i, part + start], 1)
        top = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(cand_s, top, 1), np.take_along_axis(cand_i, top, 1)
        all_labels.append(labels)
    own = np.concatenate(all_labels)[best_i] == q_label[:, None]
    return best_i, float(own.mean())


def sample_rows(data: Data, n: int, rng: np.random.Generator, limit: int | None = None) -> np.ndarray:
    """``n`` distinct random rows below ``limit``, the first ``n // 50`` of them Chinese words."""
    limit = data.rows if limit is None else limit
    uni = np.array([i for i in data.unicode_rows() if i < limit][: n // 50], np.int64)
    rest = rng.choice(limit, min(n, limit), replace=False)
    return np.concatenate([uni, rest[~np.isin(rest, uni)]])[:n]
