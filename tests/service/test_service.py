"""The HTTP API against a real uvicorn server: results equal embed.load(...).most_similar; errors as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

import embed
from embed.io import save_model_dir
from embed.vectors import Vectors
from tests.service.serving import run_server, wait_loaded

WORDS = ["god", "king", "water", "lord", "david"]


@pytest.fixture(scope="session")
def rand_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, unindexed model (random 16-dim vectors) served beside KJV."""
    rng = np.random.default_rng(3)
    out = tmp_path_factory.mktemp("served") / "rand"
    save_model_dir(
        out, Vectors.from_arrays([f"r{i}" for i in range(300)], rng.standard_normal((300, 16))), {"params": {"dim": 16}}
    )
    return out


@pytest.fixture(scope="module")
def client(kjv_indexed: Path, rand_dir: Path) -> Iterator[httpx.Client]:
    with run_server({"kjv": kjv_indexed, "rand": rand_dir}, env={"EMBED_MAX_BODY_BYTES": "65536"}) as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            yield c


@pytest.fixture(scope="module")
def kjv(kjv_indexed: Path) -> Vectors:
    return embed.load(kjv_indexed)


def pairs(body: dict) -> list[tuple[str, float]]:
    return [(r["word"], r["score"]) for r in body["results"]]


def same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [w for w, _ in got] == [w for w, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5, atol=1e-5)


def test_health_and_models(client: httpx.Client, kjv: Vectors) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["kjv"]["vocab_size"] == len(kjv) and models["kjv"]["dim"] == 50
    assert models["kjv"]["index"] == {"kind": "hnsw", "metric": "cosine", "k_max": 100, "tables": ["cosine"]}
    assert models["kjv"]["params"]["epochs"] == 3
    assert models["rand"]["index"]["kind"] is None and models["rand"]["vocab_size"] == 300


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("k", [10, 150])  # 150 > k_max, or no euclidean table: an exact scan instead of the table
def test_similar_by_word_equals_most_similar(client: httpx.Client, kjv: Vectors, metric: str, k: int) -> None:
    for word in WORDS:
        body = client.post("/v1/models/kjv/similar", json={"word": word, "k": k, "metric": metric}).json()
        assert body["score_name"] == ("cosine_similarity" if metric == "cosine" else "euclidean_distance")
        assert body["exact"] is True and body["method"] == ("table" if k <= 100 and metric == "cosine" else "flat")
        assert [r["rank"] for r in body["results"]] == list(range(1, k + 1))
        same(pairs(body), kjv.most_similar(word, topn=k, metric=metric))  # type: ignore[arg-type]


def test_similar_arithmetic_vector_and_batch(client: httpx.Client, kjv: Vectors) -> None:
    url = "/v1/models/kjv/similar"
    for metric in ("cosine", "euclidean"):
        body = client.post(url, json={"positive": ["king", "woman"], "negative": ["man"], "metric": metric}).json()
        same(pairs(body), kjv.most_similar(["king", "woman"], ["man"], metric=metric))  # type: ignore[arg-type]
    vec = (kjv["god"] + kjv["lord"]).tolist()
    body = client.post(url, json={"vector": vec, "k": 7}).json()
    assert body["method"] == "flat"
    same(pairs(body), kjv.nearest_to_vector(np.array(vec), topn=7))
    queries = [
        {"word": "god"},
        {"vector": vec, "k": 7},
        {"positive": ["king"], "negative": ["man"], "metric": "euclidean"},
    ]
    batch = client.post(url, json={"queries": queries}).json()
    assert [r for r in batch["results"]] == [client.post(url, json=q).json() for q in queries]
    assert batch["errors"] == 0


