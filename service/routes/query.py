"""Similarity queries: nearest words (single or batch), similarity of two words/lists, analogies."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from embed.search import Hits
from service.deps import ModelDep
from service.errors import ApiError
from service.registry import LoadedModel
from service.settings import Settings
from service.schemas import (
    ERRORS,
    AnalogyRequest,
    AnalogyResponse,
    SimilarBatch,
    SimilarBatchResponse,
    SimilarityRequest,
    SimilarityResponse,
    SimilarQuery,
    SimilarRequest,
    SimilarResponse,
)

router = APIRouter(prefix="/models/{model}", tags=["queries"], responses=ERRORS)

SCORE_NAMES = {"cosine": "cosine_similarity", "euclidean": "euclidean_distance"}


def json_response(payload: Any) -> Response:
    """orjson bytes straight out: no second validation pass over a response we built ourselves."""
    return Response(orjson.dumps(payload), media_type="application/json")


def _results(hits: Hits) -> list[dict[str, Any]]:
    return [{"word": w, "score": s, "rank": r} for r, (w, s) in enumerate(zip(hits.words, hits.scores), 1)]


def answer(model: LoadedModel, q: SimilarQuery) -> dict[str, Any]:
    """One query as a SimilarResponse dict. Raises NotInVocabError / ConfigError."""
    s = model.searcher
    if q.word is not None:
        hits = s.by_word(q.word, q.k, q.metric, q.exact)
    elif q.vector is not None:
        hits = s.by_vector(q.vector, q.k, q.metric, q.exact)
    else:
        hits = s.by_words(q.positive, q.negative, q.k, q.metric, q.exact)
    return {"model": model.name, "metric": q.metric, "score_name": SCORE_NAMES[q.metric], "exact": hits.exact, "method": hits.method, "results": _results(hits)}


def is_lookup(model: LoadedModel, q: SimilarQuery) -> bool:
    """A table look-up costs microseconds: answer it on the event loop, not in a thread."""
    index = model.searcher.index
    return q.word is not None and q.metric in index.tables and q.k <= index.k_max


@router.post("/similar", response_model=SimilarResponse | SimilarBatchResponse, summary="Nearest words by word, word arithmetic or vector; one query or a batch")
async def similar(body: Annotated[SimilarRequest, Body()], model: ModelDep, request: Request) -> Response:
    if isinstance(body, SimilarBatch):
        settings: Settings = request.app.state.settings
        if len(body.queries) > settings.max_batch:
            raise ApiError(422, "invalid_request", f"{len(body.queries)} queries in one batch; at most {settings.max_batch}")
        results = await run_in_threadpool(lambda: [answer(model, q) for q in body.queries])
        return json_response({"model": model.name, "results": results})
    if is_lookup(model, body):
        return json_response(answer(model, body))
    return json_response(await run_in_threadpool(answer, model, body))


@router.post("/similarity", response_model=SimilarityResponse, summary="Cosine similarity of two words, or of the means of two word lists")
async def similarity(body: SimilarityRequest, model: ModelDep) -> Response:
    vectors = model.searcher.vectors
    if isinstance(body.a, str) and isinstance(body.b, str):
        value = vectors.similarity(body.a, body.b)
    else:
        a, b = list(body.a), list(body.b)
        for w in (*a, *b):
            vectors.index(w)  # raises NotInVocabError naming the word
        value = float(vectors.kv.n_similarity(a, b))
    return json_response({"model": model.name, "score_name": "cosine_similarity", "similarity": value})


@router.post("/analogy", response_model=AnalogyResponse, summary="a : b :: c : ? by 3CosAdd (default) or 3CosMul")
async def analogy(body: AnalogyRequest, model: ModelDep) -> Response:
    hits = await run_in_threadpool(model.searcher.analogy, body.a, body.b, body.c, body.k, body.method, body.exact)
    score_name = "cosine_similarity" if body.method == "3cosadd" else "3cosmul_score"
    return json_response({"model": model.name, "method": body.method, "score_name": score_name, "exact": hits.exact, "results": _results(hits)})
