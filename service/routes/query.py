"""Similarity queries: nearest words (single or batch), similarity of two words/lists, analogies."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Body
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from service.answers import answer, answer_batch, is_cheap, json_response, oov_fields, results
from service.deps import ModelDep, SettingsDep
from service.errors import ApiError
from service.schemas import (
    ERRORS,
    AnalogyRequest,
    AnalogyResponse,
    SimilarBatch,
    SimilarBatchResponse,
    SimilarityRequest,
    SimilarityResponse,
    SimilarRequest,
    SimilarResponse,
)

router = APIRouter(prefix="/models/{model}", tags=["queries"], responses=ERRORS)


@router.post(
    "/similar",
    response_model=SimilarResponse | SimilarBatchResponse,
    summary="Nearest words by word, word arithmetic or vector; one query or a batch",
)
async def similar(body: Annotated[SimilarRequest, Body()], model: ModelDep, settings: SettingsDep) -> Response:
    if isinstance(body, SimilarBatch):
        if len(body.queries) > settings.max_batch:
            raise ApiError(
                422, "invalid_request", f"{len(body.queries)} queries in one batch; at most {settings.max_batch}"
            )
        return json_response(await run_in_threadpool(answer_batch, model, body.queries))
    if is_cheap(model, body):
        return json_response(answer(model, body))
    return json_response(await run_in_threadpool(answer, model, body))


@router.post(
    "/similarity",
    response_model=SimilarityResponse,
    summary="Cosine similarity of two words, or of the means of two word lists",
)
async def similarity(body: SimilarityRequest, model: ModelDep) -> Response:
    vectors = model.searcher.vectors
    if isinstance(body.a, str) and isinstance(body.b, str):
        value = vectors.similarity(body.a, body.b)
    else:
        value = vectors.n_similarity(list(body.a), list(body.b))  # NotInVocabError names the word
    if not math.isfinite(value):  # a row imported with allow_nonfinite: no score rather than a JSON null
        raise ApiError(
            422,
            "invalid_request",
            "a vector in this comparison holds NaN or inf (imported with allow_nonfinite); it has no similarity",
        )
    words = [body.a, body.b] if isinstance(body.a, str) else [*body.a, *body.b]
    oov = [w for w in words if isinstance(w, str) and vectors.is_oov(w)]
    return json_response(
        {"model": model.name, "score_name": "cosine_similarity", "similarity": value, **oov_fields(oov)}
    )


@router.post("/analogy", response_model=AnalogyResponse, summary="a : b :: c : ? by 3CosAdd (default) or 3CosMul")
async def analogy(body: AnalogyRequest, model: ModelDep) -> Response:
    hits = await run_in_threadpool(model.searcher.analogy, body.a, body.b, body.c, body.k, body.method, body.exact)
    score_name = "cosine_similarity" if body.method == "3cosadd" else "3cosmul_score"
    return json_response(
        {
            "model": model.name,
            "method": body.method,
            "score_name": score_name,
            "exact": hits.exact,
            **oov_fields(hits.oov),
            "results": results(hits),
        }
    )
