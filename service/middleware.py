"""Pure ASGI layers (cheaper per request than a BaseHTTPMiddleware): body size and time limits, response headers.

:class:`HttpMiddleware` is their shape, and :class:`service.logs.AccessLog`'s.
"""

from __future__ import annotations

import asyncio
import sys

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_response


class _BodyError(HTTPException):
    """Raised from ``receive`` once a streamed body passes the size limit (413) or the time limit (408).

    An HTTPException, so a FastAPI route reading its body answers it with the app's handler; the
    fast path reads bodies outside FastAPI, so :class:`BodyLimit` answers it when it escapes.
    """


# The rest of the body may still be on its way: the connection cannot be reused.
_CLOSE = {"Connection": "close"}


class HttpMiddleware:
    """A pure ASGI layer over HTTP requests: :meth:`handle` sees each one; lifespan and websocket
    events pass straight through to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class BodyLimit(HttpMiddleware):
    """Answer 413 when a request body exceeds ``limit`` bytes, by Content-Length or while streaming
    (chunked), and 408 when it has not arrived ``timeout`` seconds after the request started (a slow
    or stalled client would otherwise hold a connection and a request slot for ever)."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float = 30.0) -> None:
        super().__init__(app)
        self.limit, self.timeout = limit, timeout

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.limit:
                    await self._reject(scope, receive, send, _BodyError(413, self._message()))
                    return
                break
        seen, started, done = 0, False, False
        deadline = asyncio.get_running_loop().time() + self.timeout

        async def limited_receive() -> Message:
            nonlocal seen, done
            if done:  # body complete: what is left is the disconnect, which may come at any time
                return await receive()
            try:
                if sys.version_info >= (3, 11):
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                else:  # no asyncio.timeout_at before 3.11 (a task per wait, so only there)
                    message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except (TimeoutError, asyncio.TimeoutError):  # one class from 3.11 on
                raise _BodyError(
                    408, f"request body not received within {self.timeout:g} s; send it at once", _CLOSE
                ) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyError(413, self._message(), _CLOSE)
                done = not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except _BodyError as e:
            if started:  # a response already under way cannot become a 413/408
                raise
            await self._reject(scope, receive, send, e)

    def _message(self) -> str:
        return f"request body is over the {self.limit:,}-byte limit; send fewer or smaller queries"

    async def _reject(self, scope: Scope, receive: Receive, send: Send, error: _BodyError) -> None:
        code = "body_too_large" if error.status_code == 413 else "body_timeout"
        response = error_response(error.status_code, code, str(error.detail), headers=_CLOSE)
        await response(scope, receive, send)


# Sent on every response. The page (/ and /static) loads only its own files: no inline script or
# style, nothing from elsewhere, so a Content-Security-Policy of 'self' costs it nothing.
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
PAGE_CSP = (b"content-security-policy", b"default-src 'self'")
# 503 means loading (seconds to minutes) or every model failed; a client should come back, not hammer.
RETRY_AFTER = (b"retry-after", b"5")


class ResponseHeaders(HttpMiddleware):
    """Add the security headers (and ``Retry-After`` on a 503) to every response, the fast path's too.

    Pure ASGI: it rewrites ``http.response.start`` and leaves a header the app set alone.
    Added last in ``create_app``, so it wraps the body limit and the fast path.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
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
