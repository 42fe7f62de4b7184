"""Liveness and readiness (unversioned, never behind the API key)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from service.deps import RegistryDep
from service.routes.query import json_response
from service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process answers")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}}, summary="Every configured model and classifier is loaded and warmed")
async def readyz(registry: RegistryDep) -> Response:
    if registry.ready:
        return json_response({"status": "ready"})
    detail = f"loading failed: {registry.error}" if registry.error else f"loading {len(registry.paths)} model(s) and {len(registry.classifier_paths)} classifier(s)"
    response = json_response({"status": "failed" if registry.error else "loading", "detail": detail})
    response.status_code = 503
    return response
