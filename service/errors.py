"""JSON errors: every failure answers ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from embed.errors import ConfigError, NotInVocabError

logger = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "body_timeout",
    413: "body_too_large",
    422: "invalid_request",
    503: "not_ready",
}


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a one-line message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: object
) -> Response:
    """The JSON error body; ``extra`` fields (e.g. ``suggestions``) go beside code and message."""
    body = orjson.dumps({"error": {"code": code, "message": message, **extra}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _describe(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        if e.get("type") == "json_invalid":
            return (
                f"body is not valid JSON (error at character {e['loc'][-1]}); "
                "send a JSON object with Content-Type: application/json"
            )
        where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "batch")) or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def install_error_handlers(app: FastAPI) -> None:
    """Map HTTP, validation and library errors to the JSON error shape."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(NotInVocabError)
    async def _oov(_: Request, exc: NotInVocabError) -> Response:
        return error_response(
            404,
            "word_not_found",
            f"word {exc.word!r} is not in the model's vocabulary{exc.hint}",
            suggestions=exc.suggestions,
        )

    @app.exception_handler(ConfigError)
    async def _config(_: Request, exc: ConfigError) -> Response:
        return error_response(422, "invalid_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return error_response(422, "invalid_request", _describe(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's 400 for a body json.loads cannot decode
            return error_response(
                422,
                "invalid_request",
                f"body is not UTF-8 ({exc.__cause__.reason} at byte {exc.__cause__.start}); send UTF-8 JSON",
            )
        code = _CODES.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        logger.exception("unhandled error")
        # Starlette sends this outside every middleware, so the request-id layer never sees it.
        request_id = correlation_id.get()
        headers = {"X-Request-ID": request_id} if request_id else None
        return error_response(
            500,
            "internal_error",
            f"internal error ({type(exc).__name__}); see the server log (request {request_id})",
            headers,
        )
