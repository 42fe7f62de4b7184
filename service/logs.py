"""Request ids in log lines: uvicorn's own handlers get the id that ``X-Request-ID`` carries.

``asgi-correlation-id``'s middleware (added outermost in ``create_app``) reads the header or makes
one and keeps it in a context variable; :class:`CorrelationIdFilter` copies it onto each record.
A log configuration of one's own (``uvicorn --log-config``) is left alone: add the filter and
``%(correlation_id)s`` there.
"""

from __future__ import annotations

import logging

from asgi_correlation_id import CorrelationIdFilter
from uvicorn.logging import AccessFormatter, DefaultFormatter

_FORMATS = {
    "uvicorn": (DefaultFormatter, "%(levelprefix)s [%(correlation_id)s] %(message)s"),
    "uvicorn.access": (AccessFormatter, '%(levelprefix)s [%(correlation_id)s] %(client_addr)s - "%(request_line)s" %(status_code)s'),
}


def install_request_id_logging() -> None:
    """Put ``[request-id]`` (``-`` outside a request) in uvicorn's default log lines, and send ``service.*`` logs there too."""
    for name, (formatter_class, fmt) in _FORMATS.items():
        for handler in logging.getLogger(name).handlers:
            if type(handler.formatter) is not formatter_class:  # not uvicorn's default configuration
                continue
            if not any(isinstance(f, CorrelationIdFilter) for f in handler.filters):
                handler.addFilter(CorrelationIdFilter(default_value="-"))
            handler.setFormatter(formatter_class(fmt, use_colors=handler.formatter.use_colors))
    service_log = logging.getLogger("service")
    uvicorn_handlers = logging.getLogger("uvicorn").handlers
    if not service_log.handlers and uvicorn_handlers and not logging.getLogger().handlers:
        # Otherwise the service's warnings reach only logging's last-resort handler, without the id.
        for handler in uvicorn_handlers:
            service_log.addHandler(handler)
        service_log.setLevel(logging.INFO)
        service_log.propagate = False
