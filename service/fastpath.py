"""A fast path for the hottest request: top-k by word, answered from the exact table, the ANN index or a small scan.

A table look-up costs ~20 us, an HNSW search of a 2M-word model ~0.1-0.3 ms; FastAPI's routing, dependency
solving and response classes cost several times that. This pure ASGI layer answers ``POST /v1/models/{model}/similar``
itself when - and only when - the body is a single by-word query a table, the ANN index or a small exact
scan answers, the word is known (or built from its n-grams by a subword model), the content type is JSON
and the API key (if configured) matches. It uses the same pydantic model (:class:`SimilarQuery`) and the
same :func:`answer` as the route, so the response is identical. Anything else (errors included) is handed
to the FastAPI app with the body replayed, so validation errors, 401s and 404s keep one implementation.
"""

from __future__ import annotations

import re
import secrets
import time

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embed.errors import ConfigError, NotInVocabError
from service.answers import answer, is_cheap
from service.deps import header_key
from service.errors import ApiError
from service.metrics import RequestMetrics
from service.registry import LoadedModel, Registry
from service.schemas import SimilarQuery
from service.settings import Settings

_SIMILAR = re.compile(r"^/v1/models/([^/]+)/similar$")
_ROUTE = "/v1/models/{model}/similar"  # the route's template: the label FastAPI's answers get


class WordLookupFastPath:
    """Answer table-covered by-word queries before the router; delegate everything else."""

    def __init__(
        self, app: ASGIApp, registry: Registry, settings: Settings, metrics: RequestMetrics | None = None
    ) -> None:
        # It answers before FastAPI's router, where no dependency is solved (that would cost what this
        # layer saves), so create_app hands it the registry and settings the routes get from service/deps.py.
        self.app, self.registry, self.metrics = app, registry, metrics
        self.key = settings.api_key.get_secret_value().encode() if settings.api_key is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _SIMILAR.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        model = self.registry.models.get(match.group(1)) if match else None
        if model is None or not self._headers_ok(scope):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            query = SimilarQuery.model_validate_json(body)
        except ValidationError:
            query = None
        payload = None
        if query is not None and _answerable(model, query.word) and is_cheap(model, query):
            started = time.perf_counter()
            try:
                payload = orjson.dumps(answer(model, query))
            except (ConfigError, NotInVocabError):
                pass  # the routes answer with the JSON error (e.g. a NaN row imported with allow_nonfinite)
        if payload is not None:
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            if self.metrics is not None:
                self.metrics.observe(_ROUTE, "POST", "200", time.perf_counter() - started)
            return
        await self.app(scope, _replay(body, receive), send)

    def _headers_ok(self, scope: Scope) -> bool:
        """JSON, and the key (if configured) matches; anything else, a doubled key included, goes to the routes."""
        json_body = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                json_body = value.split(b";")[0].strip().lower() == b"application/json"
        if self.key is not None:
            try:
                given = header_key(scope["headers"])  # the routes' own reading of the key
            except ApiError:
                return False  # the routes answer the 401
            if given is None or not secrets.compare_digest(given, self.key):
                return False
        return json_body


def _answerable(model: LoadedModel, word: str | None) -> bool:
    """A word the model answers: in its vocabulary, or built from its n-grams (a subword model)."""
    return word is not None and (word in model.searcher.vectors or model.searcher.is_oov(word))


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands the already-read body to the app once, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
