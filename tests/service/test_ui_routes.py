"""The page's routes over real HTTP (no browser): the page and its files without a key,
the autocomplete route behind it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.serving import run_server

KEY = "another-key"


@pytest.fixture(scope="module")
def server(kjv_model_dir: Path) -> Iterator[str]:
    with run_server({"kjv": kjv_model_dir}, env={"EMBED_API_KEY": KEY}) as url:
        yield url


def test_page_and_static_files_need_no_key(server: str) -> None:
    for path, kind in (("/", "text/html"), ("/static/app.js", "javascript"), ("/static/style.css", "text/css")):
        r = httpx.get(server + path)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
    page = httpx.get(server + "/").text
    assert 'src="static/app.js"' in page and "http" not in page.split("<body>")[0]  # nothing loaded from elsewhere
    assert httpx.get(server + "/static/nope.js").status_code == 404


def test_words_autocomplete(server: str, kjv_model_dir: Path) -> None:
    from embed.io import load

    words = load(kjv_model_dir).words
    r = httpx.get(f"{server}/v1/models/kjv/words", params={"prefix": "Kin", "limit": 3}, headers={"X-API-Key": KEY})
    assert r.status_code == 200
    expected = [w for w in words if w.startswith("kin")][:3]  # most frequent first, case ignored
    assert r.json() == {"model": "kjv", "prefix": "Kin", "words": expected}


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("models/kjv/words?prefix=ki", {}, 401, "unauthorized"),
        ("models/nope/words?prefix=ki", {"X-API-Key": KEY}, 404, "model_not_found"),
        ("models/kjv/words?prefix=ki&limit=0", {"X-API-Key": KEY}, 422, "invalid_request"),
        ("models/kjv/words", {"X-API-Key": KEY}, 422, "invalid_request"),
    ],
)
def test_words_bad_requests(server: str, path: str, headers: dict[str, str], status: int, code: str) -> None:
    r = httpx.get(f"{server}/v1/{path}", headers=headers)
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
