"""Anchor servers for bench/serve.py: the usual ways of putting word similarity behind FastAPI.

``ANCHOR=gensim|flat|hnsw|noop ANCHOR_MODEL=DIR uvicorn bench.anchors:create_app --factory``

Each answers ``POST /similar {"word": ..., "k": ...}`` (the body our service takes) with a
plain ``def`` endpoint and FastAPI's default JSON encoding, as tutorials and word2vec-api do:

* gensim - ``KeyedVectors.most_similar`` (a full matrix-vector product and sort per query);
* flat   - FAISS ``IndexFlatIP`` over unit vectors (exact), 1 OpenMP thread;
* hnsw   - FAISS HNSW from the model's ``index/ann.faiss`` (M 32, efSearch 64), 1 thread;
* noop   - validates the body and returns a constant: the framework's own ceiling.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel


class Query(BaseModel):
    word: str
    k: int = 10


def create_app() -> FastAPI:
    from threadpoolctl import threadpool_limits

    from embed.index import load_index, set_threads
    from embed.io import load
    from embed.neighbours import normalise

    threadpool_limits(1)
    set_threads(1)
    kind = os.environ["ANCHOR"]
    app = FastAPI()
    if kind == "noop":

        @app.post("/similar")
        def noop(q: Query) -> dict[str, Any]:
            return {"word": q.word, "results": []}

        return app
    vectors = load(os.environ["ANCHOR_MODEL"])
    keys = vectors.words
    if kind == "gensim":
        kv = vectors.to_gensim()  # the usual word2vec-api pattern: gensim's KeyedVectors in the worker
        kv.fill_norms()

        @app.post("/similar")
        def gensim_similar(q: Query) -> dict[str, Any]:
            return {
                "word": q.word,
                "results": [{"word": w, "score": float(s)} for w, s in kv.most_similar(q.word, topn=q.k)],
            }

        return app
    unit = normalise(vectors.matrix)
    if kind == "flat":
        import faiss

        index: Any = faiss.IndexFlatIP(vectors.dim)  # plain FAISS, as a service without embed would
        index.add(unit)
    else:
        loaded = load_index(os.environ["ANCHOR_MODEL"], vectors)
        assert loaded is not None and loaded.config.kind == "hnsw", "run 'embed index DIR --kind hnsw' first"
        index = loaded.ann

    @app.post("/similar")
    def faiss_similar(q: Query) -> dict[str, Any]:
        row = vectors.index(q.word)
        scores, ids = index.search(unit[row][None, :], q.k + 1)
        hits = [
            (keys[i], float(s))
            for i, s in zip(ids[0].tolist(), scores[0].tolist(), strict=False)
            if i != row and i >= 0
        ][: q.k]
        return {"word": q.word, "results": [{"word": w, "score": s} for w, s in hits]}

    return app
