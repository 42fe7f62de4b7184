"""The explorer's routes (under /v1, behind the key): the vocabulary cloud, custom projections, the model page.

* ``GET /v1/models/{model}/projection?method=umap&dims=2&n=10000`` - the ``n`` most frequent words
  projected by PCA, t-SNE or UMAP (:mod:`embed.project`). Served from memory, else from
  ``MODEL_DIR/projections`` (written by ``embed project`` or by an earlier request for the default
  size), else computed (seconds for PCA, tens of seconds for t-SNE/UMAP) and cached. ``X-Embed-Cache``
  says which (memory, disk, computed).
* ``POST /v1/models/{model}/projection/custom`` - the same words placed along two word-difference
  axes (``man -> woman`` x ``king -> queen``), as the Embedding Projector's custom projection.
* ``GET /v1/models/{model}/meta`` - training parameters, corpus statistics, per-epoch loss and
  words/s, evaluation scores and the model's language (from ``meta.json``).
"""

from __future__ import annotations

import gzip
import logging
import threading
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from embed import project
from embed.errors import FormatError
from service.answers import json_response
from service.deps import ModelDep, SettingsDep
from service.errors import ApiError
from service.registry import LoadedModel
from service.schemas import ERRORS, N_DESCRIPTION, CustomProjectionRequest, ProjectionResponse

logger = logging.getLogger(__name__)

router = APIRouter(tags=["explorer"], responses=ERRORS)


def _default_n(model: LoadedModel, n: int | None) -> int:
    return n if n is not None else min(project.DEFAULT_POINTS, len(model.searcher.vectors))


class _Cache:
    """Answers by (model, method, dims, n) as ready-made JSON bytes and their gzip, and one lock per
    key so that two requests for a t-SNE being computed wait for the one computation.

    The gzip is made once here: the app's GZipMiddleware (level 9) spent about 50 ms on each
    250 KB answer of 10,000 words, and leaves a body that is already encoded alone.
    At most :data:`MAX_ENTRIES` answers are kept (the oldest goes): every ``n`` is a new key, and
    an answer of 20,000 words is ~0.7 MB.
    """

    MAX_ENTRIES = 32

    def __init__(self) -> None:
        self.bodies: dict[tuple[str, str, int, int], tuple[bytes, bytes]] = {}
        self._locks: dict[tuple[str, str, int, int], threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: tuple[str, str, int, int]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def put(self, key: tuple[str, str, int, int], bodies: tuple[bytes, bytes]) -> None:
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


def _build(model: LoadedModel, method: str, dims: int, n: int, threads: int) -> tuple[bytes, str]:
    # Only the default size is written to the model directory (as `embed project` writes it): a request per
    # n must not fill the disk. Other sizes are read from there when `embed project --n` made them.
    write = n == _default_n(model, None)
    try:
        proj, cached = project.get_or_compute(
            model.searcher.vectors, model.path, method, dims, n, threads=threads, write=write
        )
    except FormatError as exc:
        raise ApiError(500, "projection_damaged", str(exc)) from None
    body = orjson.dumps(_payload(model, method, proj.coords, n, proj.seconds, proj.params))
    return body, "disk" if cached else "computed"


def _answer(
    cache: _Cache, model: LoadedModel, method: str, dims: int, n: int, threads: int
) -> tuple[tuple[bytes, bytes], str]:
    project.check_request(model.searcher.vectors, method, dims, n)  # ConfigError -> 422 before any lock
    key = (model.name, method, dims, n)
    with cache.lock(key):
        if key in cache.bodies:
            return cache.bodies[key], "memory"
        body, source = _build(model, method, dims, n, threads)
        bodies = (body, gzip.compress(body, compresslevel=6, mtime=0))
        cache.put(key, bodies)
        return bodies, source


@router.get(
    "/models/{model}/projection",
    response_model=ProjectionResponse,
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
        bodies, source = cached, "memory"
    else:
        bodies, source = await run_in_threadpool(_answer, cache, model, method, dims, key[3], settings.threads)
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
