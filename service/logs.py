"""Request ids in log lines: uvicorn's own handlers get the id that ``X-Request-ID`` carries.

``asgi-correlation-id``'s middleware (added outermost in ``create_app``) reads the header or makes
one and keeps it in a context variable; :class:`CorrelationIdFilter` copies it onto each record.
A log configuration of one's own (``uvicorn --log-config``) is left alone: add the filter and
``%(correlation_id)s`` there.

``EMBED_LOG_FORMAT=json`` (``embed serve --log-format json``) writes every line as one JSON object
(python-json-logger), and with ``EMBED_ACCESS_LOG=1`` :class:`AccessLog` logs each request with its
method, path, status, size and duration in place of uvicorn's text access line.
"""

from __future__ import annotations

import logging
import time

from asgi_correlation_id import CorrelationIdFilter
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from starlette.types import Message, Receive, Scope, Send
from uvicorn.logging import AccessFormatter, DefaultFormatter

from service.middleware import HttpMiddleware

access_logger = logging.getLogger("service.access")

_FORMATS = {
    "uvicorn": (DefaultFormatter, "%(levelprefix)s [%(correlation_id)s] %(message)s"),
    "uvicorn.access": (
        AccessFormatter,
        '%(levelprefix)s [%(correlation_id)s] %(client_addr)s - "%(request_line)s" %(status_code)s',
    ),
}


def json_formatter() -> logging.Formatter:
    """time, level, logger, message, request_id, and any ``extra`` fields of the record."""
    return JsonFormatter(
        "{asctime}{levelname}{name}{message}{correlation_id}",
        style="{",
        json_ensure_ascii=False,
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's ANSI-coloured copy of the message
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "correlation_id": "request_id"},
    )


def install_request_id_logging(log_format: str = "text") -> None:
    """Put ``[request-id]`` (``-`` outside a request) in uvicorn's default log lines, and send ``service.*`` logs
    there too.

    ``log_format="json"``: uvicorn's default handlers write JSON objects instead.
    """
    for name, (formatter_class, fmt) in _FORMATS.items():
        for handler in logging.getLogger(name).handlers:
            if type(handler.formatter) is not formatter_class:  # not uvicorn's default configuration
                continue
            if not any(isinstance(f, CorrelationIdFilter) for f in handler.filters):
                handler.addFilter(CorrelationIdFilter(default_value="-"))
            use_colors = handler.formatter.use_colors
            handler.setFormatter(
                json_formatter() if log_format == "json" else formatter_class(fmt, use_colors=use_colors)
            )
    service_log = logging.getLogger("service")
    uvicorn_handlers = logging.getLogger("uvicorn").handlers
    if not service_log.handlers and uvicorn_handlers:
        # Otherwise the service's records reach the root logger (embed's CLI: WARNING and up, without the id).
        for handler in uvicorn_handlers:
            service_log.addHandler(handler)
        service_log.setLevel(logging.getLogger("uvicorn.error").getEffectiveLevel())  # follows --log-level
        service_log.propagate = False


class AccessLog(HttpMiddleware):
    """One ``service.access`` record per request: method, path, status, bytes sent, duration (ms), client.

    Pure ASGI, inside the request-id layer (so the record carries the id); only added when
    ``EMBED_ACCESS_LOG`` is on, since a log line per request costs throughput.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, status, size = time.perf_counter(), 500, 0

        async def counting_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            client = scope.get("client")
            access_logger.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "bytes": size,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "client": f"{client[0]}:{client[1]}" if client else None,
                },
            )
