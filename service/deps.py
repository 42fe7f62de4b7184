"""Dependencies as ``Annotated`` aliases: settings, the model named in the path, the API key check."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.errors import ApiError
from service.registry import LoadedClassifier, LoadedModel, Registry
from service.settings import Settings

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The key from EMBED_API_KEY (when set).")
_bearer = HTTPBearer(auto_error=False, description="Alternatively: Authorization: Bearer <EMBED_API_KEY>.")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings  # set by create_app
    return settings


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]


T = TypeVar("T")


def _served(kind: str, name: str, loaded: dict[str, T], configured: dict[str, Any], ready: bool) -> T:
    """``loaded[name]``, or ApiError 503 (configured, still loading) or 404 (naming what is served)."""
    found = loaded.get(name)
    if found is not None:
        return found
    if name in configured and not ready:
        raise ApiError(503, "not_ready", f"{kind} {name!r} is still loading; retry when /readyz answers 200")
    names = ", ".join(sorted(configured)) or "none"
    raise ApiError(404, f"{kind}_not_found", f"no {kind} named {name!r}; served {kind}s: {names}")


async def get_model(model: str, request: Request) -> LoadedModel:
    """The served model called ``model``. Raises ApiError 404 (unknown) or 503 (still loading)."""
    registry: Registry = request.app.state.registry  # not a sub-dependency: this runs on every query
    return _served("model", model, registry.models, registry.paths, registry.ready)


ModelDep = Annotated[LoadedModel, Depends(get_model)]


async def get_classifier(classifier: str, request: Request) -> LoadedClassifier:
    """The served classifier called ``classifier``. Raises ApiError 404 (unknown) or 503 (still loading)."""
    registry: Registry = request.app.state.registry
    return _served("classifier", classifier, registry.classifiers, registry.classifier_paths, registry.ready)


ClassifierDep = Annotated[LoadedClassifier, Depends(get_classifier)]


def key_matches(settings: Settings, given: str | None) -> bool:
    """True when no key is configured, or ``given`` is it (compared in constant time)."""
    if settings.api_key is None:
        return True
    return given is not None and secrets.compare_digest(given.encode(), settings.api_key.get_secret_value().encode())


_KEY_HINT = "send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'"


def header_key(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The key in raw ASGI headers: ``X-API-Key``, else ``Authorization: Bearer``, else None.

    The fast path and the routes both read it here, so a doubled header gets one answer:
    ``[(b"x-api-key", b"k"), (b"x-api-key", b"k")] -> b"k"``; two different values raise.

    Raises:
        ApiError: 401, ``X-API-Key`` given more than once with different values.
    """
    keys: set[bytes] = set()
    bearer: bytes | None = None
    for name, value in headers:
        if name == b"x-api-key":
            keys.add(value)
        elif name == b"authorization" and bearer is None and value[:7].lower() == b"bearer ":
            bearer = value[7:].strip()
    if len(keys) > 1:
        raise ApiError(
            401,
            "unauthorized",
            f"{len(keys)} different X-API-Key headers in one request; {_KEY_HINT}",
            {"WWW-Authenticate": "Bearer"},
        )
    return next(iter(keys)) if keys else bearer


def request_key(request: Request) -> str | None:
    """The key a request carries (see :func:`header_key`), decoded as Starlette decodes headers. Raises ApiError 401."""
    given = header_key(request.scope["headers"])
    return given.decode("latin-1") if given is not None else None


async def require_api_key(
    request: Request,
    declared_key: Annotated[str | None, Security(_key_header)] = None,
    declared_bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> None:
    """The request must carry ``EMBED_API_KEY`` (X-API-Key or Bearer). Raises ApiError 401.

    ``create_app`` adds this to ``/v1`` only when a key is configured, so the OpenAPI
    description shows the security scheme exactly when it applies. The two ``Security``
    parameters declare the schemes; the key is read from the raw headers, where a doubled
    ``X-API-Key`` shows (the parsed ones keep only the first).
    """
    settings: Settings = request.app.state.settings
    given = request_key(request)
    if not key_matches(settings, given):
        what = "missing" if given is None else "wrong"
        raise ApiError(401, "unauthorized", f"API key {what}: {_KEY_HINT}", {"WWW-Authenticate": "Bearer"})
