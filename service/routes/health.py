"""Liveness and readiness (unversioned, never behind the API key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.answers import json_response
from service.deps import RegistryDep, SettingsDep, key_matches, request_key
from service.errors import ApiError
from service.schemas import Health

router = APIRouter(tags=["health"])


# HEAD answers like GET without a body (uvicorn drops it); kept out of the schema beside its GET.
@router.head("/healthz", include_in_schema=False)
@router.get("/healthz", response_model=Health, summary="The process answers")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.head("/readyz", include_in_schema=False)
@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health}},
    summary="Every configured model and classifier is loaded and warmed",
    # The operation's description in the OpenAPI document (a docstring's line breaks would be part of it).
    description=(
        "200 ``ready``; 200 ``degraded`` when some failed and others are served; 503 ``loading`` or ``failed`` "
        "(none served).\n\nWhy a model failed (a message naming its files) is shown only to a caller with the API "
        "key,\nor when none is configured."
    ),
)
async def readyz(request: Request, registry: RegistryDep, settings: SettingsDep) -> Response:
    if not registry.ready:
        detail = f"loading {len(registry.paths)} model(s) and {len(registry.classifier_paths)} classifier(s)"
        return json_response({"status": "loading", "detail": detail}, 503)
    if not registry.errors:
        return json_response({"status": "ready"})
    served = bool(registry.models or registry.classifiers)
    failed = {"models": registry.failed("model"), "classifiers": registry.failed("classifier")}
    try:
        trusted = key_matches(settings, request_key(request))
    except ApiError:  # two different keys: not a caller with the key, but /readyz still answers
        trusted = False
    detail = f"loading failed: {registry.error}" if trusted else "loading failed; send the API key to see why"
    return json_response(
        {"status": "degraded" if served else "failed", "detail": detail, "failed": failed}, 200 if served else 503
    )
