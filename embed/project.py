"""2-D/3-D projections of the most frequent words (PCA, t-SNE, UMAP), cached beside the model.

A projection is the first ``n`` rows of a model (the vocabulary is stored most frequent first),
unit-normalised and projected by scikit-learn's PCA, openTSNE's t-SNE or umap-learn's UMAP
(cosine geometry: unit rows, cosine metric for t-SNE's and UMAP's neighbour graphs).

Cached as two files in ``MODEL_DIR/projections/`` (no pickle), each written atomically::

    umap-2d-10000.npy    float32 (n, dims), read with allow_pickle=False
    umap-2d-10000.json   {"format": "embed-projection", "version": 1, "method": "umap", "dims": 2,
                          "n": 10000, "fingerprint": "...", "params": {...}, "seconds": 21.4, ...}

The JSON is written last: a reader takes only a pair whose header names the same vectors
(:attr:`~embed.vectors.Vectors.fingerprint`) and shape, so a half-written or stale pair is recomputed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from embed.errors import ConfigError, EmbedError, FormatError
from embed.io import atomic_file, atomic_write_text, read_versioned_json
from embed.neighbours import normalise
from embed.vectors import Vectors

logger = logging.getLogger(__name__)

Method = Literal["pca", "tsne", "umap"]
METHODS: tuple[str, ...] = get_args(Method)
PROJECTION_FORMAT = "embed-projection"
PROJECTION_VERSION = 1
PROJECTIONS_DIR = "projections"
DEFAULT_POINTS = 10_000
MAX_POINTS = 20_000
MIN_POINTS = 3
"""10,000 points take 35-65 s by t-SNE or UMAP on 2 cores (BENCHMARKS.md, issue 18); more is a batch job, not a page."""
TSNE_ITERATIONS = 300


@dataclass(frozen=True)
class Projection:
    """``coords`` ``(n, dims)`` float32 for the words in rows ``0..n-1`` of the model."""

    method: str
    dims: int
    coords: np.ndarray
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.coords.shape[0])


def check_request(vectors: Vectors, method: str, dims: int, n: int) -> None:
    """Validate a projection request before any work.

    Raises:
        ConfigError: unknown method, dims not 2 or 3, n below 3 or above :data:`MAX_POINTS`, or
            more points than the model has words (the message gives the model's size).
    """
    if method not in METHODS:
        raise ConfigError(f"projection method {method!r} is not known; choose one of {', '.join(METHODS)}")
    if dims not in (2, 3):
        raise ConfigError(f"dims must be 2 or 3, got {dims}")
    if n < MIN_POINTS:
        raise ConfigError(f"n={n}: a projection needs at least 3 words; ask for more points")
    if n > MAX_POINTS:
        raise ConfigError(
            f"n={n:,} points is over the limit of {MAX_POINTS:,};"
            f" ask for fewer (the page's default is {DEFAULT_POINTS:,})"
        )
    if n > len(vectors):
        raise ConfigError(
            f"n={n:,} points but the model has only {len(vectors):,} words; ask for n <= {len(vectors):,}"
        )


def compute(
    vectors: Vectors, method: str, dims: int = 2, n: int = DEFAULT_POINTS, seed: int = 0, threads: int = 1
) -> Projection:
    """Project the ``n`` most frequent words to ``dims`` dimensions. Raises ConfigError (see :func:`check_request`).

    t-SNE and UMAP first reduce to 50 PCA components (the usual recipe: it removes noise and
    makes the neighbour search cheap), then run with ``threads`` threads and seed ``seed``.
    """
    check_request(vectors, method, dims, n)
    started = time.perf_counter()
    x = vectors.unit(np.arange(n))
    params: dict[str, Any]
    if method == "pca":
        coords, params = _pca(x, dims, seed), {}
    else:
        _check_directions(vectors, x, method)
        reduced = _pca(x, min(50, x.shape[1], n), seed) if x.shape[1] > 50 else x
        coords, params = (_tsne if method == "tsne" else _umap)(reduced, dims, seed, threads)
    coords = np.ascontiguousarray(coords, dtype=np.float32)
    if not np.isfinite(coords).all():
        raise EmbedError(f"{method} produced non-finite coordinates for {n} words; try another method or fewer points")
    return Projection(method, dims, coords, round(time.perf_counter() - started, 3), {"seed": seed, **params})


def _check_directions(vectors: Vectors, x: np.ndarray, method: str) -> None:
    """Raise EmbedError if a row of ``x`` (unit rows) is zero: its cosine distance to anything is undefined.

    Imported files sometimes hold zero vectors (padding such as ``</s>``); openTSNE and umap-learn then fail
    deep inside their neighbour search with a NaN error that names neither the word nor the fix.
    """
    zero = np.flatnonzero(~np.any(x, axis=1))
    if len(zero):
        raise EmbedError(
            f"{method} measures cosine distances, but {len(zero)} of the {len(x):,} words have zero vectors"
            f" (first: {vectors.word(int(zero[0]))!r}, rank {int(zero[0]) + 1}); project them with pca,"
            " or drop those words from the model"
        )


def expected_seconds(method: str, n: int) -> float:
    """A rough guess of the computation's time on 2 cores, to tell clients when to ask again.

    From BENCHMARKS.md (issue 18, 10,000 words of runs/zh): PCA 1.0-1.4 s, t-SNE 24-37 s, UMAP 13 s once
    numba has compiled it (24 s in a fresh process since it gets the exact neighbour graph; 55-65 s before).

    >>> expected_seconds("tsne", 10_000)
    35.0
    >>> expected_seconds("pca", 300)
    1.0
    """
    per_point = {"pca": 0.00013, "tsne": 0.0035, "umap": 0.0015}[method]
    return max(1.0, round(per_point * n, 1))


def _pca(x: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    coords: np.ndarray = PCA(n_components=dims, random_state=seed).fit_transform(x)
    return coords


def _tsne(x: np.ndarray, dims: int, seed: int, threads: int) -> tuple[np.ndarray, dict[str, Any]]:
    from openTSNE import TSNE

    perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
    # 300 iterations after the 250 of early exaggeration, not openTSNE's 500: 10,000 words of runs/zh took
    # 35 s instead of 82 s on 2 shared cores (2026-12-01); quality not compared, only tested: two planted
    # clusters stay apart (tests/test_explorer.py).
    # openTSNE's "auto" picks Barnes-Hut under 10,000 points and FFT interpolation from there; FFT's grid grows
    # with the cube of the size in 3-D, so 3-D always uses Barnes-Hut.
    gradient = "auto" if dims == 2 else "bh"
    tsne = TSNE(
        n_components=dims,
        perplexity=perplexity,
        metric="cosine",
        n_iter=TSNE_ITERATIONS,
        negative_gradient_method=gradient,
        n_jobs=threads,
        random_state=seed,
        verbose=False,
    )
    params = {"perplexity": perplexity, "metric": "cosine", "n_iter": TSNE_ITERATIONS, "library": "openTSNE"}
    return np.asarray(tsne.fit(x)), params


def _umap(x: np.ndarray, dims: int, seed: int, threads: int) -> tuple[np.ndarray, dict[str, Any]]:
    import umap  # numba-compiled on first use: seconds

    neighbours = int(min(15, len(x) - 1))
    # random_state fixes the layout, which makes umap-learn single-threaded (n_jobs=1 says so; it warns
    # otherwise). Unseeded with 2 threads was no faster: 12.5 s vs 13.1 s for 10,000 words (2026-12-01).
    del threads
    # The exact neighbour graph, handed over: umap-learn would otherwise build an approximate one with
    # pynndescent, whose numba compilation is most of a fresh process's time (10,000 words of runs/zh:
    # fit 48.1 s -> 28.4 s, 2026-12-01; BENCHMARKS.md, issue 18).
    knn = cosine_knn(x, neighbours)
    model = umap.UMAP(
        n_components=dims,
        n_neighbors=neighbours,
        metric="cosine",
        random_state=seed,
        n_jobs=1,
        precomputed_knn=(*knn, None),
    )
    params = {"n_neighbors": neighbours, "metric": "cosine", "knn": "exact", "library": "umap-learn"}
    return np.asarray(model.fit_transform(x)), params


def cosine_knn(x: np.ndarray, k: int, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows by cosine, itself first (umap-learn's convention): ``int64 (n, k)`` ids
    and ``float32 (n, k)`` cosine distances (``1 - cos``, clipped at 0), nearest first.

    >>> ids, d = cosine_knn(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), 2)
    >>> ids.tolist(), d[:, 0].tolist()
    ([[0, 1], [1, 0], [2, 1]], [0.0, 0.0, 0.0])
    """
    u = normalise(x)
    n = u.shape[0]
    ids = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        sim = u[start : start + block] @ u.T
        rows = np.arange(sim.shape[0])
        sim[rows, rows + start] = np.inf  # itself first, whatever rounding gives
        part = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (sim.shape[0], 1))
        top = np.take_along_axis(sim, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        ids[start : start + block] = np.take_along_axis(part, order, axis=1)
        d = 1.0 - np.take_along_axis(top, order, axis=1)
        d[:, 0] = 0.0
        dist[start : start + block] = np.maximum(d, 0.0)
    return ids, dist


# --- cache -------------------------------------------------------------------------------------
def cache_paths(folder: Path, method: str, dims: int, n: int) -> tuple[Path, Path]:
    """``(coords.npy, header.json)`` for one projection: ``folder/projections/umap-2d-10000.npy`` ..."""
    stem = Path(folder) / PROJECTIONS_DIR / f"{method}-{dims}d-{n}"
    return stem.with_suffix(".npy"), stem.with_suffix(".json")


def save(projection: Projection, folder: Path, vectors: Vectors) -> Path:
    """Write ``projection`` into ``folder/projections`` (coords first, header last, each atomically).

    Raises:
        OutputError: the folder cannot be written (nothing is left half-written).
    """
    import json

    npy, header = cache_paths(folder, projection.method, projection.dims, projection.n)
    npy.parent.mkdir(exist_ok=True)
    with atomic_file(npy) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, projection.coords, allow_pickle=False)
    meta = {
        "format": PROJECTION_FORMAT,
        "version": PROJECTION_VERSION,
        "method": projection.method,
        "dims": projection.dims,
        "n": projection.n,
        "fingerprint": vectors.fingerprint,
        "vocab_size": len(vectors),
        "params": projection.params,
        "seconds": projection.seconds,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "coords": npy.name,
    }
    atomic_write_text(header, json.dumps(meta, indent=2) + "\n")
    return header


