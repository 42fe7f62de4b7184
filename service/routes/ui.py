"""The web page: ``/`` and ``/static/*`` (no API key: the page holds no data), and the
vocabulary autocomplete route ``GET /v1/models/{model}/words`` (behind the key like all of /v1).

The page itself is plain HTML, CSS and JavaScript in ``service/static`` that talks to the JSON
API; nothing is fetched from outside the server (the machines have no internet). The cloud is
drawn by Google PAIR's scatter-gl on three.js, vendored from npm in ``service/static/vendor``.
The explorer's own API routes (projections, the model page) live in :mod:`service.routes.explore`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from embed.prefix import PrefixIndex
from service.answers import json_response
from service.deps import ModelDep
from service.registry import LoadedModel
from service.schemas import ERRORS, WordsResponse

STATIC = Path(__file__).resolve().parents[1] / "static"

page = APIRouter(tags=["web page"], include_in_schema=False)
api = APIRouter(tags=["models"], responses=ERRORS)


@page.get("/")
async def index_page() -> FileResponse:
    # no-cache: a restarted server with a new page version is picked up at once
    return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


_lock = threading.Lock()


def _prefix_index(request: Request, model: LoadedModel) -> PrefixIndex:
    """Built on first use per model (sorting the vocabulary once) and kept for the app's life."""
    cache: dict[str, PrefixIndex] = request.app.state.prefix_indexes
    with _lock:
        if model.name not in cache:
            cache[model.name] = PrefixIndex(model.searcher.vectors.words)
        return cache[model.name]


@api.get(
    "/models/{model}/words",
    response_model=WordsResponse,
    summary="Vocabulary words starting with a prefix (case-insensitive), most frequent first",
)
async def complete_words(
    request: Request,
    model: ModelDep,
    prefix: Annotated[str, Query(min_length=1, max_length=256, description="The start of a word.")],
    limit: Annotated[int, Query(ge=1, le=100, description="How many words at most.")] = 10,
) -> Response:
    index = await run_in_threadpool(_prefix_index, request, model)
    return json_response({"model": model.name, "prefix": prefix, "words": index.complete(prefix, limit)})


def install(app: FastAPI, v1: APIRouter) -> None:
    """Add the page, its static files and the autocomplete route (call before ``include_router(v1)``)."""
    app.state.prefix_indexes = {}
    v1.include_router(api)
    app.include_router(page)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
