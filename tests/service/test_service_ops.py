"""Operations around the API (issue 19): offline docs, an honest OpenAPI contract, metrics, request ids,
gzip, CORS and one model's info - each against a real server."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import embed
from tests.service.serving import ROOT, free_port, run_server, wait_loaded

ORIGIN = "https://app.example"
SIMILAR = "/v1/models/kjv/similar"


@pytest.fixture(scope="module")
def base_url(kjv_indexed: Path, classifier_dir: Path) -> Iterator[str]:
    env = {
        "EMBED_CLASSIFIERS": json.dumps({"tiny": str(classifier_dir)}),
        "EMBED_MAX_BATCH": "8",
        "EMBED_CORS_ORIGINS": json.dumps([ORIGIN]),
    }
    with run_server({"kjv": kjv_indexed}, env=env) as url:
        yield url


# --- 1. /docs works offline ------------------------------------------------------------------
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_only_local_assets(base_url: str, page: str) -> None:
    r = httpx.get(base_url + page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", r.text) + re.findall(
        r"""url:\s*['"]([^'"]+)['"]""", r.text
    )
    assert any(u.endswith(".js") for u in urls), r.text
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", r.text), "the page names another host"
    for url in urls:
        asset = httpx.get(base_url + url)
        assert asset.status_code == 200 and asset.content, url


def test_docs_page_renders_the_operations_in_a_browser(base_url: str) -> None:
    """Chromium on this offline machine draws Swagger UI's operation list, fetching nothing from elsewhere."""
    from tests.conftest import needs_system
    from tests.service.test_web import ARGS, CHROMIUM

    needs_system(CHROMIUM.exists(), "Debian's chromium at /usr/bin/chromium", "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        outside: list[str] = []
        page.on("request", lambda r: None if r.url.startswith(base_url) else outside.append(r.url))
        page.goto(base_url + "/docs")
        page.wait_for_selector("#operations-models-get_model_info_v1_models__model__get", timeout=15_000)
        count = page.locator(".opblock").count()
        browser.close()
    assert count >= 10 and outside == []


# --- 2. the OpenAPI contract -------------------------------------------------------------------
def test_schema_states_the_enforced_batch_limit(base_url: str) -> None:
    schemas = httpx.get(base_url + "/openapi.json").json()["components"]["schemas"]
    assert schemas["SimilarBatch"]["properties"]["queries"]["maxItems"] == 8
    assert schemas["PredictRequest"]["properties"]["texts"]["maxItems"] == 8
    assert [b["title"] for b in schemas["SimilarQuery"]["oneOf"]] == ["by word", "word arithmetic", "by vector"]
    vector = next(b for b in schemas["SimilarQuery"]["properties"]["vector"]["anyOf"] if b.get("type") == "array")
    assert vector["minItems"] == vector["maxItems"] == 50
    over = httpx.post(base_url + SIMILAR, json={"queries": [{"word": "god"}] * 9})
    assert over.status_code == 422 and "at most 8" in over.json()["error"]["message"]


def test_non_utf8_body_is_an_invalid_request(base_url: str) -> None:
    r = httpx.post(
        base_url + SIMILAR, content='{"word": "gödel"}'.encode("latin-1"), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request" and "UTF-8" in r.json()["error"]["message"]


def test_strings_are_not_counts(base_url: str) -> None:
    """The schema says k is an integer: "5" is refused, 5.0 (a JSON Schema integer) accepted."""
    assert httpx.post(base_url + SIMILAR, json={"word": "god", "k": "5"}).status_code == 422
    assert httpx.post(base_url + SIMILAR, json={"word": "god", "k": 5.0}).status_code == 200
    assert httpx.post(base_url + SIMILAR, json={"word": "god", "exact": 0}).status_code == 422


def test_schemathesis_all_checks_pass(kjv_indexed: Path, classifier_dir: Path, tmp_path: Path) -> None:
    """Every check (status codes, schemas, positive data accepted, negative data rejected, stateful...).

    413 is a valid answer either way: the body limit counts bytes, which a schema cannot state.
    """
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        '[checks.positive_data_acceptance]\nexpected-statuses = ["2xx", "401", "403", "404", "409", "413", "429"]\n'
        '[checks.negative_data_rejection]\nexpected-statuses = ["400", "401", "403", "404", "405", "406", "409", '
        '"413", "415", "422", "428", "429"]\n'
    )
    env = {"EMBED_CLASSIFIERS": json.dumps({"tiny": str(classifier_dir)}), "EMBED_MAX_BODY_BYTES": "65536"}
    with run_server({"kjv": kjv_indexed}, env=env) as url:
        cmd = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(config),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "15",
            "--generation-deterministic",
            "--request-timeout",
            "30",
            # a t-SNE/UMAP of the whole test vocabulary takes 30-60 s on first request: tests/test_explorer.py
            # covers that route
            "--exclude-path-regex",
            "/projection$",
        ]
        # cwd: schemathesis keeps a .schemathesis/ cache in the directory it runs in
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"}
        )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"Tested: 1[0-9]", done.stdout), done.stdout[
        -2000:
    ]  # every operation, GET /v1/models/{model} included


