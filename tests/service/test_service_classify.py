"""Classifiers over HTTP (real uvicorn): predictions equal the library's, errors as JSON, `embed serve --classifier`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from embed.classify import load_classifier
from embed.cli import main
from tests.service.serving import run_server
from tests.service.test_service import error

TEXTS = ["w3 splendid w7", "average w9 w10", "dreadful w1 w2 w3 w4 w5 w6", "w5", ""]


@pytest.fixture(scope="module")
def client(kjv_indexed: Path, classifier_dir: Path) -> Iterator[httpx.Client]:
    env = {
        "EMBED_CLASSIFIERS": json.dumps({"tiny": str(classifier_dir)}),
        "EMBED_MAX_BODY_BYTES": "65536",
        "EMBED_MAX_BATCH": "8",
    }
    with run_server({"kjv": kjv_indexed}, env=env) as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            yield c


def test_predictions_equal_the_library(client: httpx.Client, classifier_dir: Path) -> None:
    clf = load_classifier(classifier_dir)
    r = client.post("/v1/classifiers/tiny/predict", json={"texts": TEXTS, "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["classifier"] == "tiny" and len(body["predictions"]) == len(TEXTS)
    want = clf.predict_proba(TEXTS)
    for pred, probs in zip(body["predictions"], want, strict=False):
        got = {x["label"]: x["probability"] for x in pred["labels"]}
        assert got.keys() == set(clf.labels)
        np.testing.assert_allclose([got[lab] for lab in clf.labels], probs, atol=1e-5)
        assert [x["rank"] for x in pred["labels"]] == [1, 2, 3]
        assert [x["probability"] for x in pred["labels"]] == sorted(got.values(), reverse=True)
        assert pred["label"] == clf.labels[int(np.argmax(probs))] == pred["labels"][0]["label"]
    # The planted keyword decides the label.
    assert [p["label"] for p in body["predictions"][:3]] == ["pos", "mid", "neg"]


def test_default_k_is_one_and_listing(client: httpx.Client, classifier_dir: Path) -> None:
    r = client.post("/v1/classifiers/tiny/predict", json={"texts": ["splendid"]})
    assert r.status_code == 200 and len(r.json()["predictions"][0]["labels"]) == 1
    listed = client.get("/v1/classifiers").json()["classifiers"]
    assert listed == [
        {
            "name": "tiny",
            "arch": "cnn",
            "bidirectional": False,
            "mode": "rand",
            "labels": load_classifier(classifier_dir).labels,
            "vocab_size": len(load_classifier(classifier_dir).vocab),
            "tokenizer": "simple",
            "max_tokens": 50,
        }
    ]
    assert client.get("/readyz").json()["status"] == "ready"
    assert [m["name"] for m in client.get("/v1/models").json()["models"]] == ["kjv"]


def test_errors(client: httpx.Client) -> None:
    error(
        client.post("/v1/classifiers/nope/predict", json={"texts": ["x"]}),
        404,
        "classifier_not_found",
        "no classifier named 'nope'; served classifiers: tiny",
    )
    error(client.post("/v1/classifiers/tiny/predict", json={"texts": []}), 422, "invalid_request", "texts")
    error(
        client.post("/v1/classifiers/tiny/predict", json={"texts": ["x"] * 9}),
        422,
        "invalid_request",
        "9 texts in one request; at most 8",
    )
    error(
        client.post("/v1/classifiers/tiny/predict", json={"texts": ["w1 " * 51]}),
        422,
        "invalid_request",
        'text 1 has 51 tokens, more than the limit of 50; shorten it or send "truncate": true',
    )
    cut = client.post("/v1/classifiers/tiny/predict", json={"texts": ["w1 " * 51], "truncate": True})
    assert (
        cut.status_code == 200
        and cut.json()["predictions"]
        == client.post("/v1/classifiers/tiny/predict", json={"texts": ["w1 " * 50]}).json()["predictions"]
    )
    error(client.post("/v1/classifiers/tiny/predict", json={"texts": ["x"], "k": 0}), 422, "invalid_request", "k")
    error(client.post("/v1/classifiers/tiny/predict", json={"texts": [3]}), 422, "invalid_request", "texts.0")
    error(client.post("/v1/classifiers/tiny/predict", json={"text": ["x"]}), 422, "invalid_request", "text")
    error(
        client.post(
            "/v1/classifiers/tiny/predict",
            content=b'{"texts": ["' + b"a " * 40000 + b'"]}',
            headers={"content-type": "application/json"},
        ),
        413,
        "body_too_large",
        "",
    )


def test_api_key_covers_classifiers(kjv_indexed: Path, classifier_dir: Path) -> None:
    env = {"EMBED_CLASSIFIERS": json.dumps({"tiny": str(classifier_dir)}), "EMBED_API_KEY": "k3y", "EMBED_MODELS": "{}"}
    with run_server({}, env=env) as url:
        error(
            httpx.post(f"{url}/v1/classifiers/tiny/predict", json={"texts": ["x"]}),
            401,
            "unauthorized",
            "API key missing",
        )
        r = httpx.post(f"{url}/v1/classifiers/tiny/predict", json={"texts": ["splendid"]}, headers={"X-API-Key": "k3y"})
        assert r.status_code == 200 and r.json()["predictions"][0]["label"] == "pos"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--classifier", "{missing}"],
            "{missing}: not a classifier directory; pass directories made by 'embed classify train'",
        ),
        (["--classifier", "{model}"], "not a classifier directory (missing"),
        (["--classifier", "a={clf}", "--classifier", "a={clf}"], "two classifiers named 'a'; name them with NAME=DIR"),
        ([], "nothing to serve: give at least one model directory or --classifier DIR"),
    ],
)
def test_serve_refuses_bad_classifier_directories(
    args: list[str], message: str, tmp_path: Path, classifier_dir: Path, kjv_model_dir: Path
) -> None:
    fill = {"missing": str(tmp_path / "missing"), "model": str(kjv_model_dir), "clf": str(classifier_dir)}
    args = [a.format(**fill) for a in args]
    message = message.format(**fill)
    result = CliRunner().invoke(main, ["serve", *args, "--port", "1"])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
