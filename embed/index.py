"""FAISS indexes for word vectors: build, save, load, search. The only module importing faiss.

An indexed model directory gains an ``index/`` folder (written atomically):

* ``index.json`` - ``{"format": "embed-index", "version": 2, "kind", "metric", "k_max", ...}``
  and a fingerprint of the vectors it was built from;
* ``table_<metric>_ids.npy`` / ``table_<metric>_scores.npy`` - the exact top-``k_max``
  neighbours of every word, for the index's metric only, and only where all-pairs work is
  cheap (``tables="auto"``: at most :data:`TABLE_MAX_WORDS` words; it grows as V^2);
* ``ann.faiss`` - the approximate index (HNSW or IVF; ``faiss.write_index``, not pickle),
  memory-mapped when loaded (``IO_FLAG_MMAP_IFC``), so server workers share its pages.

By-word queries with ``k <= k_max`` are table look-ups where a table exists, else ANN
searches; exact queries without a table are blocked matrix products over the (memory-mapped)
matrix (:func:`embed.neighbours.exact_search`). Cost of building: O(V) ANN inserts, plus
O(V^2 d) for tables on small vocabularies.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

from embed.errors import ConfigError, FormatError, OutputError, describe_os_error
from embed.io import atomic_dir, read_versioned_json
from embed.neighbours import Metric, check_metric, exact_search, exact_topk, normalise
from embed.vectors import Vectors

logger = logging.getLogger(__name__)

Kind = Literal["flat", "hnsw", "ivf"]
KINDS: tuple[str, ...] = ("flat", "hnsw", "ivf")
INDEX_DIR = "index"
INDEX_FORMAT = "embed-index"
INDEX_VERSION = 2
# All-pairs tables cost V^2 d: 100k x 100 took ~40 s per metric on 2 cores, 200k x 100 ~3 min
# (BENCHMARKS.md, issue 15). Above this many words "auto" builds none.
TABLE_MAX_WORDS = 200_000
# Exact by-vector search scans the matrix: ~5 ms at 100k x 100, ~0.3 s at 2M x 300. Above this
# many words a query that does not ask for exactness goes to the ANN index.
EXACT_MAX_WORDS = 200_000
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class IndexConfig:
    """How to build an index. HNSW defaults: M 32, efConstruction 80, efSearch 128.

    efSearch 128, not FAISS's usual 64: on 300-dim vectors trained on the enwiki extract
    (73k words) recall@10 by word was 0.927 at 64 and 0.959 at 128 (0.27 vs 0.41 ms a query;
    ``python -m bench.large_recall``, 2026-12-01). It is read from ``index.json`` at load.
    """

    kind: Kind = "hnsw"
    metric: Metric = "cosine"
    tables: Literal["auto", "on", "off"] = "auto"
    k_max: int = 100
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128
    nlist: int | None = None  # IVF lists; None: 4 * sqrt(n)
    nprobe: int = 16
    block: int = 2048
    threads: int = 2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"index kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        check_metric(self.metric)
        if self.tables not in ("auto", "on", "off"):
            raise ConfigError(f"tables must be 'auto', 'on' or 'off', got {self.tables!r}")
        for name in ("k_max", "hnsw_m", "ef_construction", "ef_search", "nprobe", "block", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")

    def wants_tables(self, n: int) -> bool:
        return self.tables == "on" or (self.tables == "auto" and n <= TABLE_MAX_WORDS)


@dataclass
class WordIndex:
    """Exact neighbour tables and an ANN index over one :class:`Vectors` (``attach`` before searching)."""

    config: IndexConfig
    tables: dict[str, tuple[np.ndarray, np.ndarray]]
    ann: faiss.Index | None  # over unit (cosine) or raw (euclidean) rows
    info: dict[str, Any] = field(default_factory=dict)
    vectors: Vectors | None = field(default=None, repr=False)

    @property
    def k_max(self) -> int:
        return int(next(iter(self.tables.values()))[0].shape[1]) if self.tables else 0

    def attach(self, vectors: Vectors) -> WordIndex:
        """The vectors exact searches scan (nothing is copied)."""
        self.vectors = vectors
        return self

    def has_ann(self, metric: str) -> bool:
        return self.ann is not None and self.config.metric == metric

    def check_ef_search(self, ef_search: int | None) -> None:
        """Raises ConfigError when ``ef_search`` is given and the ANN index is not HNSW (see :meth:`search`)."""
        if ef_search is not None and self.config.kind != "hnsw":
            raise ConfigError(f"ef_search applies to an HNSW index; this model's index is {self.config.kind}")

    def lookup(self, row: int, k: int, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The exact top-``k`` of word ``row`` from the table, or None when there is none for ``k``."""
        table = self.tables.get(metric)
        if table is None or k > table[0].shape[1]:
            return None
        return table[0][row, :k], table[1][row, :k]

    def search(
        self, queries: np.ndarray, k: int, metric: Metric, exact: bool = True, ef_search: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """Top-``k`` rows for ``queries`` ``(q, dim)``, one call for the whole batch.

        Cosine queries must be unit length (see :meth:`Vectors.query_vector`). ``ef_search``: the HNSW
        search breadth for this call (at least ``k``; FAISS's per-call ``SearchParametersHNSW``, so
        concurrent calls do not disturb each other); None keeps the index's stored value. Only an HNSW
        search reads it; an exact search ignores it.

        Raises:
            ConfigError: ``ef_search`` given and the ANN index that would answer is not HNSW.

        Returns:
            ``ids`` int64 ``(q, k)`` (-1 where fewer exist), ``scores`` float32 ``(q, k)``
            (cosine similarity, or Euclidean distance - not squared), and the method used:
            ``"flat"`` (exact) or the ANN kind. Without an ANN index for ``metric`` the search
            is exact.
        """
        check_metric(metric)
        if self.vectors is None:
            raise ConfigError("WordIndex.attach(vectors) must be called before search")
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.vectors.dim)
        ann = self.ann if self.has_ann(metric) else None
        if exact or ann is None:
            ids, scores = exact_search(self.vectors.matrix, self.vectors.norms, q, k, metric)
            return ids, scores, "flat"
        if _threads is not None:
            faiss.omp_set_num_threads(_threads)  # per calling thread; see set_threads
        self.check_ef_search(ef_search)
        params = (
            None if ef_search is None else faiss.SearchParametersHNSW(efSearch=max(ef_search, k))  # type: ignore[attr-defined]  # not stubbed
        )
        scores, ids = ann.search(q, min(k, ann.ntotal), params=params)
        if metric == "euclidean":
            scores = np.sqrt(np.maximum(scores, 0.0))
        return ids, scores, self.config.kind


