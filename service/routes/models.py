"""Which models are served, and their vectors."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter
from starlette.responses import Response

from service.answers import json_response
from service.deps import ModelDep, RegistryDep, SettingsDep
from service.errors import ApiError
from service.schemas import (
    ERRORS,
    ModelInfo,
    ModelsResponse,
    VectorsRequest,
    VectorsResponse,
    WordVector,
)

router = APIRouter(tags=["models"], responses=ERRORS)


@router.get(
    "/models",
    response_model=ModelsResponse,
    summary="Served models: name, vocabulary size, dimension, index, training parameters",
)
async def list_models(registry: RegistryDep) -> Response:
    return json_response({"models": [m.info for m in registry.models.values()], "failed": registry.failed("model")})


@router.get(
    "/models/{model}",
    response_model=ModelInfo,
    summary="One served model: vocabulary size, dimension, index, training parameters",
)
async def get_model_info(model: ModelDep) -> Response:
    return json_response(model.info)


def _finite(word: str, vector: np.ndarray) -> list[float]:
    """JSON has no NaN: a row imported with allow_nonfinite is refused by name rather than sent as nulls."""
    if not np.isfinite(vector).all():
        raise ApiError(
            422,
            "invalid_request",
            f"the vector of {word!r} holds NaN or inf (imported with allow_nonfinite); JSON cannot carry it",
        )
    return vector.tolist()  # type: ignore[no-any-return]


@router.get("/models/{model}/vectors/{word:path}", response_model=WordVector, summary="The vector of one word")
async def get_vector(model: ModelDep, word: str) -> Response:
    vectors = model.searcher.vectors
    return json_response(
        {"word": word, "vector": _finite(word, vectors[word]), **({"oov": True} if vectors.is_oov(word) else {})}
    )


@router.post("/models/{model}/vectors", response_model=VectorsResponse, summary="The vectors of several words")
async def get_vectors(body: VectorsRequest, model: ModelDep, settings: SettingsDep) -> Response:
    if len(body.words) > settings.max_words:
        raise ApiError(422, "invalid_request", f"{len(body.words)} words in one request; at most {settings.max_words}")
    vectors = model.searcher.vectors
    rows = [
        {"word": w, "vector": _finite(w, vectors[w]), **({"oov": True} if vectors.is_oov(w) else {})}
        for w in body.words
    ]
    return json_response({"model": model.name, "dim": vectors.dim, "vectors": rows})
