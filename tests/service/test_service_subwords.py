"""Issue 17 over HTTP: a subword model answers unknown words on every route, marked "oov"; a word-only model
keeps its 404."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from embed.io import save_model_dir
from embed.search import Searcher
from tests.service.serving import run_server
from tests.test_subwords import WORDS, toy


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("subword-served")
    vectors = toy()
    save_model_dir(root / "sub", vectors, {"params": {"subwords": True}})
    save_model_dir(root / "plain", type(vectors).from_arrays(WORDS, np.asarray(vectors.matrix)), {"params": {}})
    with run_server({"sub": root / "sub", "plain": root / "plain"}) as url:
        yield f"{url}/v1/models"


def test_oov_words_are_answered_and_marked(base: str) -> None:
    library = Searcher(toy())
    got = httpx.post(f"{base}/sub/similar", json={"word": "kingz", "k": 3}).json()
    want = library.by_word("kingz", 3)
    assert got["oov"] is True and got["oov_words"] == ["kingz"]
    assert [r["word"] for r in got["results"]] == want.words
    np.testing.assert_allclose([r["score"] for r in got["results"]], want.scores, rtol=1e-5, atol=1e-6)
    known = httpx.post(f"{base}/sub/similar", json={"word": "king", "k": 3}).json()
    assert "oov" not in known  # a vocabulary word: no mark (and the fast path's answer)
    batch = httpx.post(
        f"{base}/sub/similar", json={"queries": [{"word": "kingz", "k": 3}, {"word": "queen", "k": 2}]}
    ).json()
    assert batch["errors"] == 0 and batch["results"][0]["oov_words"] == ["kingz"] and "oov" not in batch["results"][1]
    # The single query took the fast path, the batch the route: the same answer. The batch's scores come from one
    # matrix product over both queries, which may round in the last float32 bit (seen on an AMD EPYC's BLAS kernels).
    routed = batch["results"][0]
    assert {k: routed[k] for k in got if k != "results"} == {k: v for k, v in got.items() if k != "results"}
    assert [(r["word"], r["rank"]) for r in routed["results"]] == [(r["word"], r["rank"]) for r in got["results"]]
    np.testing.assert_allclose([r["score"] for r in routed["results"]], [r["score"] for r in got["results"]], rtol=1e-6)
    sim = httpx.post(f"{base}/sub/similarity", json={"a": "kingz", "b": "king"}).json()
    assert sim["oov_words"] == ["kingz"] and sim["similarity"] == pytest.approx(
        float(toy().similarity("kingz", "king")), abs=1e-5
    )
    vec = httpx.get(f"{base}/sub/vectors/kingz").json()
    assert vec["oov"] is True
    np.testing.assert_allclose(vec["vector"], toy()["kingz"], rtol=1e-6)
    rows = httpx.post(f"{base}/sub/vectors", json={"words": ["king", "kingz"]}).json()["vectors"]
    assert "oov" not in rows[0] and rows[1]["oov"] is True
    ana = httpx.post(f"{base}/sub/analogy", json={"a": "king", "b": "queen", "c": "kingz", "k": 2}).json()
    assert ana["oov_words"] == ["kingz"] and len(ana["results"]) == 2


def test_word_only_model_keeps_its_404_with_suggestions(base: str) -> None:
    r = httpx.post(f"{base}/plain/similar", json={"word": "kingz"})
    assert r.status_code == 404 and "king" in r.json()["error"]["suggestions"]
    assert httpx.get(f"{base}/plain/vectors/kingz").status_code == 404