_threads: int | None = None


def set_threads(n: int) -> None:
    """FAISS (OpenMP) threads per search; 1 in servers, where worker processes give the parallelism.

    A process's count is chosen by :func:`embed.runtime.configure_threads` (``serve``, ``index``);
    :func:`build_index` sets its ``config.threads`` for the build.
    ``omp_set_num_threads`` only binds the calling thread, and every thread that is not
    OpenMP's own starts from ``OMP_NUM_THREADS`` (default: all cores) with a pool of its own
    (faiss#2731). Servers search from a pool of threads, so :meth:`WordIndex.search` re-applies
    this value in whichever thread it runs.
    """
    global _threads
    _threads = n
    faiss.omp_set_num_threads(n)


def _rows(vectors: Vectors, rows: slice | np.ndarray, metric: str) -> np.ndarray:
    """The selected rows as the ANN index holds them: unit length for cosine, raw for Euclidean."""
    block = np.ascontiguousarray(vectors.matrix[rows], dtype=np.float32)
    return normalise(block) if metric == "cosine" else block


def _build_ann(
    vectors: Vectors, config: IndexConfig, progress: Progress | None, chunk: int = 50_000
) -> faiss.Index | None:
    """The ANN index, fed in chunks of ``chunk`` rows (memory: the index plus one chunk)."""
    n, dim = len(vectors), vectors.dim
    fmetric = faiss.METRIC_INNER_PRODUCT if config.metric == "cosine" else faiss.METRIC_L2
    if config.kind == "flat":
        return None
    ann: faiss.Index
    if config.kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, config.hnsw_m, fmetric)
        hnsw.hnsw.efConstruction = config.ef_construction
        hnsw.hnsw.efSearch = config.ef_search
        ann = hnsw
    else:
        nlist = config.nlist or max(1, min(n // 39, int(4 * math.sqrt(n))))  # faiss wants >= 39 points per list
        quantizer = faiss.IndexFlatIP(dim) if config.metric == "cosine" else faiss.IndexFlatL2(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, fmetric)
        sample = np.sort(np.random.default_rng(0).choice(n, size=min(n, 256 * nlist), replace=False))
        ivf.train(_rows(vectors, sample, config.metric))
        ivf.nprobe = min(config.nprobe, nlist)
        ann = ivf
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        ann.add(_rows(vectors, slice(start, stop), config.metric))
        if progress is not None:
            progress(f"{config.kind} index", stop, n)
    return ann


def build_index(vectors: Vectors, config: IndexConfig, progress: Progress | None = None) -> WordIndex:
    """The ANN index of ``config.kind``, plus exact top-``k_max`` tables where ``config`` wants them.

    ``progress(stage, done, total)`` is called as rows are processed.

    Raises:
        ConfigError: tables wanted and ``k_max`` is not below the vocabulary size.
    """
    n = len(vectors)
    with_tables = config.wants_tables(n)
    if with_tables and config.k_max > n - 1:
        raise ConfigError(f"k_max {config.k_max} must be below the vocabulary size ({n}); pass a smaller --k-max")
    set_threads(config.threads)
    started = time.perf_counter()
    tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    timings: dict[str, float] = {}
    if with_tables:
        t0 = time.perf_counter()
        report = None if progress is None else (lambda done, total: progress(f"{config.metric} table", done, total))
        matrix = np.asarray(vectors.matrix, dtype=np.float32)
        tables[config.metric] = exact_topk(
            matrix, config.k_max, config.metric, block=config.block, threads=config.threads, progress=report
        )
        timings[f"table_{config.metric}_seconds"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    ann = _build_ann(vectors, config, progress)
    timings["ann_seconds"] = round(time.perf_counter() - t0, 2)
    timings["total_seconds"] = round(time.perf_counter() - started, 2)
    info = {
        "vocab_size": n,
        "dim": vectors.dim,
        "fingerprint": vectors.fingerprint,
        "timings": timings,
        "faiss": faiss.__version__,
    }
    return WordIndex(config, tables, ann, info).attach(vectors)


def check_index_writable(model_dir: str | Path) -> None:
    """Fail before a long build, not after it, when ``model_dir/index/`` cannot be written.

    Raises:
        OutputError: the directory is read-only, not ours, or on a full device (named, with the fix).
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".index-probe-", dir=model_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(
            f"{model_dir}: cannot write its index/ there ({describe_os_error(exc)}); "
            "run 'embed index' on a writable copy of the model directory, or as its owner"
        ) from None


def save_index(index: WordIndex, model_dir: str | Path) -> Path:
    """Write ``model_dir/index/`` atomically (replacing an older index). Returns its path."""
    out = Path(model_dir) / INDEX_DIR
    with atomic_dir(out, overwrite=True) as tmp:
        for metric, (ids, scores) in index.tables.items():
            np.save(tmp / f"table_{metric}_ids.npy", ids, allow_pickle=False)
            np.save(tmp / f"table_{metric}_scores.npy", scores, allow_pickle=False)
        if index.ann is not None:
            faiss.write_index(index.ann, str(tmp / "ann.faiss"))
        meta = {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            **asdict(index.config),
            "table_metrics": sorted(index.tables),
            **index.info,
        }
        (tmp / "index.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def read_index_meta(model_dir: str | Path) -> dict[str, Any] | None:
    """``index/index.json`` of a model directory, or None when it has no index.

    Raises:
        FormatError: the file is damaged or from a newer embed.
    """
    path = Path(model_dir) / INDEX_DIR / "index.json"
    if not path.exists():
        return None
    try:
        return read_versioned_json(path, INDEX_FORMAT, INDEX_VERSION, "index")
    except FormatError as exc:
        raise FormatError(f"{exc}; rebuild it with 'embed index {model_dir}'") from None


def _check_ids(path: Path, ids: np.ndarray, n: int, fix: str) -> None:
    """Every neighbour id in a table must be a row of the model: ``0 <= id < n``.

    A damaged table would otherwise answer other words' neighbours, or fail at query time.
    One pass of min/max over the (memory-mapped) table: ~0.1 s at 200k x 100.

    Raises:
        FormatError: naming ``path``, the bad value and the fix.
    """
    if not np.issubdtype(ids.dtype, np.integer):
        raise FormatError(f"{path}: neighbour ids must be integers, found {ids.dtype}; {fix}")
    if ids.size == 0:
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= n:
        bad = low if low < 0 else high
        raise FormatError(
            f"{path}: neighbour id {bad} is outside the model's {n} words (0..{n - 1}); the table is damaged, {fix}"
        )


def load_index(model_dir: str | Path, vectors: Vectors, check: bool = True) -> WordIndex | None:
    """Load ``model_dir/index/`` for ``vectors`` (None if the directory has no index).

    Tables and the FAISS file are memory-mapped read-only.

    Raises:
        FormatError: files missing or damaged, or built for other vectors (``check``).
    """
    meta = read_index_meta(model_dir)
    if meta is None:
        return None
    folder = Path(model_dir) / INDEX_DIR
    fix = f"rebuild it with 'embed index {model_dir}'"
    if check and meta.get("fingerprint") != vectors.fingerprint:
        raise FormatError(f"{folder}: built for other vectors than {model_dir} holds now; {fix}")
    names = {f.name for f in fields(IndexConfig)}
    try:
        config = IndexConfig(**{k: v for k, v in meta.items() if k in names})
    except (ConfigError, TypeError) as exc:
        raise FormatError(f"{folder / 'index.json'}: {exc}; {fix}") from None
    # Version 1 indexes held tables for both metrics and said nothing.
    metrics = meta.get("table_metrics", ["cosine", "euclidean"] if meta.get("version") == 1 else [])
    tables = {}
    try:
        for metric in metrics:
            check_metric(metric)
            ids = np.load(folder / f"table_{metric}_ids.npy", mmap_mode="r", allow_pickle=False)
            scores = np.load(folder / f"table_{metric}_scores.npy", mmap_mode="r", allow_pickle=False)
            if ids.shape != (len(vectors), config.k_max) or scores.shape != ids.shape:
                raise FormatError(
                    f"{folder}: table_{metric} has shape {ids.shape}, expected {(len(vectors), config.k_max)}; {fix}"
                )
            _check_ids(folder / f"table_{metric}_ids.npy", ids, len(vectors), fix)
            tables[metric] = (ids, scores)
        ann = None
        if config.kind != "flat":
            ann = faiss.read_index(str(folder / "ann.faiss"), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    except (OSError, ValueError, RuntimeError, ConfigError) as exc:
        raise FormatError(f"{folder}: cannot read the index ({type(exc).__name__}: {exc}); {fix}") from None
    if ann is not None and ann.ntotal != len(vectors):
        raise FormatError(f"{folder}: ann.faiss holds {ann.ntotal} vectors, the model {len(vectors)}; {fix}")
    if ann is not None and config.kind == "hnsw":
        hnsw = faiss.downcast_index(ann)
        if not isinstance(hnsw, faiss.IndexHNSW):
            raise FormatError(f"{folder}: ann.faiss is not the HNSW index index.json names; {fix}")
        hnsw.hnsw.efSearch = config.ef_search
    elif ann is not None:
        faiss.extract_index_ivf(ann).nprobe = config.nprobe
    info: dict[str, Any] = {k: meta[k] for k in ("vocab_size", "dim", "fingerprint", "timings", "faiss") if k in meta}
    return WordIndex(config, tables, ann, info).attach(vectors)
