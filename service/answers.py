"""The answers the query routes and the fast path build: orjson bytes from library results, no second
validation pass."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from embed.errors import ConfigError, NotInVocabError
from embed.search import Hits, Query
from service.registry import LoadedModel
from service.schemas import SimilarQuery

SCORE_NAMES = {"cosine": "cosine_similarity", "euclidean": "euclidean_distance"}


def json_response(payload: Any, status_code: int = 200) -> Response:
    """orjson bytes straight out: no second validation pass over a response we built ourselves."""
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


def results(hits: Hits) -> list[dict[str, Any]]:
    """Neighbours as ``{"word", "score", "rank"}`` dicts, best first."""
    return [
        {"word": w, "score": s, "rank": r} for r, (w, s) in enumerate(zip(hits.words, hits.scores, strict=False), 1)
    ]


def _query(q: SimilarQuery) -> Query:
    return Query(
        word=q.word,
        positive=q.positive,
        negative=q.negative,
        vector=q.vector,
        k=q.k,
        metric=q.metric,
        exact=q.exact,
        ef_search=q.ef_search,
    )


def oov_fields(words: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``{"oov": true, "oov_words": [...]}`` when a subword model built some query words from their n-grams,
    else nothing."""
    return {"oov": True, "oov_words": list(words)} if words else {}


def _response(model: LoadedModel, q: SimilarQuery, hits: Hits) -> dict[str, Any]:
    return {
        "model": model.name,
        "metric": q.metric,
        "score_name": SCORE_NAMES[q.metric],
        "exact": hits.exact,
        "method": hits.method,
        **oov_fields(hits.oov),
        "results": results(hits),
    }


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
    results = [
        _item_error(h) if isinstance(h, Exception) else _response(model, q, h)
        for q, h in zip(queries, hits, strict=False)
    ]
    return {"model": model.name, "results": results, "errors": sum(isinstance(h, Exception) for h in hits)}


def is_cheap(model: LoadedModel, q: SimilarQuery) -> bool:
    """A table look-up (microseconds), a by-word ANN search at most ``CHEAP_EF`` wide (0.4 ms on real vectors, up to
    ~4 ms at 2M words) or a small exact scan: answered on the event loop, not in a thread."""
    return model.searcher.is_cheap(q.word, q.k, q.metric, q.exact, q.ef_search)