def load_cached(folder: Path, vectors: Vectors, method: str, dims: int, n: int) -> Projection | None:
    """The cached projection, or None when absent or made for other vectors (logged).

    Raises:
        FormatError: a header that is damaged or from a newer embed.
    """
    npy, header = cache_paths(folder, method, dims, n)
    if not header.is_file():
        return None
    meta = read_versioned_json(header, PROJECTION_FORMAT, PROJECTION_VERSION, "projection")
    if meta.get("fingerprint") != vectors.fingerprint:
        logger.info("%s: made for other vectors; recomputing", header)
        return None
    try:
        coords = np.load(npy, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise FormatError(f"{npy}: damaged projection ({exc}); delete it and run 'embed project' again") from None
    if coords.shape != (n, dims) or coords.dtype != np.float32:
        raise FormatError(
            f"{npy}: shape {coords.shape} {coords.dtype}, expected ({n}, {dims}) float32;"
            " delete it and run 'embed project' again"
        )
    return Projection(method, dims, coords, float(meta.get("seconds", 0.0)), dict(meta.get("params", {})))


def get_or_compute(
    vectors: Vectors, folder: Path | None, method: str, dims: int, n: int, threads: int = 1, write: bool = True
) -> tuple[Projection, bool]:
    """``(projection, from_cache)``: the cached one in ``folder``, else computed (and saved when ``write``).

    Raises:
        ConfigError: see :func:`check_request`; FormatError: a damaged cache (see :func:`load_cached`);
            EmbedError: the computation failed (see :func:`compute`).
    """
    check_request(vectors, method, dims, n)
    if folder is not None:
        cached = load_cached(folder, vectors, method, dims, n)
        if cached is not None:
            return cached, True
    return compute_and_save(vectors, folder, method, dims, n, threads, write), False


def compute_and_save(
    vectors: Vectors, folder: Path | None, method: str, dims: int, n: int, threads: int = 1, write: bool = True
) -> Projection:
    """:func:`compute`, then :func:`save` into ``folder`` when ``write`` (the cache is not read first).

    A folder that cannot be written is logged and the projection returned anyway (a read-only
    model directory still gets its picture; it is recomputed after a restart).
    """
    projection = compute(vectors, method, dims, n, threads=threads)
    if folder is not None and write:
        try:
            save(projection, folder, vectors)
        except (EmbedError, OSError) as exc:
            logger.warning("projection not cached in %s: %s", folder, exc)
    return projection
