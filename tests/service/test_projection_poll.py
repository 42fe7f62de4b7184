"""A t-SNE/UMAP projection not computed yet: ``202`` and a background computation, polled until ``200``.

A real uvicorn (tests/service/serving.py) serves two small random models: ``small`` (300 words; one
projection stored beforehand, as `embed project` would) and ``page`` (for the page in headless Chromium).
Expected words and coordinates come from the model files and numpy, never from the code under test.

Failures: ``python -m tests.service.test_projection_poll UVICORN-ARGS`` is the same server with
``embed.project.compute`` made to fail (t-SNE with an EmbedError, UMAP with a RuntimeError), as
tests/service/hold_loading.py holds loading: everything else is the real server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from embed import project
from embed.io import load, save_model_dir
from embed.vectors import Vectors
from service.errors import ApiError
from tests.service.serving import run_server
from tests.service.test_web import _chromium, browser  # noqa: F401 (fixtures)

WORDS = 300


def random_model(folder: Path, seed: int) -> Path:
    matrix = np.random.default_rng(seed).normal(size=(WORDS, 16)).astype(np.float32)
    vectors = Vectors.from_arrays(
        [f"w{i}" for i in range(WORDS)], matrix, counts=list(range(10 * WORDS, 9 * WORDS, -1))
    )
    return save_model_dir(folder, vectors, {})


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("poll")
    small = random_model(root / "small", seed=1)
    # stored beforehand, as `embed project` writes it: a made-up 3-D t-SNE the server must serve as it is
    vectors = load(small)
    coords = np.random.default_rng(5).normal(size=(WORDS, 3)).astype(np.float32)
    project.save(project.Projection("tsne", 3, coords, 1.5, {"stored": True}), small, vectors)
    return {"small": small, "page": random_model(root / "page", seed=3)}


@pytest.fixture(scope="module")
def server(models: dict[str, Path]) -> Iterator[str]:
    with run_server(models) as url:
        yield url


def get(server: str, model: str, **params: object) -> httpx.Response:
    return httpx.get(f"{server}/v1/models/{model}/projection", params=params, timeout=30)  # type: ignore[arg-type]


def poll(
    server: str, model: str, timeout: float = 90.0, **params: object
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """The first answer that is not 202, and the 202 bodies before it (waiting Retry-After between them)."""
    pending: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        r = get(server, model, **params)
        if r.status_code != 202:
            return r, pending
        pending.append(r.json())
        assert time.monotonic() < deadline, f"still computing after {timeout:.0f} s: {r.json()}"
        time.sleep(min(int(r.headers["retry-after"]), 1))  # the header's seconds, but no slower than 1 s here


def test_first_request_is_accepted_then_polled_until_ready(server: str, models: dict[str, Path]) -> None:
    first = get(server, "small", method="tsne")
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["status"] == "computing" and body["method"] == "tsne" and body["dims"] == 2 and body["n"] == WORDS
    assert first.headers["retry-after"] == str(body["retry_after"]) and 1 <= body["retry_after"] <= 5
    assert first.headers["content-type"] == "application/json"
    ready, pending = poll(server, "small", method="tsne")
    assert ready.status_code == 200, ready.text
    # one computation: each 202 reports the same job, whose elapsed time only grows
    elapsed = [body["elapsed"], *[p["elapsed"] for p in pending]]
    assert elapsed == sorted(elapsed)
    assert ready.headers["x-embed-cache"] == "memory"  # the background job left it there
    got = ready.json()
    vectors = load(models["small"])
    assert got["n"] == WORDS and got["method"] == "tsne" and got["dims"] == 2 and got["words"] == vectors.words
    coords = np.reshape(got["coords"], (WORDS, 2))
    assert np.isfinite(coords).all() and coords.std(axis=0).min() > 0.1  # a layout, not a heap at the origin
    stored = np.load(models["small"] / "projections" / f"tsne-2d-{WORDS}.npy", allow_pickle=False)  # default n
    np.testing.assert_allclose(coords, stored, atol=1e-4)
    again = get(server, "small", method="tsne")
    assert again.status_code == 200 and again.headers["x-embed-cache"] == "memory"


def test_stored_and_pca_projections_answer_at_once(server: str, models: dict[str, Path]) -> None:
    stored = get(server, "small", method="tsne", dims=3)  # written before the server started
    assert stored.status_code == 200 and stored.headers["x-embed-cache"] == "disk"
    want = np.load(models["small"] / "projections" / f"tsne-3d-{WORDS}.npy", allow_pickle=False)
    np.testing.assert_allclose(np.reshape(stored.json()["coords"], (WORDS, 3)), want, atol=1e-4)
    assert stored.json()["params"] == {"stored": True}
    pca = get(server, "small", method="pca", n=120)  # fast: computed within the request
    assert pca.status_code == 200 and pca.headers["x-embed-cache"] == "computed" and pca.json()["n"] == 120


@pytest.fixture(scope="module")
def failing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = random_model(tmp_path_factory.mktemp("poll-fail") / "small", seed=4)  # no projection stored
    with run_server({"small": model}, module="tests.service.test_projection_poll") as url:
        yield url


def test_a_failing_computation_answers_a_json_error(failing_server: str) -> None:
    for method, message in (
        ("tsne", "tsne measures cosine distances, but 1 of the 300 words have zero vectors"),  # an EmbedError
        ("umap", "umap failed (RuntimeError: out of luck); see the server log"),  # anything else
    ):
        first = get(failing_server, "small", method=method)
        assert first.status_code == 202, first.text
        failed, _ = poll(failing_server, "small", method=method)
        assert failed.status_code == 500 and failed.headers["content-type"] == "application/json"
        assert failed.json() == {"error": {"code": "projection_failed", "message": message}}
        retried = get(failing_server, "small", method=method)  # the error is answered once: then it starts again
        assert retried.status_code == 202, retried.text
        assert poll(failing_server, "small", method=method)[0].status_code == 500
    assert get(failing_server, "small", method="pca").status_code == 200  # the server itself is fine


def test_bad_input_is_refused_before_any_computation(server: str) -> None:
    r = get(server, "small", method="umap", n=WORDS + 1)
    assert r.status_code == 422 and "the model has only 300 words" in r.json()["error"]["message"]


def test_at_most_max_jobs_run_at_once() -> None:
    from service.routes.explore import MAX_JOBS, _Cache

    cache = _Cache()
    for n in range(MAX_JOBS):
        cache.add_job(("m", "tsne", 2, 100 + n), expected=30.0)
    with pytest.raises(ApiError) as busy:
        cache.add_job(("m", "umap", 2, 100), expected=30.0)
    assert busy.value.status == 503 and busy.value.code == "projection_busy"
    assert "embed project" in busy.value.message and busy.value.headers == {"Retry-After": "30"}
    cache.jobs[("m", "tsne", 2, 100)].error = ApiError(500, "projection_failed", "boom")  # failed: not running
    cache.add_job(("m", "umap", 2, 100), expected=30.0)


def test_page_shows_computing_then_draws_the_cloud(browser: Any, server: str) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/?model=page&method=tsne")
    page.wait_for_selector("#cloud[data-state='computing']")
    assert page.inner_text("#cloud-status").startswith(f"computing t-SNE… {WORDS} words")
    page.wait_for_function(
        "n => document.querySelector('#cloud').dataset.state === 'ready' && window.embedExplorer.method === 'tsne'"
        " && window.embedExplorer.points === n",
        arg=WORDS,
    )
    assert page.inner_text("#cloud-status").startswith(f"{WORDS} words, t-SNE 2-D")
    assert "method=tsne" in page.url
    context.close()
    assert errors == []


def test_lit_neighbours_follow_the_cloud(browser: Any, server: str, models: dict[str, Path]) -> None:  # noqa: F811
    """A click lights the word and its neighbours over the canvas (cloud.js lightUp); a drag pans them along."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server}/?model=page&method=tsne")
    page.wait_for_function("() => document.querySelector('#cloud').dataset.state === 'ready'")
    box = page.locator("#cloud").bounding_box()

    def dots() -> dict[str, tuple[float, float]]:
        """Each lit word's dot centre (CSS px in the cloud), and where its point is drawn, side by side."""
        placed = page.evaluate(
            "() => [...document.querySelectorAll('#cloud-dots .cloud-dot')].map(d => {"
            " const r = d.getBoundingClientRect(), c = document.querySelector('#cloud').getBoundingClientRect();"
            " return [d.dataset.word, r.x + r.width / 2 - c.x, r.y + r.height / 2 - c.y,"
            " ...window.embedExplorer.screenPos(d.dataset.word)]; })"
        )
        for word, x, y, px, py in placed:
            assert abs(x - px) < 1.5 and abs(y - py) < 1.5, (word, x, y, px, py)  # on its point
        return {word: (x, y) for word, x, y, _, _ in placed}

    x, y = page.evaluate("w => window.embedExplorer.screenPos(w)", "w10")
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_function("() => window.embedExplorer.lit.length === 10")
    query = page.evaluate("window.embedExplorer.queryWord")  # w10, or a word drawn over it
    expected = [w for w, _ in load(models["page"]).most_similar(query, topn=10)]
    assert page.evaluate("window.embedExplorer.lit") == expected
    before = dots()
    assert set(before) == {query, *expected} and page.is_visible("#cloud-veil")
    assert page.get_attribute(f"#cloud-dots .cloud-dot[data-word='{query}']", "class") == "cloud-dot query"
    page.mouse.move(box["x"] + 40, box["y"] + 40)  # a drag pans: everything lit moves with the cloud
    page.mouse.down()
    page.mouse.move(box["x"] + 100, box["y"] + 80, steps=5)
    page.mouse.up()
    after = dots()
    for word, (bx, by) in before.items():
        assert after[word] == pytest.approx((bx + 60, by + 40), abs=2)
    assert page.evaluate("window.embedExplorer.queryWord") == query  # a drag is not a click
    context.close()


def _fail(compute: Any) -> Any:
    """``embed.project.compute``, failing for t-SNE and UMAP (see the module docstring)."""
    from embed.errors import EmbedError

    def failing(vectors: Vectors, method: str, *args: Any, **kwargs: Any) -> project.Projection:
        time.sleep(0.2)  # some work first: the request that started it has its 202 by then
        if method == "tsne":
            raise EmbedError("tsne measures cosine distances, but 1 of the 300 words have zero vectors")
        if method == "umap":
            raise RuntimeError("out of luck")
        result: project.Projection = compute(vectors, method, *args, **kwargs)
        return result

    return failing


if __name__ == "__main__":
    import uvicorn

    project.compute = _fail(project.compute)
    uvicorn.main()
