"""FAISS indexes for word vectors: build, save, load, search. The only module importing faiss.

An indexed model directory gains an ``index/`` folder (written atomically):

* ``index.json`` - ``{"format": "embed-index", "version": 1, "kind", "metric", "k_max", ...}``
  and a fingerprint of the vectors it was built from;
* ``table_<metric>_ids.npy`` / ``table_<metric>_scores.npy`` - the exact top-``k_max``
  neighbours of every word for both metrics (int32 / float32 ``(n, k_max)``, loaded with
  ``allow_pickle=False`` and memory-mapped, so worker processes share the pages);
* ``ann.faiss`` - the approximate index (HNSW or IVF; ``faiss.write_index``, not pickle).

Queries by a single word with ``k <= k_max`` are table look-ups; vector and arithmetic
queries go to FAISS: exact ones to a flat index, approximate ones to the ANN index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

from embed.errors import ConfigError, FormatError
from embed.io import atomic_dir
from embed.neighbours import METRICS, Metric, check_metric, exact_topk, normalise
from embed.vectors import Vectors

logger = logging.getLogger(__name__)

Kind = Literal["flat", "hnsw", "ivf"]
KINDS: tuple[str, ...] = ("flat", "hnsw", "ivf")
INDEX_DIR = "index"
INDEX_FORMAT = "embed-index"
INDEX_VERSION = 1


@dataclass(frozen=True)
class IndexConfig:
    """How to build an index. HNSW defaults: M 32, efConstruction 80, efSearch 64."""

    kind: Kind = "hnsw"
    metric: Metric = "cosine"
    k_max: int = 100
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 64
    nlist: int | None = None  # IVF lists; None: 4 * sqrt(n)
    nprobe: int = 16
    block: int = 2048
    threads: int = 2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"index kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        check_metric(self.metric)
        for name in ("k_max", "hnsw_m", "ef_construction", "ef_search", "nprobe", "block", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class WordIndex:
    """Exact neighbour tables plus FAISS indexes over one :class:`Vectors`."""

    config: IndexConfig
    tables: dict[str, tuple[np.ndarray, np.ndarray]]
    ann: Any | None  # faiss.Index over normed (cosine) or raw (euclidean) vectors
    info: dict[str, Any] = field(default_factory=dict)
    _flat: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def k_max(self) -> int:
        return int(next(iter(self.tables.values()))[0].shape[1])

    def attach(self, vectors: Vectors) -> "WordIndex":
        """Build the exact flat indexes (cosine on unit rows, L2 on raw rows) for ``vectors``."""
        m = np.ascontiguousarray(vectors.matrix, dtype=np.float32)
        flat_ip = faiss.IndexFlatIP(m.shape[1])
        flat_ip.add(normalise(m))
        flat_l2 = faiss.IndexFlatL2(m.shape[1])
        flat_l2.add(m)
        self._flat = {"cosine": flat_ip, "euclidean": flat_l2}
        return self

    def lookup(self, row: int, k: int, metric: Metric) -> tuple[np.ndarray, np.ndarray] | None:
        """The exact top-``k`` of word ``row`` from the table, or None when ``k > k_max``."""
        ids, scores = self.tables[metric]
        if k > ids.shape[1]:
            return None
        return ids[row, :k], scores[row, :k]

    def search(self, queries: np.ndarray, k: int, metric: Metric, exact: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
        """Top-``k`` rows for ``queries`` ``(q, dim)``.

        Cosine queries must be unit length (see :func:`embed.neighbours.query_vector`).

        Returns:
            ``ids`` int64 ``(q, k)`` (-1 where fewer exist), ``scores`` float32 ``(q, k)``
            (cosine similarity, or Euclidean distance - not squared), and the method used:
            ``"flat"`` (exact) or the ANN kind. An ANN index built for the other metric is
            not used; the query falls back to exact.
        """
        check_metric(metric)
        if not self._flat:
            raise ConfigError("WordIndex.attach(vectors) must be called before search")
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self._flat[metric].d)
        use_ann = not exact and self.ann is not None and self.config.metric == metric
        index = self.ann if use_ann else self._flat[metric]
        if _threads is not None:
            faiss.omp_set_num_threads(_threads)  # per calling thread; see set_threads
        k_eff = min(k, index.ntotal)
        scores, ids = index.search(q, k_eff)
        if metric == "euclidean":
            scores = np.sqrt(np.maximum(scores, 0.0))
        return ids, scores, self.config.kind if use_ann else "flat"


_threads: int | None = None


def set_threads(n: int) -> None:
    """FAISS (OpenMP) threads per search; 1 in servers, where worker processes give the parallelism.

    ``omp_set_num_threads`` only binds the calling thread, and every thread that is not
    OpenMP's own starts from ``OMP_NUM_THREADS`` (default: all cores) with a pool of its own
    (faiss#2731). Servers search from a pool of threads, so :meth:`WordIndex.search` re-applies
    this value in whichever thread it runs.
    """
    global _threads
    _threads = n
    faiss.omp_set_num_threads(n)


def fingerprint(matrix: np.ndarray) -> str:
    """sha256 of the float32 matrix bytes, shape included: detects an index built for other vectors."""
    m = np.ascontiguousarray(matrix, dtype=np.float32)
    h = hashlib.sha256(f"{m.shape}".encode())
    h.update(m.tobytes())
    return h.hexdigest()


def _build_ann(unit_or_raw: np.ndarray, config: IndexConfig) -> Any | None:
    n, dim = unit_or_raw.shape
    fmetric = faiss.METRIC_INNER_PRODUCT if config.metric == "cosine" else faiss.METRIC_L2
    if config.kind == "flat":
        return None
    if config.kind == "hnsw":
        ann = faiss.IndexHNSWFlat(dim, config.hnsw_m, fmetric)
        ann.hnsw.efConstruction = config.ef_construction
        ann.hnsw.efSearch = config.ef_search
        ann.add(unit_or_raw)
        return ann
    nlist = config.nlist or max(1, min(n // 39, int(4 * math.sqrt(n))))  # faiss wants >= 39 points per list
    quantizer = faiss.IndexFlatIP(dim) if config.metric == "cosine" else faiss.IndexFlatL2(dim)
    ann = faiss.IndexIVFFlat(quantizer, dim, nlist, fmetric)
    ann.train(unit_or_raw)
    ann.add(unit_or_raw)
    ann.nprobe = min(config.nprobe, nlist)
    return ann


def build_index(vectors: Vectors, config: IndexConfig) -> WordIndex:
    """Exact top-``k_max`` tables for both metrics, plus the ANN index of ``config.kind``.

    Raises:
        ConfigError: ``k_max`` is not below the vocabulary size.
    """
    n = len(vectors)
    if config.k_max > n - 1:
        raise ConfigError(f"k_max {config.k_max} must be below the vocabulary size ({n}); pass a smaller --k-max")
    set_threads(config.threads)
    started = time.perf_counter()
    tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    timings: dict[str, float] = {}
    for metric in METRICS:
        t0 = time.perf_counter()
        tables[metric] = exact_topk(vectors.matrix, config.k_max, metric, block=config.block, threads=config.threads)  # type: ignore[arg-type]
        timings[f"table_{metric}_seconds"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    base = normalise(vectors.matrix) if config.metric == "cosine" else np.ascontiguousarray(vectors.matrix, dtype=np.float32)
    ann = _build_ann(base, config)
    timings["ann_seconds"] = round(time.perf_counter() - t0, 2)
    timings["total_seconds"] = round(time.perf_counter() - started, 2)
    info = {"vocab_size": n, "dim": vectors.dim, "fingerprint": fingerprint(vectors.matrix), "timings": timings, "faiss": faiss.__version__}
    return WordIndex(config, tables, ann, info).attach(vectors)


def save_index(index: WordIndex, model_dir: str | Path) -> Path:
    """Write ``model_dir/index/`` atomically (replacing an older index). Returns its path."""
    out = Path(model_dir) / INDEX_DIR
    with atomic_dir(out, overwrite=True) as tmp:
        for metric, (ids, scores) in index.tables.items():
            np.save(tmp / f"table_{metric}_ids.npy", ids, allow_pickle=False)
            np.save(tmp / f"table_{metric}_scores.npy", scores, allow_pickle=False)
        if index.ann is not None:
            faiss.write_index(index.ann, str(tmp / "ann.faiss"))
        meta = {"format": INDEX_FORMAT, "version": INDEX_VERSION, **asdict(index.config), **index.info}
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
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: not valid JSON ({exc}); rebuild it with 'embed index {model_dir}'") from None
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT or meta.get("version", 0) > INDEX_VERSION:
        raise FormatError(f"{path}: not an embed index of version <= {INDEX_VERSION}; rebuild it with 'embed index {model_dir}'")
    return meta


def load_index(model_dir: str | Path, vectors: Vectors, check: bool = True) -> WordIndex | None:
    """Load ``model_dir/index/`` for ``vectors`` (None if the directory has no index).

    Raises:
        FormatError: files missing or damaged, or built for other vectors (``check``).
    """
    meta = read_index_meta(model_dir)
    if meta is None:
        return None
    folder = Path(model_dir) / INDEX_DIR
    fix = f"rebuild it with 'embed index {model_dir}'"
    if check and meta.get("fingerprint") != fingerprint(vectors.matrix):
        raise FormatError(f"{folder}: built for other vectors than {model_dir} holds now; {fix}")
    names = {f.name for f in IndexConfig.__dataclass_fields__.values()}  # type: ignore[attr-defined]
    config = IndexConfig(**{k: v for k, v in meta.items() if k in names})
    tables = {}
    try:
        for metric in METRICS:
            ids = np.load(folder / f"table_{metric}_ids.npy", mmap_mode="r", allow_pickle=False)
            scores = np.load(folder / f"table_{metric}_scores.npy", mmap_mode="r", allow_pickle=False)
            if ids.shape != (len(vectors), config.k_max) or scores.shape != ids.shape:
                raise FormatError(f"{folder}: table_{metric} has shape {ids.shape}, expected {(len(vectors), config.k_max)}; {fix}")
            tables[metric] = (ids, scores)
        ann = faiss.read_index(str(folder / "ann.faiss")) if config.kind != "flat" else None
    except (OSError, ValueError, RuntimeError) as exc:
        raise FormatError(f"{folder}: cannot read the index ({type(exc).__name__}: {exc}); {fix}") from None
    if ann is not None and config.kind == "hnsw":
        ann.hnsw.efSearch = config.ef_search
    elif ann is not None:
        ann.nprobe = config.nprobe
    info = {k: meta[k] for k in ("vocab_size", "dim", "fingerprint", "timings", "faiss") if k in meta}
    return WordIndex(config, tables, ann, info).attach(vectors)