def test_batch_answers_the_good_queries_and_marks_the_bad(client: httpx.Client) -> None:
    """One unknown word or wrong-sized vector costs its own entry, not the batch (the others as alone)."""
    url = "/v1/models/kjv/similar"
    good = [{"word": "god", "k": 3}, {"positive": ["king"], "negative": ["man"], "k": 4}]
    bad = [{"word": "godd"}, {"vector": [0.5] * 7}, {"positive": ["king", "qwzx"]}]
    r = client.post(url, json={"queries": [good[0], bad[0], bad[1], good[1], bad[2]]})
    assert r.status_code == 200
    body = r.json()
    assert body["errors"] == 3 and len(body["results"]) == 5
    assert [body["results"][0], body["results"][3]] == [client.post(url, json=q).json() for q in good]
    for got, query in zip([body["results"][i] for i in (1, 2, 4)], bad, strict=False):
        alone = client.post(url, json=query)  # the same error it gets on its own
        assert got["error"]["status"] == alone.status_code and got["error"]["code"] == alone.json()["error"]["code"]
        assert got["error"]["message"] == alone.json()["error"]["message"]
    assert "god" in body["results"][1]["error"]["suggestions"] and body["results"][1]["error"]["status"] == 404
    assert "7 values" in body["results"][2]["error"]["message"] and body["results"][2]["error"]["status"] == 422


def test_approximate_queries_use_hnsw_with_high_recall(client: httpx.Client, kjv: Vectors) -> None:
    hits = 0
    for word in WORDS:
        q = {"vector": (kjv[word] * 1.5 + 0.01).tolist(), "k": 10}
        exact = {r["word"] for r in client.post("/v1/models/kjv/similar", json=q).json()["results"]}
        approx = client.post("/v1/models/kjv/similar", json={**q, "exact": False}).json()
        assert approx["method"] == "hnsw" and approx["exact"] is False
        hits += len(exact & {r["word"] for r in approx["results"]})
    assert hits / (10 * len(WORDS)) >= 0.9


def test_ef_search_widens_one_query(client: httpx.Client, kjv: Vectors) -> None:
    """ef_search 4096 (of 5,278 words) makes the HNSW answer the exact one; bad values are 422s naming it."""
    url = "/v1/models/kjv/similar"
    for word in WORDS:
        q = {"vector": (kjv[word] * 1.5 + 0.01).tolist(), "k": 10}
        exact = client.post(url, json={**q, "exact": True}).json()
        wide = client.post(url, json={**q, "exact": False, "ef_search": 4096}).json()
        assert (wide["method"], wide["exact"]) == ("hnsw", False)
        assert {r["word"] for r in wide["results"]} == {r["word"] for r in exact["results"]}
    batch = client.post(url, json={"queries": [{**q, "exact": False, "ef_search": 4096}]}).json()
    assert batch["results"][0] == wide
    # A JSON integer, as the schema says: 4096.0 is one (JSON Schema), "64" and 64.5 are not.
    assert client.post(url, json={**q, "exact": False, "ef_search": 4096.0}).json() == wide
    for bad, text in (
        (0, "Input should be greater than or equal to 1"),
        (5000, "Input should be less than or equal to 4096"),
        ("64", "Value error, expected a JSON integer, not a string or boolean"),
        (64.5, "Input should be a valid integer, got a number with a fractional part"),
    ):
        r = client.post(url, json={"word": "god", "ef_search": bad})
        error(r, 422, "invalid_request", f"ef_search: {text}")


def test_similarity_analogy_vectors(client: httpx.Client, kjv: Vectors, rand_dir: Path) -> None:
    body = client.post("/v1/models/kjv/similarity", json={"a": "god", "b": "lord"}).json()
    assert body["score_name"] == "cosine_similarity" and body["similarity"] == pytest.approx(
        kjv.similarity("god", "lord"), abs=1e-6
    )
    body = client.post("/v1/models/kjv/similarity", json={"a": ["god", "king"], "b": ["lord"]}).json()
    assert body["similarity"] == pytest.approx(float(kjv.to_gensim().n_similarity(["god", "king"], ["lord"])), abs=1e-6)
    for method in ("3cosadd", "3cosmul"):
        body = client.post(
            "/v1/models/kjv/analogy", json={"a": "man", "b": "king", "c": "woman", "k": 5, "method": method}
        ).json()
        same(pairs(body), kjv.analogy("man", "king", "woman", topn=5, method=method))  # type: ignore[arg-type]
    one = client.get("/v1/models/kjv/vectors/god").json()
    np.testing.assert_allclose(one["vector"], kjv["god"], rtol=1e-6)
    many = client.post("/v1/models/kjv/vectors", json={"words": ["god", "water"]}).json()
    assert many["dim"] == 50 and [v["word"] for v in many["vectors"]] == ["god", "water"]
    np.testing.assert_allclose(many["vectors"][1]["vector"], kjv["water"], rtol=1e-6)
    body = client.post("/v1/models/rand/similar", json={"word": "r1", "k": 3}).json()  # the second model, no index
    assert body["method"] == "flat"
    same(pairs(body), embed.load(rand_dir).most_similar("r1", topn=3))


