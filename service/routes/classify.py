"""Text classifiers trained with ``embed classify train``: list them, predict labels for a batch of texts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from embed.errors import FormatError
from service.answers import json_response
from service.deps import ClassifierDep, RegistryDep, SettingsDep
from service.errors import ApiError
from service.registry import LoadedClassifier
from service.schemas import ERRORS, ClassifiersResponse, PredictRequest, PredictResponse

router = APIRouter(prefix="/classifiers", tags=["classifiers"], responses=ERRORS)


@router.get(
    "",
    response_model=ClassifiersResponse,
    summary="Served classifiers: architecture, embedding mode, labels, vocabulary, tokenizer",
)
async def list_classifiers(registry: RegistryDep) -> Response:
    return json_response({"classifiers": [c.info for c in registry.classifiers.values()]})


def _predict(loaded: LoadedClassifier, texts: list[str], k: int, truncate: bool) -> list[dict[str, Any]]:
    try:
        top = loaded.classifier.predict(texts, k=k, source="texts", truncate=truncate)
    except FormatError as exc:  # a text over the classifier's token limit; the library's hint names CLI flags
        limit = loaded.classifier.config.max_tokens
        what = str(exc).split(";")[0]
        raise ApiError(
            422, "invalid_request", f'{what}; shorten it or send "truncate": true (keeps the first {limit} tokens)'
        ) from None
    return [
        {
            "label": labels[0][0],
            "probability": labels[0][1],
            "labels": [{"label": lab, "probability": p, "rank": r} for r, (lab, p) in enumerate(labels, 1)],
        }
        for labels in top
    ]


@router.post(
    "/{classifier}/predict", response_model=PredictResponse, summary="Labels and probabilities for a batch of texts"
)
async def predict(body: PredictRequest, classifier: ClassifierDep, settings: SettingsDep) -> Response:
    if len(body.texts) > settings.max_batch:
        raise ApiError(
            422, "invalid_request", f"texts: {len(body.texts)} texts in one request; at most {settings.max_batch}"
        )
    predictions = await run_in_threadpool(_predict, classifier, body.texts, body.k, body.truncate)
    return json_response({"classifier": classifier.name, "predictions": predictions})
