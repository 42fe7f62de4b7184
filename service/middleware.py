"""A pure ASGI body-size limit (cheaper per request than a BaseHTTPMiddleware)."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_response


class _TooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit.

    An HTTPException, so a FastAPI route reading its body answers it with the app's handler; the
    fast path reads bodies outside FastAPI, so :class:`BodyLimit` answers it when it escapes.
    """


class BodyLimit:
    """Answer 413 when a request body exceeds ``limit`` bytes, by Content-Length or while streaming (chunked)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.limit:
                    await self._reject(scope, receive, send)
                    return
                break
        seen, started = 0, False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(413, self._message())
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except _TooLarge:
            if started:  # a response already under way cannot become a 413
                raise
            await self._reject(scope, receive, send)

    def _message(self) -> str:
        return f"request body is over the {self.limit:,}-byte limit; send fewer or smaller queries"

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "body_too_large", self._message())
        await response(scope, receive, send)


# Sent on every response. The page (/ and /static) loads only its own files: no inline script or
# style, nothing from elsewhere, so a Content-Security-Policy of 'self' costs it nothing.
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
PAGE_CSP = (b"content-security-policy", b"default-src 'self'")
# 503 means loading (seconds to minutes) or every model failed; a client should come back, not hammer.
RETRY_AFTER = (b"retry-after", b"5")


class ResponseHeaders:
    """Add the security headers (and ``Retry-After`` on a 503) to every response, the fast path's too.

    Pure ASGI: it rewrites ``http.response.start`` and leaves a header the app set alone.
    Added last in ``create_app``, so it wraps the body limit and the fast path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        extra = SECURITY_HEADERS + ((PAGE_CSP,) if path == "/" or path.startswith("/static/") else ())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                wanted = extra + ((RETRY_AFTER,) if message["status"] == 503 else ())
                headers += [h for h in wanted if h[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