def error(r: httpx.Response, status: int, code: str, text: str) -> None:
    assert r.status_code == status, r.text[:300]
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and text in body["error"]["message"], body


def test_errors_are_json_and_name_the_problem(client: httpx.Client) -> None:
    error(
        client.post("/v1/models/nope/similar", json={"word": "god"}),
        404,
        "model_not_found",
        "no model named 'nope'; served models: kjv, rand",
    )
    error(client.post("/v1/models/kjv/similar", json={"word": "xyzzy"}), 404, "word_not_found", "'xyzzy'")
    error(client.post("/v1/models/kjv/similar", json={"positive": ["god", "qqq"]}), 404, "word_not_found", "'qqq'")
    error(client.get("/v1/models/kjv/vectors/xyzzy"), 404, "word_not_found", "'xyzzy'")
    error(
        client.post("/v1/models/kjv/similar", json={"word": "god", "k": 0}),
        422,
        "invalid_request",
        "k: Input should be greater than or equal to 1",
    )
    error(
        client.post("/v1/models/kjv/similar", json={"word": "god", "vector": [1.0]}),
        422,
        "invalid_request",
        "exactly one of",
    )
    error(
        client.post("/v1/models/kjv/similar", json={"vector": [1.0, 2.0]}),
        422,
        "invalid_request",
        "vector has 2 values, the model has 50 dimensions",
    )
    error(client.post("/v1/models/kjv/similar", json={"vector": [0.0] * 50}), 422, "invalid_request", "all zeros")
    error(
        client.post("/v1/models/kjv/similar", content=b"{", headers={"content-type": "application/json"}),
        422,
        "invalid_request",
        "not valid JSON",
    )
    error(
        client.post("/v1/models/kjv/similarity", json={"a": "god", "b": ["lord"]}),
        422,
        "invalid_request",
        "both be words or both be lists",
    )
    big = {"queries": [{"vector": [0.5] * 50}] * 400}  # ~100 kB
    error(client.post("/v1/models/kjv/similar", json=big), 413, "body_too_large", "65,536-byte limit")
    # A path in the model name never reaches the filesystem: only configured names resolve.
    for name in ("..%2F..%2Fetc", "tmp", "~"):
        r = client.post(f"/v1/models/{name}/similar", json={"word": "god"})
        assert r.status_code == 404 and r.json()["error"]["code"] in ("model_not_found", "not_found")


def test_api_key(kjv_indexed: Path) -> None:
    with run_server({"kjv": kjv_indexed}, env={"EMBED_API_KEY": "s3cret"}) as url:
        q = {"word": "god", "k": 3}
        error(httpx.post(f"{url}/v1/models/kjv/similar", json=q), 401, "unauthorized", "API key missing")
        error(
            httpx.post(f"{url}/v1/models/kjv/similar", json=q, headers={"X-API-Key": "wrong"}),
            401,
            "unauthorized",
            "API key wrong",
        )
        error(
            httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer wrong"}),
            401,
            "unauthorized",
            "API key wrong",
        )
        assert httpx.post(f"{url}/v1/models/kjv/similar", json=q, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert (
            httpx.post(f"{url}/v1/models/kjv/similar", json=q, headers={"Authorization": "Bearer s3cret"}).status_code
            == 200
        )
        error(
            httpx.post(f"{url}/v1/models/kjv/similar", json=q, headers={"Authorization": "Bearer s3cretX"}),
            401,
            "unauthorized",
            "API key wrong",
        )
        assert httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert httpx.get(f"{url}/healthz").status_code == 200 and httpx.get(f"{url}/openapi.json").status_code == 200


def test_failed_model_load_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "meta.json").write_text("{not json")
    with run_server({"broken": broken}, wait_ready=False) as url:
        r = wait_loaded(url)
        assert (
            r.status_code == 503
            and r.json()["status"] == "failed"
            and "meta.json: not valid JSON" in r.json()["detail"]
        )
        assert r.json()["failed"] == {"models": ["broken"], "classifiers": []}


