"""The explorer page in headless Chromium against a real `embed serve`: the vocabulary cloud (scatter-gl,
WebGL), hover/click/search, the Chinese model, the classifier box, the model page, bad input.

Expected answers come from the library; the cloud's state is read from its data layer
(``window.embedExplorer``, ``#cloud[data-points]``) and checked by sampling the canvas's pixels.
Screenshots (1280 px and 390 px) go to tmp_path and to $EMBED_SHOTS when set: look at them.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.service.serving import run_server
from tests.service.test_web import KEY, _chromium, browser, open_page, shot, table_rows, zh_model_dir  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def kjv_copy(kjv_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("explorer-web") / "kjv"
    shutil.copytree(
        kjv_model_dir, out, ignore=shutil.ignore_patterns("projections")
    )  # the server writes projections into it
    return out


@pytest.fixture(scope="module")
def server(kjv_copy: Path, zh_model_dir: Path, classifier_dir: Path) -> Iterator[str]:  # noqa: F811
    env = {"EMBED_API_KEY": KEY, "EMBED_CLASSIFIERS": json.dumps({"tiny": str(classifier_dir)})}
    with run_server({"kjv": kjv_copy, "sanguo": zh_model_dir}, env=env) as url:
        yield url


@pytest.fixture()
def page(browser: Any, server: str) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(30_000)
    outside: list[str] = []
    errors: list[str] = []
    p.on("request", lambda r: None if r.url.startswith(server) else outside.append(r.url))
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Content Security Policy" in m.text else None,
    )
    yield p
    context.close()
    assert outside == [], f"the page fetched from outside the server: {outside}"
    assert errors == [], f"script errors (CSP included): {errors}"


def cloud_ready(page: Any, model: str = "kjv", method: str = "pca") -> dict[str, Any]:
    page.wait_for_function(
        "([m, me]) => document.querySelector('#cloud').dataset.state === 'ready' && window.embedExplorer.method === "
        "me && document.querySelector('#model').value === m",
        arg=[model, method],
    )
    return page.evaluate("({...window.embedExplorer})")


def coloured_pixels(page: Any) -> int:
    """Pixels of the cloud's canvas that are not (near) white: drawn points."""
    from PIL import Image

    image = np.asarray(
        Image.open(io.BytesIO(page.locator("#cloud canvas").first.screenshot())).convert("RGB"), dtype=np.int32
    )
    return int(((255 * 3 - image.sum(axis=2)) > 30).sum())


def point_xy(page: Any, word: str) -> tuple[float, float]:
    box = page.locator("#cloud").bounding_box()
    x, y = page.evaluate("w => window.embedExplorer.screenPos(w)", word)
    return box["x"] + x, box["y"] + y


def test_cloud_renders_every_word_and_hover_click_lights_neighbours(
    page: Any, server: str, kjv_copy: Path, tmp_path: Path
) -> None:
    from embed.io import load

    vectors = load(kjv_copy)
    n = min(10_000, len(vectors))
    open_page(page, server)
    state = cloud_ready(page)
    assert state["points"] == n and page.get_attribute("#cloud", "data-points") == str(n)
    assert coloured_pixels(page) > 2_000  # the canvas really holds the points
    assert f"{n:,} words, PCA 2-D" in page.inner_text("#cloud-status")
    word = "king"
    page.mouse.move(*point_xy(page, word))
    page.wait_for_function("w => window.embedExplorer.hovered === w", arg=word)
    assert page.inner_text("#cloud-hover").startswith(f"{word} (")
    page.mouse.click(*point_xy(page, word))  # click: the word becomes the query
    page.wait_for_selector("#neighbours tbody tr")
    expected = [w for w, _ in vectors.most_similar(word, topn=10)]
    assert [w for w, _ in table_rows(page, "neighbours")] == expected and page.input_value("#word") == word
    assert "word=king" in page.url
    page.wait_for_function("n => window.embedExplorer.lit.length === n", arg=10)
    assert page.evaluate("window.embedExplorer.lit") == expected
    assert page.inner_text("#cloud-labels .query") == word  # labelled: the query and (room allowing) its neighbours
    labels = page.locator("#cloud-labels .neighbour").all_inner_texts()
    assert labels and set(labels) <= set(expected)
    shot(page, tmp_path, "explorer-1280")


def test_search_highlights_substrings_and_regexes(page: Any, server: str, kjv_copy: Path) -> None:
    from embed.io import load

    words = load(kjv_copy).words[:10_000]
    open_page(page, server)
    cloud_ready(page)
    page.fill("#cloud-search", "KING")
    want = sum("king" in w for w in words)
    page.wait_for_function("n => window.embedExplorer.matches === n", arg=want)
    assert page.inner_text("#cloud-matches").startswith(f"{want} of ")
    page.fill("#cloud-search", "/^k.*g$/")
    import re

    page.wait_for_function(
        "n => window.embedExplorer.matches === n", arg=sum(bool(re.search("^k.*g$", w)) for w in words)
    )
    page.fill("#cloud-search", "/(/")
    page.wait_for_function(
        "() => document.querySelector('#cloud-matches').textContent.startsWith('not a valid regular expression')"
    )


