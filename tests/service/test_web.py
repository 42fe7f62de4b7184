"""The web page, driven in headless Chromium against a real `embed serve` (uvicorn) on loopback.

Expected answers come from the library (gensim) directly, never from the page under test.
Screenshots go to the test's tmp_path (and to $EMBED_SHOTS when set, for a person to look at).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import needs_system
from tests.service.serving import run_server

CHROMIUM = Path("/usr/bin/chromium")
KEY = "s3cret-key"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(autouse=True, scope="module")
def _chromium() -> None:
    needs_system(CHROMIUM.exists(), "Debian's chromium at /usr/bin/chromium", "chromium")


@pytest.fixture(scope="module")
def zh_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny jieba-tokenized model from the first 1,200 lines of 三国演义 (a few seconds)."""
    from embed.config import TrainConfig
    from embed.corpus import Corpus
    from embed.io import save_model_dir
    from embed.train import train

    root = tmp_path_factory.mktemp("zh")
    text = (Path(__file__).resolve().parents[2] / "corpora" / "zh_novels" / "sanguo_yanyi.txt").read_text(
        encoding="utf-8"
    )
    (root / "sanguo.txt").write_text("\n".join(text.splitlines()[:1200]), encoding="utf-8")
    config = TrainConfig(dim=20, epochs=1, workers=1, seed=1, min_count=3, tokenizer="jieba")
    result = train(Corpus(root / "sanguo.txt", tokenizer="jieba"), config)
    return save_model_dir(root / "sanguo", result.vectors, {"params": config.to_dict()})


@pytest.fixture(scope="module")
def server(kjv_model_dir: Path, zh_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A copy: the page's vocabulary cloud makes the server cache a projection in the model directory,
    # which must not land in the session's shared kjv_model_dir.
    kjv = tmp_path_factory.mktemp("web") / "kjv"
    shutil.copytree(kjv_model_dir, kjv, ignore=shutil.ignore_patterns("projections"))
    with run_server({"kjv": kjv, "sanguo": zh_model_dir}, env={"EMBED_API_KEY": KEY}) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def new_page(browser: Any, timeout: float = 15_000, **context: Any) -> Any:
    """A page in a context of its own (1280 x 900 unless ``context`` says otherwise); close ``page.context``."""
    page = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context}).new_page()
    page.set_default_timeout(timeout)
    return page


@pytest.fixture()
def page(browser: Any, server: str) -> Iterator[Any]:
    page = new_page(browser)
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server) else outside.append(r.url))
    yield page
    page.context.close()
    assert outside == [], f"the page fetched from outside the server: {outside}"


def open_page(page: Any, server: str, query: str = "", key: str | None = KEY) -> None:
    """Load the page, enter the API key as a person would, wait until the models are listed."""
    page.goto(f"{server}/{query}")
    page.wait_for_selector("body[data-ready='1']")
    if key is not None:
        page.fill("#api-key", key)
        page.press("#api-key", "Enter")  # 'change' fires; the page reloads the model list with the key
        page.wait_for_selector("#model option[value='kjv']", state="attached")


def shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    if os.environ.get("EMBED_SHOTS"):
        Path(os.environ["EMBED_SHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["EMBED_SHOTS"]) / path.name)
    return path


def table_rows(page: Any, table: str) -> list[tuple[str, float]]:
    rows = page.locator(f"#{table} tbody tr")
    return [
        (rows.nth(i).locator("td").nth(1).inner_text(), float(rows.nth(i).locator("td").nth(2).inner_text()))
        for i in range(rows.count())
    ]


def find(page: Any, word: str, **form: str) -> list[tuple[str, float]]:
    """Ask for the neighbours of ``word`` as a person would (``form``: other fields by id, e.g. ``k="5"``,
    a ``metric`` chosen from its list); the rows of the table that answers."""
    page.fill("#word", word)
    for field, value in form.items():
        if field == "metric":
            page.select_option("#metric", value)
        else:
            page.fill(f"#{field}", value)
    page.click("#find")
    page.wait_for_selector("#neighbours tbody tr")
    return table_rows(page, "neighbours")


def test_type_a_word_see_neighbours_and_map(page: Any, server: str, kjv_model_dir: Path, tmp_path: Path) -> None:
    from embed.io import load

    open_page(page, server)
    page.type("#word", "kin", delay=30)  # autocomplete from the vocabulary
    page.wait_for_selector("#vocab option[value='king']", state="attached")
    got = find(page, "king")
    expected = load(kjv_model_dir).most_similar("king", topn=10)
    assert [w for w, _ in got] == [w for w, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-3)
    assert page.inner_text("#neighbours thead").split()[-1] == "cosine"
    points = page.locator("#scatter g.point")
    assert points.count() == 11
    assert page.text_content("#scatter g.query text") == "king"
    assert page.is_hidden("#error")
    shot(page, tmp_path, "neighbours-king")


def test_euclidean_and_click_through(page: Any, server: str, kjv_model_dir: Path) -> None:
    from embed.io import load

    open_page(page, server)
    got = find(page, "water", metric="euclidean", k="5")
    expected = load(kjv_model_dir).most_similar("water", topn=5, metric="euclidean")
    assert [w for w, _ in got] == [w for w, _ in expected]
    assert page.inner_text("#neighbours thead").split()[-1] == "distance"
    first = got[0][0]
    page.click("#neighbours tbody tr >> nth=0 >> a.word")  # a neighbour becomes the query
    page.wait_for_function("w => document.querySelector('#scatter g.query text')?.textContent === w", arg=first)
    assert page.input_value("#word") == first


def test_analogy(page: Any, server: str, kjv_model_dir: Path, tmp_path: Path) -> None:
    from embed.io import load

    open_page(page, server)
    page.fill("#analogy-a", "man")
    page.fill("#analogy-b", "king")
    page.fill("#analogy-c", "woman")
    page.click("#analogy-go")
    page.wait_for_selector("#analogy-results tbody tr")
    got = table_rows(page, "analogy-results")
    expected = load(kjv_model_dir).analogy("man", "king", "woman", topn=5)
    assert [w for w, _ in got] == [w for w, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-3)
    shot(page, tmp_path, "analogy")


def api_error(server: str, method: str, path: str, **kw: Any) -> dict[str, str]:
    """The error exactly as the API states it, to compare with what the page shows."""
    r = httpx.request(method, f"{server}/v1/{path}", headers=kw.pop("headers", {"X-API-Key": KEY}), **kw)
    assert r.status_code >= 400
    return r.json()["error"]


def test_unknown_word_shows_the_api_error(page: Any, server: str, tmp_path: Path) -> None:
    open_page(page, server)
    page.fill("#word", "zzyzxq")
    page.click("#find")
    page.wait_for_selector("#error:not([hidden])")
    err = api_error(server, "POST", "models/kjv/similar", json={"word": "zzyzxq"})
    assert err["code"] == "word_not_found"
    assert page.inner_text("#error") == f"{err['code']} {err['message']}"
    assert page.is_hidden("#neighbours")
    shot(page, tmp_path, "unknown-word")


def test_unknown_analogy_word_and_recovery(page: Any, server: str) -> None:
    open_page(page, server)
    for sel, word in (("#analogy-a", "man"), ("#analogy-b", "qqqxx"), ("#analogy-c", "woman")):
        page.fill(sel, word)
    page.click("#analogy-go")
    page.wait_for_selector("#error:not([hidden])")
    assert "'qqqxx' is not in the model's vocabulary" in page.inner_text("#error")
    page.fill("#analogy-b", "king")
    page.click("#analogy-go")
    page.wait_for_selector("#analogy-results tbody tr")
    assert page.is_hidden("#error")  # a good query clears the old error


def test_model_not_served_shows_the_api_error(page: Any, server: str) -> None:
    open_page(page, server)  # stores the key
    page.goto(f"{server}/?model=nope&word=king")  # a link to a model this server does not serve
    page.wait_for_selector("body[data-ready='1']")
    err = api_error(server, "POST", "models/nope/similar", json={"word": "king"})
    assert err["code"] == "model_not_found"
    assert page.inner_text("#error") == f"{err['code']} {err['message']}"


def test_without_the_key_the_page_says_so_and_remembers_it(page: Any, server: str) -> None:
    open_page(page, server, key=None)
    err = api_error(server, "GET", "models", headers={})
    assert page.inner_text("#error") == f"{err['code']} {err['message']}"
    page.fill("#api-key", KEY)
    page.press("#api-key", "Enter")
    page.wait_for_selector("#model option[value='kjv']", state="attached")
    page.reload()  # the key is kept in localStorage and sent again
    page.wait_for_selector("#model option[value='kjv']", state="attached")
    assert page.input_value("#api-key") == KEY
    assert page.is_hidden("#error")


def test_chinese_words(page: Any, server: str, zh_model_dir: Path, tmp_path: Path) -> None:
    from embed.io import load
    from embed.prefix import PrefixIndex

    vectors = load(zh_model_dir)
    open_page(page, server)
    page.select_option("#model", "sanguo")
    page.type("#word", "曹")  # autocomplete with a CJK prefix (URL-encoded by the page)
    page.wait_for_selector("#vocab option", state="attached")
    options = page.eval_on_selector_all("#vocab option", "os => os.map(o => o.value)")
    assert options == PrefixIndex(vectors.words).complete("曹", 10)
    assert [w for w, _ in find(page, "曹操")] == [w for w, _ in vectors.most_similar("曹操", topn=10)]
    assert page.text_content("#scatter g.query text") == "曹操"
    assert page.is_hidden("#error")
    shot(page, tmp_path, "chinese")


def test_misspelt_word_offers_suggestions_and_clears_stale_results(page: Any, server: str, tmp_path: Path) -> None:
    open_page(page, server)
    find(page, "god")
    page.fill("#word", "godz")  # not in the vocabulary; one edit from 'god'
    page.click("#find")
    page.wait_for_selector("#error:not([hidden])")
    err = api_error(server, "POST", "models/kjv/similar", json={"word": "godz"})
    assert err["code"] == "word_not_found" and "god" in err["suggestions"]
    assert page.is_hidden("#neighbours") and page.inner_html("#scatter") == ""  # no stale results under the error
    offered = page.locator("#error a.suggestion").all_inner_texts()
    assert offered == err["suggestions"]
    shot(page, tmp_path, "suggestions")
    page.locator("#error a.suggestion", has_text="god").first.click()
    page.wait_for_selector("#neighbours tbody tr")
    assert page.input_value("#word") == "god" and page.is_hidden("#error")


def test_an_oov_word_of_a_subword_model_is_answered_and_marked(browser: Any, tmp_path: Path) -> None:
    """Issue 17: the page shows neighbours of a word outside the vocabulary, with a note that its vector came
    from n-grams."""
    from embed.io import save_model_dir
    from embed.search import Searcher
    from tests.test_subwords import toy

    save_model_dir(tmp_path / "sub", toy(), {"params": {"subwords": True}})
    with run_server({"sub": tmp_path / "sub"}) as url:
        page = new_page(browser)
        try:
            open_page(page, url, key=None)
            page.wait_for_selector("#model option[value='sub']", state="attached")
            assert [w for w, _ in find(page, "kingz")] == Searcher(toy()).by_word("kingz", 10).words
            assert page.is_visible("#oov-note") and "character n-grams (oov)" in page.inner_text("#oov-note")
            page.fill("#word", "king")
            page.click("#find")
            page.wait_for_function("() => document.getElementById('oov-note').hidden")
        finally:
            page.context.close()