def test_one_broken_model_does_not_keep_the_others_offline(tmp_path: Path, rand_dir: Path) -> None:
    """The broken model names a file outside its directory: refused, never read, its path hidden without the key."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "meta.json").write_text(
        json.dumps({"format": "embed-model", "version": 1, "vectors_file": "../../../../etc/passwd"})
    )
    with run_server({"rand": rand_dir, "broken": broken}, wait_ready=False, env={"EMBED_API_KEY": "k"}) as url:
        r = wait_loaded(url)
        assert (
            r.status_code == 200
            and r.json()["status"] == "degraded"
            and r.json()["failed"] == {"models": ["broken"], "classifiers": []}
        )
        assert "passwd" not in r.text and "root:" not in r.text and "/" not in r.json()["detail"]
        keyed = wait_loaded(url, {"X-API-Key": "k"}).json()
        assert "must be a file name inside the model directory" in keyed["detail"] and "root:" not in json.dumps(keyed)
        models = httpx.get(f"{url}/v1/models", headers={"X-API-Key": "k"}).json()
        assert [m["name"] for m in models["models"]] == ["rand"] and models["failed"] == ["broken"]
        ok = httpx.post(f"{url}/v1/models/rand/similar", json={"word": "r1", "k": 3}, headers={"X-API-Key": "k"})
        assert ok.status_code == 200 and len(ok.json()["results"]) == 3


def test_serves_an_imported_file_with_ann_by_word(tmp_path: Path) -> None:
    """A model over EXACT_MAX_WORDS (lowered by env) answers by-word queries through HNSW, marked approximate."""
    from click.testing import CliRunner
    from gensim.models import KeyedVectors

    from embed.cli import main

    rng = np.random.default_rng(2)
    kv = KeyedVectors(16)
    kv.add_vectors([f"v{i}" for i in range(2000)], rng.standard_normal((2000, 16)).astype(np.float32))
    src = tmp_path / "big.vec"
    kv.save_word2vec_format(str(src), binary=False)
    runner = CliRunner(env={"EMBED_CACHE": str(tmp_path / "cache")})
    r = runner.invoke(main, ["index", str(src), "--tables", "off", "--quiet"])
    assert r.exit_code == 0, r.output
    cached = next((tmp_path / "cache").iterdir())
    with run_server({"big": cached}, env={"EMBED_EXACT_MAX_WORDS": "1000"}) as url:
        body = httpx.post(f"{url}/v1/models/big/similar", json={"word": "v3", "k": 5}).json()
        assert (body["method"], body["exact"]) == ("hnsw", False) and "v3" not in [h["word"] for h in body["results"]]
        exact = httpx.post(f"{url}/v1/models/big/similar", json={"word": "v3", "k": 5, "exact": True}).json()
        assert (exact["method"], exact["exact"]) == ("flat", True)
        want = [w for w, _ in kv.most_similar("v3", topn=5)]
        assert [h["word"] for h in exact["results"]] == want
        batch = httpx.post(
            f"{url}/v1/models/big/similar",
            json={"queries": [{"word": "v3", "k": 5, "exact": True}, {"word": "v4", "k": 2}]},
        ).json()
        assert [h["word"] for h in batch["results"][0]["results"]] == want and batch["results"][1]["method"] == "hnsw"