def test_methods_3d_and_bad_input(page: Any, server: str, tmp_path: Path) -> None:
    open_page(page, server)
    cloud_ready(page)
    page.fill("#cloud-n", "400")
    page.select_option("#cloud-method", "tsne")  # computed on the server the first time (seconds for 400 words)
    assert cloud_ready(page, method="tsne")["points"] == 400 and "method=tsne" in page.url
    page.select_option("#cloud-dims", "3")
    page.wait_for_function("() => window.embedExplorer.dims === 3")
    assert coloured_pixels(page) > 300
    shot(page, tmp_path, "explorer-3d")
    page.fill("#cloud-n", "99999")
    page.dispatch_event("#cloud-n", "change")
    page.wait_for_selector("#cloud[data-state='error']")
    assert page.inner_text("#cloud-status") == "invalid_request: n: Input should be less than or equal to 20000"
    assert page.evaluate("window.embedExplorer.points") == 0  # no stale cloud under the message


def test_custom_axes(page: Any, server: str) -> None:
    open_page(page, server)
    cloud_ready(page)
    page.select_option("#cloud-method", "custom")
    page.fill("#axis-x-start", "man")
    page.fill("#axis-x-end", "woman")
    page.fill("#axis-y-start", "king")
    page.fill("#axis-y-end", "queen")
    page.click("#custom-go")
    cloud_ready(page, method="custom")
    assert "along man → woman (x) and king → queen (y)" in page.inner_text("#cloud-status")
    page.fill("#axis-y-end", "quen")
    page.click("#custom-go")
    page.wait_for_selector("#cloud[data-state='error']")
    assert page.inner_text("#cloud-status").startswith(
        "word_not_found: word 'quen' is not in the model's vocabulary"
    ) and "queen" in page.inner_text("#cloud-status")


def test_unknown_word_clears_lit_points(page: Any, server: str) -> None:
    open_page(page, server)
    cloud_ready(page)
    page.fill("#word", "god")
    page.click("#find")
    page.wait_for_function("() => window.embedExplorer.lit.length === 10")
    page.fill("#word", "godz")
    page.click("#find")
    page.wait_for_selector("#error a.suggestion")
    assert page.evaluate("window.embedExplorer.lit") == [] and page.locator("#cloud-labels span").count() == 0
    assert page.is_hidden("#neighbours")


def test_analogy_arrows_3cosmul_and_model_page(page: Any, server: str, kjv_copy: Path) -> None:
    from embed.io import load

    open_page(page, server)
    cloud_ready(page)
    page.select_option("#analogy-method", "3cosmul")
    page.fill("#analogy-k", "3")
    page.click("#analogy-go")  # empty boxes: the English example words (placeholders)
    page.wait_for_selector("#analogy-map svg")
    expected = load(kjv_copy).analogy("man", "king", "woman", topn=3, method="3cosmul")
    assert [w for w, _ in table_rows(page, "analogy-results")] == [w for w, _ in expected]
    assert page.locator("#analogy-map line.arrow").count() == 2
    assert page.inner_text("#analogy-results thead").split()[-1] == "3CosMul"
    meta = json.loads((kjv_copy / "meta.json").read_text())
    page.wait_for_selector("#model-params tbody tr")
    params = dict(
        zip(
            page.locator("#model-params td:first-child").all_inner_texts(),
            page.locator("#model-params td:last-child").all_inner_texts(),
            strict=False,
        )
    )
    assert params["dim"] == "50" and params["arch"] == meta["params"]["arch"]
    assert page.locator("#model-curve polyline").count() == 2  # loss and words/s per epoch


def test_chinese_model_labels_and_placeholders(page: Any, server: str, zh_model_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    from embed.io import load

    vectors = load(zh_model_dir)
    open_page(page, server)
    cloud_ready(page)
    page.select_option("#model", "sanguo")
    cloud_ready(page, model="sanguo")
    page.wait_for_function("() => document.querySelector('#word').placeholder.includes('曹操')")
    assert page.get_attribute("#analogy-a", "placeholder") == "刘备"
    page.fill("#word", "曹操")
    page.click("#find")
    page.wait_for_selector("#neighbours tbody tr")
    assert [w for w, _ in table_rows(page, "neighbours")] == [w for w, _ in vectors.most_similar("曹操", topn=10)]
    page.wait_for_selector("#cloud-labels .query")
    assert page.inner_text("#cloud-labels .query") == "曹操"
    shot(page, tmp_path, "explorer-zh")


def test_classifier_box(page: Any, server: str, classifier_dir: Path, tmp_path: Path) -> None:
    from embed.classify import load_classifier

    clf = load_classifier(classifier_dir)
    open_page(page, server)
    page.wait_for_selector("#classify-panel:not([hidden])")
    texts = ["w3 splendid w7", "dreadful w1 w2"]
    page.fill("#classify-text", "\n".join(texts))
    page.click("#classify-go")
    page.wait_for_selector("#classify-results .prediction >> nth=1")
    for i, probs in enumerate(clf.predict_proba(texts)):
        item = page.locator("#classify-results .prediction").nth(i)
        shown = dict(
            zip(
                item.locator(".label").all_inner_texts(),
                map(float, item.locator(".prob").all_inner_texts()),
                strict=False,
            )
        )
        assert shown == pytest.approx(dict(zip(clf.labels, probs, strict=False)), abs=1e-3)
    assert page.locator("#classify-results .prediction").nth(0).locator(".label").first.inner_text() == "pos"
    shot(page, tmp_path, "explorer-classify")


def test_phone_width(browser: Any, server: str, tmp_path: Path) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(30_000)
    open_page(page, server)
    cloud_ready(page)
    page.fill("#word", "king")
    page.click("#find")
    page.wait_for_selector("#neighbours tbody tr")
    wide = page.evaluate(
        "[...document.querySelectorAll('main section')].filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.id)"
    )
    assert wide == [] and page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    shot(page, tmp_path, "explorer-390")
    context.close()
