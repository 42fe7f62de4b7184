"""Unknown words over HTTP: 404 with "did you mean" suggestions; case-folded look-up where the tokenizer folds case."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from embed.io import load
from tests.service.serving import run_server


@pytest.fixture(scope="module")
def url(kjv_indexed: Path, kjv_model_dir: Path) -> Iterator[str]:
    # kjv: tables + HNSW (the fast path answers by-word queries); plain: no index (the routes answer)
    with run_server({"kjv": kjv_indexed, "plain": kjv_model_dir}) as base:
        yield base


@pytest.mark.parametrize("model", ["kjv", "plain"])
def test_unknown_word_404_carries_suggestions(url: str, model: str, kjv_model_dir: Path) -> None:
    expected = load(kjv_model_dir).index  # the library's own error for the same word
    with pytest.raises(KeyError) as info:
        expected("godz")
    r = httpx.post(f"{url}/v1/models/{model}/similar", json={"word": "godz", "k": 3})
    assert r.status_code == 404
    err = r.json()["error"]
    assert (
        err["code"] == "word_not_found" and err["suggestions"] == info.value.suggestions and "god" in err["suggestions"]
    )
    assert err["message"].startswith("word 'godz' is not in the model's vocabulary; did you mean 'god'")
    r = httpx.get(f"{url}/v1/models/{model}/vectors/godz")
    assert r.status_code == 404 and "god" in r.json()["error"]["suggestions"]


def test_a_word_with_nothing_close_has_no_suggestions(url: str) -> None:
    r = httpx.post(f"{url}/v1/models/kjv/similar", json={"word": "qqqqqqqqqqqq"})
    assert r.status_code == 404 and r.json()["error"]["suggestions"] == []
    assert r.json()["error"]["message"] == "word 'qqqqqqqqqqqq' is not in the model's vocabulary"


@pytest.mark.parametrize("model", ["kjv", "plain"])
def test_capitalised_word_is_found_in_a_lower_casing_model(url: str, model: str) -> None:
    lower = httpx.post(f"{url}/v1/models/{model}/similar", json={"word": "god", "k": 5}).json()
    upper = httpx.post(f"{url}/v1/models/{model}/similar", json={"word": "God", "k": 5})
    assert upper.status_code == 200, upper.text
    assert upper.json()["results"] == lower["results"]
    assert (
        httpx.get(f"{url}/v1/models/{model}/vectors/God").json()["vector"]
        == httpx.get(f"{url}/v1/models/{model}/vectors/god").json()["vector"]
    )