# --- 3. /metrics --------------------------------------------------------------------------------
def _samples(base_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(base_url + "/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _requests(samples: dict, handler: str, status: str, method: str = "POST") -> float:
    return samples.get(
        ("http_requests_total", frozenset({("handler", handler), ("status", status), ("method", method)})), 0.0
    )


def test_metrics_count_fast_path_answers_and_describe_models(base_url: str, kjv_indexed: Path) -> None:
    route = "/v1/models/{model}/similar"
    before = _samples(base_url)
    for _ in range(3):  # by-word top-5 from the exact table: answered by the fast path, never reaching FastAPI
        assert httpx.post(base_url + SIMILAR, json={"word": "god", "k": 5}).status_code == 200
    assert httpx.post(base_url + SIMILAR, json={"word": "no-such-word"}).status_code == 404  # the route answers it
    after = _samples(base_url)
    assert _requests(after, route, "200") - _requests(before, route, "200") == 3
    assert _requests(after, route, "404") - _requests(before, route, "404") == 1
    timed = after[
        ("http_request_duration_seconds_count", frozenset({("handler", route), ("method", "POST"), ("status", "200")}))
    ]
    assert timed >= 3
    fastest = frozenset({("handler", route), ("method", "POST"), ("status", "200"), ("le", "0.0001")})
    assert ("http_request_duration_seconds_bucket", fastest) in after  # buckets fine enough for a table look-up
    kjv = frozenset({("model", "kjv")})
    assert after[("embed_model_vocab_size", kjv)] == len(embed.load(kjv_indexed))
    assert after[("embed_model_load_seconds", kjv)] > 0
    assert after[("embed_model_index_info", frozenset({("model", "kjv"), ("kind", "hnsw"), ("metric", "cosine")}))] == 1


# --- 4. request ids, gzip, CORS -------------------------------------------------------------------
def test_request_id_is_echoed_or_made_on_every_kind_of_answer(base_url: str) -> None:
    given = "0123456789abcdef0123456789abcdef"
    fast = httpx.post(base_url + SIMILAR, json={"word": "god"}, headers={"X-Request-ID": given})
    assert fast.status_code == 200 and fast.headers["x-request-id"] == given
    made = {httpx.get(base_url + "/healthz").headers["x-request-id"] for _ in range(2)}
    assert len(made) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", m) for m in made)
    too_large = httpx.post(base_url + SIMILAR, content=b"x" * 2_000_000, headers={"Content-Type": "application/json"})
    assert too_large.status_code == 413 and "x-request-id" in too_large.headers
    assert httpx.post(base_url + SIMILAR, json={"queries": []}).headers["x-request-id"]  # a 422 from the route


def test_request_id_in_access_log(kjv_indexed: Path, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMBED_MODELS": json.dumps({"kjv": str(kjv_indexed)})}
    cmd = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        rid = "fedcba9876543210fedcba9876543210"
        assert (
            httpx.post(
                f"http://127.0.0.1:{port}{SIMILAR}", json={"word": "god"}, headers={"X-Request-ID": rid}
            ).status_code
            == 200
        )
        time.sleep(0.3)
        assert re.search(rf"\[{rid}\] .*POST {SIMILAR} HTTP/1.1\" 200", log.read_text()), log.read_text()
    finally:
        process.terminate()
        process.wait(20)


def test_json_access_log_from_embed_serve(kjv_indexed: Path, tmp_path: Path) -> None:
    """`embed serve --log-format json --access-log`: every line is a JSON object; one access record per request."""
    port, log = free_port(), tmp_path / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "embed",
        "serve",
        str(kjv_indexed),
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-format",
        "json",
        "--access-log",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # the CLI imports, then uvicorn binds
            try:
                wait_loaded(url)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        sent = [
            ("POST", SIMILAR, {"word": "god"}, 200),
            ("POST", SIMILAR, {"word": "godd"}, 404),
            ("POST", "/v1/models/kjv/analogy", {"a": 1}, 422),
            ("GET", "/v1/models/kjv", None, 200),
        ]
        for i, (method, path, body, status) in enumerate(sent):
            assert (
                httpx.request(method, url + path, json=body, headers={"X-Request-ID": f"{i:032x}"}).status_code
                == status
            )
        time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(20)
    records = [json.loads(line) for line in log.read_text().splitlines()]  # every line parses
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    access = {r["request_id"]: r for r in records if r["logger"] == "service.access" and r["request_id"] != "-"}
    for i, (method, path, _, status) in enumerate(sent):
        r = access[f"{i:032x}"]
        assert (r["method"], r["path"], r["status"]) == (method, path, status), r
        assert r["bytes"] > 0 and 0 < r["duration_ms"] < 10_000 and r["client"].startswith("127.0.0.1:")
    assert not [r for r in records if r["logger"] == "uvicorn.access"], (
        "uvicorn's text access line is replaced, not doubled"
    )


def test_embed_serve_removes_its_worker_marker_when_it_stops(kjv_indexed: Path, tmp_path: Path) -> None:
    """With --workers 2 the first worker to load leaves serving-<supervisor pid>-loaded (service/workers.py);
    the supervisor deletes it on SIGTERM, so the next `embed train` has no killed run's file to report."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "embed", "serve", str(kjv_indexed), "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = tmp_path / f"embed-{os.getuid()}" / f"serving-{process.pid}-loaded"
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():  # written just after a worker's load, which /readyz may report first
            assert process.poll() is None and time.monotonic() < deadline, "no worker marker was written"
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(30)
    assert not marker.exists() and list(marker.parent.iterdir()) == []


def test_gzip_for_large_answers_only(base_url: str) -> None:
    big = httpx.post(
        base_url + SIMILAR, json={"word": "god", "k": 100}, headers={"Accept-Encoding": "gzip"}
    )  # fast path, ~5 KB
    assert big.headers["content-encoding"] == "gzip" and len(big.json()["results"]) == 100
    with httpx.stream(
        "POST", base_url + "/v1/models/kjv/vectors", json={"words": ["god"] * 20}, headers={"Accept-Encoding": "gzip"}
    ) as routed:
        compressed = b"".join(routed.iter_raw())
    assert routed.headers["content-encoding"] == "gzip" and json.loads(gzip.decompress(compressed))["dim"] == 50
    small = httpx.get(base_url + "/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


def test_cors_for_configured_origins(base_url: str) -> None:
    preflight = httpx.options(
        base_url + SIMILAR,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ORIGIN
    assert preflight.headers["x-content-type-options"] == "nosniff" and preflight.headers["x-request-id"]
    fast = httpx.post(base_url + SIMILAR, json={"word": "god"}, headers={"Origin": ORIGIN})
    assert (
        fast.headers["access-control-allow-origin"] == ORIGIN
        and "X-Request-ID" in fast.headers["access-control-expose-headers"]
    )
    other = httpx.post(base_url + SIMILAR, json={"word": "god"}, headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_off_by_default(kjv_indexed: Path) -> None:
    with run_server({"kjv": kjv_indexed}) as url:
        r = httpx.options(url + SIMILAR, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in r.headers
        assert "access-control-allow-origin" not in httpx.get(url + "/v1/models", headers={"Origin": ORIGIN}).headers


# --- 5. one model ---------------------------------------------------------------------------------
def test_one_model_info(base_url: str) -> None:
    listed = httpx.get(base_url + "/v1/models").json()["models"]
    one = httpx.get(base_url + "/v1/models/kjv")
    assert one.status_code == 200 and one.json() == next(m for m in listed if m["name"] == "kjv")
    missing = httpx.get(base_url + "/v1/models/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
