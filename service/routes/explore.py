"""The explorer's routes (under /v1, behind the key): the vocabulary cloud, custom projections, the model page.

* ``GET /v1/models/{model}/projection?method=umap&dims=2&n=10000`` - the ``n`` most frequent words
  projected by PCA, t-SNE or UMAP (:mod:`embed.project`). Served from memory, else from
  ``MODEL_DIR/projections`` (written by ``embed project`` or by an earlier computation of the default
  size), else computed and kept in memory. ``X-Embed-Cache`` says which (memory, disk, computed; a
  background computation's answer is then served from memory).
  PCA (seconds at most) is computed within the request. t-SNE and UMAP take tens of seconds, so the first
  request starts them on a background thread and answers ``202`` (``{"status": "computing", ...,
  "retry_after": s}`` and a ``Retry-After`` header); asking again gives ``202`` until the answer is ready,
  then ``200``, or once the error (``500 projection_failed``) if the computation failed. One computation per
  key at a time, at most :data:`MAX_JOBS` at once (another key then gets ``503 projection_busy``). Each
  worker process computes for itself.
* ``POST /v1/models/{model}/projection/custom`` - the same words placed along two word-difference
  axes (``man -> woman`` x ``king -> queen``), as the Embedding Projector's custom projection.
* ``GET /v1/models/{model}/meta`` - training parameters, corpus statistics, per-epoch loss and
  words/s, evaluation scores and the model's language (from ``meta.json``).
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from embed import project
from embed.errors import EmbedError, FormatError
from service.answers import json_response
from service.deps import ModelDep, SettingsDep
from service.errors import ApiError
from service.registry import LoadedModel
from service.schemas import (
    ERRORS,
    N_DESCRIPTION,
    PROJECTION_RESPONSES,
    CustomProjectionRequest,
    ProjectionPending,
    ProjectionResponse,
)

logger = logging.getLogger(__name__)

router = APIRouter(tags=["explorer"], responses=ERRORS)

Key = tuple[str, str, int, int]  # (model, method, dims, n)
Bodies = tuple[bytes, bytes]  # the JSON answer and its gzip
MAX_JOBS = 2
"""Background t-SNE/UMAP computations at once per worker: each keeps a core busy for tens of seconds."""


def _default_n(model: LoadedModel, n: int | None) -> int:
    return n if n is not None else min(project.DEFAULT_POINTS, len(model.searcher.vectors))


@dataclass
class _Job:
    """A t-SNE or UMAP being computed on a background thread; ``error`` once it has failed."""

    started: float  # time.monotonic()
    expected: float  # seconds, project.expected_seconds
    error: ApiError | None = None

    def pending(self, key: Key) -> ProjectionPending:
        elapsed = time.monotonic() - self.started
        # ask again about when it should be done, but at least every 5 s and at most every second
        retry = int(min(5.0, max(1.0, self.expected - elapsed)))
        return ProjectionPending(
            status="computing",
            model=key[0],
            method=key[1],
            dims=key[2],
            n=key[3],
            elapsed=round(elapsed, 1),
            retry_after=retry,
        )


class _Cache:
    """Answers by (model, method, dims, n) as ready-made JSON bytes and their gzip, the background jobs
    computing others, and one lock per key that makes the check-then-start of each key atomic.

    The gzip is made once here: the app's GZipMiddleware (level 9) spent about 50 ms on each
    250 KB answer of 10,000 words, and leaves a body that is already encoded alone.
    At most :data:`MAX_ENTRIES` answers are kept (the oldest goes): every ``n`` is a new key, and
    an answer of 20,000 words is ~0.7 MB.
    """

    MAX_ENTRIES = 32

    def __init__(self) -> None:
        self.bodies: dict[Key, Bodies] = {}
        self.jobs: dict[Key, _Job] = {}
        self._locks: dict[Key, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: Key) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def add_job(self, key: Key, expected: float) -> _Job:
        """A new job for ``key`` (the caller holds the key's lock). Raises ApiError 503 at :data:`MAX_JOBS`."""
        with self._guard:
            running = sum(job.error is None for job in self.jobs.values())
            if running >= MAX_JOBS:
                raise ApiError(
                    503,
                    "projection_busy",
                    f"{running} projections are being computed already; ask again in a minute, or write them"
                    " beforehand with 'embed project MODEL_DIR --method tsne --method umap'",
                    headers={"Retry-After": "30"},
                )
            job = self.jobs[key] = _Job(time.monotonic(), expected)
            return job

    def put(self, key: Key, bodies: Bodies) -> None:
        with self._guard:
            while len(self.bodies) >= self.MAX_ENTRIES:
                oldest = next(iter(self.bodies))
                del self.bodies[oldest]
                self._locks.pop(oldest, None)
            self.bodies[key] = bodies


def _payload(
    model: LoadedModel, method: str, coords: np.ndarray, n: int, seconds: float, params: dict[str, Any]
) -> dict[str, Any]:
    vectors = model.searcher.vectors
    counts = None if vectors.counts is None else np.asarray(vectors.counts[:n]).tolist()
    return {
        "model": model.name,
        "method": method,
        "dims": int(coords.shape[1]),
        "n": n,
        "vocab_size": len(vectors),
        "words": [vectors.word(i) for i in range(n)],
        "counts": counts,
        # 4 decimals: a tenth of a pixel on a 1,000 px cloud, and a third of the bytes of float64 text
        "coords": np.round(coords.astype(np.float64), 4).ravel().tolist(),
        "seconds": seconds,
        "params": params,
    }


def _bodies(model: LoadedModel, proj: project.Projection, n: int) -> Bodies:
    body = orjson.dumps(_payload(model, proj.method, proj.coords, n, proj.seconds, proj.params))
    return body, gzip.compress(body, compresslevel=6, mtime=0)


def _compute(model: LoadedModel, method: str, dims: int, n: int, threads: int) -> Bodies:
    # Only the default size is written to the model directory (as `embed project` writes it): a request per
    # n must not fill the disk. Other sizes are read from there when `embed project --n` made them.
    write = n == _default_n(model, None)
    try:
        proj = project.compute_and_save(
            model.searcher.vectors, model.path, method, dims, n, threads=threads, write=write
        )
    except EmbedError as exc:  # ConfigError is checked before any work
        raise ApiError(500, "projection_failed", str(exc)) from None
    return _bodies(model, proj, n)


def _run_job(cache: _Cache, key: Key, job: _Job, model: LoadedModel, threads: int) -> None:
    """The background thread: compute, then publish the answer, or keep the error for the next request."""
    _, method, dims, n = key
    error: ApiError | None = None
    try:
        bodies = _compute(model, method, dims, n, threads)
    except ApiError as exc:
        error = exc
    except Exception as exc:  # a thread's end: nothing above would see it, so it becomes the next answer
        logger.exception("%s of %s (%d-d, %d words) failed", method, model.name, dims, n)
        error = ApiError(500, "projection_failed", f"{method} failed ({type(exc).__name__}: {exc}); see the server log")
    with cache.lock(key):
        if error is None:
            cache.put(key, bodies)
            del cache.jobs[key]
        else:
            job.error = error


def _answer(
    cache: _Cache, model: LoadedModel, method: str, dims: int, n: int, threads: int
) -> tuple[Bodies, str] | ProjectionPending:
    """The answer for one key: ready bodies and their source, or the job computing it (started if need be).

    Raises:
        ApiError: the job failed (answered once: the request after it starts again), a damaged cached file,
            or :data:`MAX_JOBS` already running.
    """
    project.check_request(model.searcher.vectors, method, dims, n)  # ConfigError -> 422 before any lock
    key = (model.name, method, dims, n)
    with cache.lock(key):
        if key in cache.bodies:
            return cache.bodies[key], "memory"
        job = cache.jobs.get(key)
        if job is not None:
            if job.error is not None:
                del cache.jobs[key]
                raise job.error
            return job.pending(key)
        if model.path is not None:
            try:
                stored = project.load_cached(model.path, model.searcher.vectors, method, dims, n)
            except FormatError as exc:
                raise ApiError(500, "projection_damaged", str(exc)) from None
            if stored is not None:
                bodies = _bodies(model, stored, n)
                cache.put(key, bodies)
                return bodies, "disk"
        if method == "pca":  # 1-4 s for 10,000-20,000 words: within the request, as a 202 would cost a poll
            bodies = _compute(model, method, dims, n, threads)
            cache.put(key, bodies)
            return bodies, "computed"
        return _start(cache, key, model, threads)


def _start(cache: _Cache, key: Key, model: LoadedModel, threads: int) -> ProjectionPending:
    job = cache.add_job(key, project.expected_seconds(key[1], key[3]))
    # a daemon: a shutdown does not wait for a t-SNE; nothing is half-written (project.save is atomic)
    name = f"projection-{key[1]}-{key[2]}d-{key[3]}"
    threading.Thread(target=_run_job, args=(cache, key, job, model, threads), name=name, daemon=True).start()
    return job.pending(key)


@router.get(
    "/models/{model}/projection",
    response_model=ProjectionResponse,
    responses=PROJECTION_RESPONSES,
    summary="The most frequent words projected to 2-D or 3-D (PCA, t-SNE, UMAP), cached",
)
async def get_projection(
    request: Request,
    model: ModelDep,
    settings: SettingsDep,
    method: Annotated[Literal["pca", "tsne", "umap"], Query(description="pca, tsne or umap.")] = "pca",
    dims: Annotated[int, Query(ge=2, le=3, description="2 or 3.")] = 2,
    n: Annotated[int | None, Query(ge=project.MIN_POINTS, le=project.MAX_POINTS, description=N_DESCRIPTION)] = None,
) -> Response:
    cache: _Cache = request.app.state.projections
    key = (model.name, method, dims, _default_n(model, n))
    cached = cache.bodies.get(key)  # the common case answers without a thread hop
    if cached is not None:
        answer: tuple[Bodies, str] | ProjectionPending = (cached, "memory")
    else:
        answer = await run_in_threadpool(_answer, cache, model, method, dims, key[3], settings.threads)
    if isinstance(answer, ProjectionPending):
        headers = {"Retry-After": str(answer.retry_after), "Cache-Control": "no-store"}
        return Response(answer.model_dump_json(), status_code=202, media_type="application/json", headers=headers)
    bodies, source = answer
    headers = {"X-Embed-Cache": source, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(bodies[1], media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(bodies[0], media_type="application/json", headers=headers)


def _custom(model: LoadedModel, body: CustomProjectionRequest) -> dict[str, Any]:
    vectors = model.searcher.vectors
    n = _default_n(model, body.n)
    project.check_request(vectors, "pca", 2, n)  # the same limits as the other projections
    axes = []
    for axis in (body.x, body.y):
        rows = [vectors.index(axis.start), vectors.index(axis.end)]  # NotInVocabError -> 404 with suggestions
        if rows[0] == rows[1]:
            raise ApiError(
                422,
                "invalid_request",
                f"axis {axis.start} -> {axis.end}: the same word at both ends; choose two different words",
            )
        start, end = vectors.unit(rows)
        direction = end - start
        axes.append(direction / np.linalg.norm(direction))
    coords = vectors.unit(np.arange(n)) @ np.stack(axes, axis=1)  # (n, 2): cosine with each axis direction
    params = {"x": [body.x.start, body.x.end], "y": [body.y.start, body.y.end]}
    return _payload(model, "custom", coords, n, 0.0, params)


@router.post(
    "/models/{model}/projection/custom",
    response_model=ProjectionResponse,
    summary="The most frequent words along two word-difference axes (e.g. man->woman x king->queen)",
)
async def custom_projection(body: CustomProjectionRequest, model: ModelDep) -> Response:
    return json_response(await run_in_threadpool(_custom, model, body))


_META_FIELDS = (
    "created",
    "params",
    "tokenizer",
    "corpus",
    "timings",
    "epochs",
    "loss",
    "evaluation",
    "backend",
    "versions",
    "source",
)


@router.get(
    "/models/{model}/meta",
    summary="Training parameters, corpus statistics, per-epoch loss and words/s, evaluation scores",
)
async def model_meta(model: ModelDep) -> Response:
    from embed.evaluate import language

    vectors = model.searcher.vectors
    meta = {k: vectors.meta[k] for k in _META_FIELDS if k in vectors.meta}
    return json_response(
        {"model": model.name, "vocab_size": len(vectors), "dim": vectors.dim, "language": language(vectors), **meta}
    )


def install(app: Any, v1: APIRouter) -> None:
    """Add the explorer's routes to ``v1`` and its projection cache to ``app.state``."""
    app.state.projections = _Cache()
    v1.include_router(router)
