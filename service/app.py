"""The app factory: ``create_app(settings)``; uvicorn calls ``create_app()`` with settings from the environment.

Run: ``uvicorn service.app:create_app --factory`` with ``EMBED_MODELS='{"kjv": "runs/kjv"}'``,
or ``embed serve runs/kjv``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, Depends, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from embed.runtime import configure_threads
from service.deps import require_api_key
from service.errors import install_error_handlers
from service.fastpath import WordLookupFastPath
from service.logs import AccessLog, install_request_id_logging
from service.metrics import instrument
from service.middleware import BodyLimit, ResponseHeaders
from service.openapi import install_openapi
from service.registry import Registry
from service.routes import classify, explore, health, models, query, ui
from service.settings import Settings
from service.workers import is_replacement, mark_loaded

logger = logging.getLogger(__name__)


M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def limit_malloc_arenas(n: int) -> bool:
    """Cap glibc's malloc arenas at ``n`` in this process (0: leave glibc's default). Returns whether it applied.

    glibc gives each thread that meets contention its own arena (up to 8 per core) and keeps what it
    freed there: under 64 connections the threadpool's threads made the workers' heap grow for
    minutes (bench/soak.py: +10 MiB/min of anonymous RSS over 240 s; flat with 2 arenas).
    """
    if n <= 0 or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    return bool(libc.mallopt(M_ARENA_MAX, n))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service. Models load in a background thread at startup; ``/readyz`` says when done
    (a worker replacing one that died loads before it accepts: ``service/workers.py``)."""
    settings = settings if settings is not None else Settings()
    limit_malloc_arenas(settings.malloc_arenas)  # before torch's import below makes its allocations
    # Classifier inference runs in torch; word models never import it.
    configure_threads(settings.threads, "serve", uses_torch=bool(settings.classifiers))
    registry = Registry(
        settings.models,
        warm=settings.warm,
        classifier_paths=settings.classifiers,
        exact_max_words=settings.exact_max_words,
    )

    def load() -> None:
        registry.load_all()
        mark_loaded()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if is_replacement():  # see service/workers.py: uvicorn accepts on this worker only once it has loaded
            await run_in_threadpool(load)
        else:
            threading.Thread(target=load, name="load-models", daemon=True).start()
        yield

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from this server (no CDN; the machines are offline).
    app = FastAPIOffline(
        title="embed",
        version="1",
        summary=(
            "Nearest words, vectors, similarity and analogies over word2vec models; text classifiers on top of them."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.registry = registry
    install_error_handlers(app)
    install_openapi(app, settings, registry)
    install_middleware(app, registry, settings)

    # No key configured: no dependency at all (each one costs per request, and the schema stays honest).
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)] if settings.api_key is not None else [])
    v1.include_router(models.router)
    v1.include_router(query.router)
    v1.include_router(classify.router)
    app.include_router(health.router)
    ui.install(app, v1)  # the web page at / and its autocomplete route
    explore.install(app, v1)  # the page's explorer: projections and the model page
    app.include_router(v1)
    # Routers outside /v1 (e.g. a web page: app.include_router(ui.router)) need no API key.
    return app


def install_middleware(app: FastAPI, registry: Registry, settings: Settings) -> None:
    """Added first = inner. Outermost to innermost, every layer sees the answers of those inside it:

    request id (every response and log line) > access log (EMBED_ACCESS_LOG) > security headers (CORS preflights
    included) > CORS > gzip > body limit (before any body is read) > fast path (records its answers in the request
    metrics) > request metrics > FastAPI's routes. 500s from an unhandled error are sent by Starlette outside all of
    these; ``service/errors.py`` adds the request id to them itself.
    """
    request_metrics = instrument(app, registry)  # inside the fast path: see service/metrics.py
    app.add_middleware(WordLookupFastPath, registry=registry, settings=settings, metrics=request_metrics)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, timeout=settings.body_timeout)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "HEAD"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(ResponseHeaders)
    install_request_id_logging(settings.log_format)
    if settings.access_log:
        app.add_middleware(AccessLog)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
