"""Similarity queries: nearest words (single or batch), similarity of two words/lists, analogies."""

from __future__ import annotations

import math
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from embed.errors import ConfigError, NotInVocabError
from embed.search import Hits, Query
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


def json_response(payload: Any, status_code: int = 200) -> Response:
    """orjson bytes straight out: no second validation pass over a response we built ourselves."""
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


def _results(hits: Hits) -> list[dict[str, Any]]:
    return [{"word": w, "score": s, "rank": r} for r, (w, s) in enumerate(zip(hits.words, hits.scores), 1)]


def _query(q: SimilarQuery) -> Query:
    return Query(word=q.word, positive=q.positive, negative=q.negative, vector=q.vector, k=q.k, metric=q.metric, exact=q.exact)


def _response(model: LoadedModel, q: SimilarQuery, hits: Hits) -> dict[str, Any]:
    return {"model": model.name, "metric": q.metric, "score_name": SCORE_NAMES[q.metric], "exact": hits.exact, "method": hits.method, "results": _results(hits)}


def answer(model: LoadedModel, q: SimilarQuery) -> dict[str, Any]:
    """One query as a SimilarResponse dict. Raises NotInVocabError / ConfigError."""
    return _response(model, q, model.searcher.batch([_query(q)])[0])


def _item_error(e: NotInVocabError | ConfigError) -> dict[str, Any]:
    if isinstance(e, NotInVocabError):
        message = f"word {e.word!r} is not in the model's vocabulary{e.hint}"
        return {"error": {"status": 404, "code": "word_not_found", "message": message, "suggestions": e.suggestions}}
    return {"error": {"status": 422, "code": "invalid_request", "message": str(e)}}


def answer_batch(model: LoadedModel, queries: list[SimilarQuery]) -> dict[str, Any]:
    """Every query of a batch: one matrix product (or FAISS call) per metric and method.

    A query that cannot be answered (an unknown word, a vector of the wrong size) gets its error in
    its place, as it would have on its own; the others are answered.
    """
    hits = model.searcher.batch_or_errors([_query(q) for q in queries])
    results = [_item_error(h) if isinstance(h, Exception) else _response(model, q, h) for q, h in zip(queries, hits)]
    return {"model": model.name, "results": results, "errors": sum(isinstance(h, Exception) for h in hits)}


def is_cheap(model: LoadedModel, q: SimilarQuery) -> bool:
    """A table look-up (microseconds) or a by-word ANN search (~0.1-0.3 ms): answered on the event loop, not in a thread."""
    return model.searcher.is_cheap(q.word, q.k, q.metric, q.exact)


@router.post("/similar", response_model=SimilarResponse | SimilarBatchResponse, summary="Nearest words by word, word arithmetic or vector; one query or a batch")
async def similar(body: Annotated[SimilarRequest, Body()], model: ModelDep, request: Request) -> Response:
    if isinstance(body, SimilarBatch):
        settings: Settings = request.app.state.settings
        if len(body.queries) > settings.max_batch:
            raise ApiError(422, "invalid_request", f"{len(body.queries)} queries in one batch; at most {settings.max_batch}")
        return json_response(await run_in_threadpool(answer_batch, model, body.queries))
    if is_cheap(model, body):
        return json_response(answer(model, body))
    return json_response(await run_in_threadpool(answer, model, body))


@router.post("/similarity", response_model=SimilarityResponse, summary="Cosine similarity of two words, or of the means of two word lists")
async def similarity(body: SimilarityRequest, model: ModelDep) -> Response:
    vectors = model.searcher.vectors
    if isinstance(body.a, str) and isinstance(body.b, str):
        value = vectors.similarity(body.a, body.b)
    else:
        value = vectors.n_similarity(list(body.a), list(body.b))  # NotInVocabError names the word
    if not math.isfinite(value):  # a row imported with allow_nonfinite: no score rather than a JSON null
        raise ApiError(422, "invalid_request", "a vector in this comparison holds NaN or inf (imported with allow_nonfinite); it has no similarity")
    return json_response({"model": model.name, "score_name": "cosine_similarity", "similarity": value})


@router.post("/analogy", response_model=AnalogyResponse, summary="a : b :: c : ? by 3CosAdd (default) or 3CosMul")
async def analogy(body: AnalogyRequest, model: ModelDep) -> Response:
    hits = await run_in_threadpool(model.searcher.analogy, body.a, body.b, body.c, body.k, body.method, body.exact)
    score_name = "cosine_similarity" if body.method == "3cosadd" else "3cosmul_score"
    return json_response({"model": model.name, "method": body.method, "score_name": score_name, "exact": hits.exact, "results": _results(hits)})
