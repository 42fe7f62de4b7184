"""Issue 19, hardening, against real uvicorn servers: body limits on every route (Content-Length
and chunked), damaged index tables, HEAD on health routes, security headers, Retry-After on 503,
and a doubled X-API-Key treated alike by the fast path and the routes."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

import embed
from embed.errors import FormatError
from embed.index import load_index
from tests.service.serving import Server, run_server, start_server, wait_loaded

KEY = {"X-API-Key": "k"}
LIMIT = 4096
BODY_TIMEOUT = 1.0  # seconds: short, since 10 cases each wait it out
# Every route that reads a body; /similar by word is answered by the fast path (service/fastpath.py).
BODY_ROUTES = [
    ("/v1/models/kjv/similar", b'{"word": "god", "k": 3}'),
    ("/v1/models/kjv/similarity", b'{"a": "god", "b": "lord"}'),
    ("/v1/models/kjv/analogy", b'{"a": "man", "b": "king", "c": "woman"}'),
    ("/v1/models/kjv/vectors", b'{"words": ["god"]}'),
    ("/v1/classifiers/tiny/predict", b'{"texts": ["god"]}'),
]


@pytest.fixture(scope="module")
def server(kjv_indexed: Path, classifier_dir: Path) -> Iterator[Server]:
    srv = start_server(
        {"kjv": kjv_indexed},
        env={
            "EMBED_API_KEY": "k",
            "EMBED_MAX_BODY_BYTES": str(LIMIT),
            "EMBED_BODY_TIMEOUT": str(BODY_TIMEOUT),
            "EMBED_CLASSIFIERS": f'{{"tiny": "{classifier_dir}"}}',
        },
    )
    try:
        yield srv
    finally:
        srv.stop()
        srv.log_path.unlink(missing_ok=True)


def _chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    """A generator body: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _oversized(body: bytes) -> bytes:
    return body + b" " * (2 * LIMIT)  # JSON may end in any amount of white space


def _too_large(r: httpx.Response) -> None:
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "body_too_large" and "4,096-byte limit" in r.json()["error"]["message"]


@pytest.mark.parametrize("path,start", BODY_ROUTES)
def test_oversized_bodies_answer_413_by_length_and_chunked(server: Server, path: str, start: bytes) -> None:
    body = _oversized(start)
    before = server.log()
    with httpx.Client(base_url=server.url, timeout=30, headers={**KEY, "content-type": "application/json"}) as c:
        _too_large(c.post(path, content=body))
        _too_large(c.post(path, content=_chunks(body)))
        ok = start  # the same request within the limit is answered
        assert c.post(path, content=ok).status_code == 200
        assert c.post(path, content=_chunks(ok)).status_code == 200
    new = server.log()[len(before) :]
    assert "Traceback" not in new and len(new.splitlines()) <= 2, new


def _stall(url: str, path: str, head: bytes, first: bytes) -> tuple[bytes, float]:
    """Send the request line, headers and the start of a body, then nothing: the server's answer and its delay."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: k\r\n".encode()
            + head
            + b"\r\n"
            + first
        )
        started, answer = time.monotonic(), b""
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            answer += chunk
        return answer, time.monotonic() - started


@pytest.mark.parametrize("path,start", BODY_ROUTES)
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_stalled_body_answers_408_and_closes(server: Server, path: str, start: bytes, framing: str) -> None:
    """Item 9: a client that stops sending mid-body gets 408 after EMBED_BODY_TIMEOUT, not a connection held
    for ever."""
    before = server.log()
    if framing == "length":
        answer, waited = _stall(server.url, path, f"Content-Length: {len(start) + 10}\r\n".encode(), start)
    else:
        answer, waited = _stall(
            server.url, path, b"Transfer-Encoding: chunked\r\n", b"%x\r\n%s\r\n" % (len(start), start)
        )
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 408 Request Timeout", answer
    assert b"connection: close" in rest.lower() and b'"code":"body_timeout"' in rest
    assert f"within {BODY_TIMEOUT:g} s".encode() in rest
    assert BODY_TIMEOUT - 0.5 <= waited < BODY_TIMEOUT + 5
    new = server.log()[len(before) :]
    assert "Traceback" not in new and len(new.splitlines()) <= 2, new
    assert (
        httpx.post(server.url + path, content=start, headers={**KEY, "content-type": "application/json"}).status_code
        == 200
    )


def _damaged_copy(kjv_indexed: Path, out: Path, bad_id: int) -> Path:
    """A copy of the indexed model whose exact cosine table holds ``bad_id`` in one cell."""
    shutil.copytree(kjv_indexed, out)
    table = out / "index" / "table_cosine_ids.npy"
    ids = np.load(table)
    ids[7, 3] = bad_id
    np.save(table, ids)
    return out


@pytest.mark.parametrize("bad", ["negative", "past_the_vocabulary"])
def test_damaged_table_is_refused_at_open(kjv_indexed: Path, tmp_path: Path, bad: str) -> None:
    vectors = embed.load(kjv_indexed)
    bad_id = -1 if bad == "negative" else len(vectors) + 5
    damaged = _damaged_copy(kjv_indexed, tmp_path / "kjv", bad_id)
    with pytest.raises(
        FormatError,
        match=rf"table_cosine_ids\.npy: neighbour id {bad_id} is outside the model's {len(vectors)} words.*embed index",
    ):
        load_index(damaged, embed.load(damaged))
    assert load_index(kjv_indexed, vectors) is not None  # the intact original still opens


def test_damaged_table_fails_its_model_only(kjv_indexed: Path, tmp_path: Path) -> None:
    damaged = _damaged_copy(kjv_indexed, tmp_path / "kjv", -1)
    with run_server({"kjv": kjv_indexed, "bad": damaged}, wait_ready=False, env={"EMBED_API_KEY": "k"}) as url:
        r = wait_loaded(url, KEY)
        assert r.status_code == 200 and r.json()["status"] == "degraded", r.text
        assert (
            r.json()["failed"] == {"models": ["bad"], "classifiers": []}
            and "table_cosine_ids.npy: neighbour id -1" in r.json()["detail"]
        )
        two_keys = httpx.get(f"{url}/readyz", headers=[("X-API-Key", "k"), ("X-API-Key", "other")])
        assert (
            two_keys.status_code == 200 and two_keys.json()["detail"] == "loading failed; send the API key to see why"
        )
        models = httpx.get(f"{url}/v1/models", headers=KEY).json()
        assert [m["name"] for m in models["models"]] == ["kjv"] and models["failed"] == ["bad"]
        ok = httpx.post(f"{url}/v1/models/kjv/similar", json={"word": "god", "k": 3}, headers=KEY)
        assert ok.status_code == 200 and len(ok.json()["results"]) == 3
        assert httpx.post(f"{url}/v1/models/bad/similar", json={"word": "god", "k": 3}, headers=KEY).status_code == 404


def _security(r: httpx.Response, page: bool = False) -> None:
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer", (
        r.url,
        r.headers,
    )
    assert r.headers.get("content-security-policy") == ("default-src 'self'" if page else None), (r.url, r.headers)


def test_head_on_health_routes_answers_like_get(server: Server) -> None:
    for path in ("/healthz", "/readyz"):
        got, head = httpx.get(server.url + path), httpx.head(server.url + path)
        assert head.status_code == got.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"] == "application/json"
        _security(head)


def test_security_headers_on_every_response(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30, headers=KEY) as c:
        fast = c.post("/v1/models/kjv/similar", json={"word": "god", "k": 3})
        assert fast.json()["method"] == "table"  # answered by the fast path, not the router
        _security(fast)
        _security(c.post("/v1/models/kjv/similarity", json={"a": "god", "b": "lord"}))
        _security(c.get("/healthz"))
        _security(c.get("/openapi.json"))
        _security(c.post("/v1/models/kjv/similar", json={"word": "xyzzy"}))  # 404 through the router
        _security(c.post("/v1/models/kjv/similar", json={"word": "god"}, headers={"X-API-Key": "no"}))  # 401
        chunked = c.post(
            "/v1/models/kjv/similar", content=_chunks(_oversized(b"{}")), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413
        _security(chunked)
        for path in ("/", "/static/app.js", "/static/style.css"):
            r = httpx.get(server.url + path)
            assert r.status_code == 200
            _security(r, page=True)


def test_retry_after_on_503_while_loading(kjv_indexed: Path, tmp_path: Path) -> None:
    """Loading is held open deterministically (tests/service/hold_loading.py: model loads wait for a file the
    test writes)."""
    release = tmp_path / "release"
    server = start_server(
        {"kjv": kjv_indexed},
        env={"EMBED_TEST_RELEASE": str(release)},
        wait_ready=False,
        module="tests.service.hold_loading",
    )
    try:
        loading = httpx.get(server.url + "/readyz")
        assert (
            loading.status_code == 503
            and loading.json()["status"] == "loading"
            and loading.headers["retry-after"] == "5"
        )
        _security(loading)
        assert httpx.head(server.url + "/readyz").headers["retry-after"] == "5"
        busy = httpx.post(server.url + "/v1/models/kjv/similar", json={"word": "god", "k": 3})
        assert (
            busy.status_code == 503
            and busy.json()["error"]["code"] == "not_ready"
            and busy.headers["retry-after"] == "5"
        )
        release.touch()  # loading goes on
        ready = wait_loaded(server.url)
        assert ready.status_code == 200 and "retry-after" not in ready.headers
        assert httpx.post(server.url + "/v1/models/kjv/similar", json={"word": "god", "k": 3}).status_code == 200
    finally:
        server.stop()
        server.log_path.unlink(missing_ok=True)


def test_retry_after_when_every_model_failed(kjv_indexed: Path, tmp_path: Path) -> None:
    damaged = _damaged_copy(kjv_indexed, tmp_path / "kjv", -1)
    with run_server({"bad": damaged}, wait_ready=False) as url:
        r = wait_loaded(url)
        assert r.status_code == 503 and r.json()["status"] == "failed" and r.headers["retry-after"] == "5"


@pytest.mark.parametrize("keys", [("k", "wrong"), ("wrong", "k")])
@pytest.mark.parametrize(
    "path,body",
    [("/v1/models/kjv/similar", {"word": "god", "k": 3}), ("/v1/models/kjv/similarity", {"a": "god", "b": "lord"})],
)
def test_two_different_api_keys_are_refused_on_both_paths(
    server: Server, keys: tuple[str, str], path: str, body: dict
) -> None:
    """By-word /similar goes through the fast path, /similarity through the routes: the same answer either way."""
    r = httpx.post(server.url + path, json=body, headers=[("X-API-Key", keys[0]), ("X-API-Key", keys[1])])
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized" and "X-API-Key" in r.json()["error"]["message"]
    same = httpx.post(server.url + path, json=body, headers=[("X-API-Key", "k"), ("X-API-Key", "k")])
    assert same.status_code == 200
    # /readyz shows load errors only to a caller with the key: two different keys are not that caller
    assert (
        httpx.get(server.url + "/readyz", headers=[("X-API-Key", keys[0]), ("X-API-Key", keys[1])]).status_code == 200
    )


@pytest.fixture(scope="module")
def nonfinite_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 random rows, two of them NaN/inf, imported with allow_nonfinite and indexed (table + HNSW)."""
    from click.testing import CliRunner

    from embed.cli import main

    root = tmp_path_factory.mktemp("nonfinite")
    m = np.random.default_rng(0).standard_normal((300, 8))
    m[5, 2], m[9, 0] = np.nan, np.inf
    lines = ["300 8"] + [f"w{i} " + " ".join(repr(float(x)) for x in row) for i, row in enumerate(m)]
    (root / "v.txt").write_text("\n".join(lines) + "\n")
    for args in (
        ["import", str(root / "v.txt"), "--out", str(root / "m"), "--allow-nonfinite", "-q"],
        ["index", str(root / "m")],
    ):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
    return root / "m"


def test_rows_with_nan_or_inf_are_never_served(nonfinite_model: Path) -> None:
    """Item 4: no NaN score or null in any answer; a NaN row as the query is a 422 naming the word."""
    with run_server({"m": nonfinite_model}) as url:
        base = f"{url}/v1/models/m"
        for query in (
            {"word": "w1", "k": 50},
            {"word": "w1", "k": 50, "exact": False},
            {"word": "w1", "k": 299, "metric": "euclidean"},
            {"positive": ["w1", "w2"], "k": 50},
            {"vector": [1.0] * 8, "k": 299},
        ):
            body = httpx.post(f"{base}/similar", json=query).json()
            words = [r["word"] for r in body["results"]]
            assert "w5" not in words and "w9" not in words, query
            assert all(isinstance(r["score"], float) and np.isfinite(r["score"]) for r in body["results"]), query
            assert len(words) == min(query["k"], 298 - ("word" in query) - 2 * ("positive" in query)), query
        for path, body in (
            ("/similar", {"word": "w5"}),
            ("/similar", {"positive": ["w1", "w9"]}),
            ("/similarity", {"a": "w1", "b": "w5"}),
            ("/vectors", {"words": ["w1", "w9"]}),
            ("/analogy", {"a": "w5", "b": "w1", "c": "w2"}),
        ):
            r = httpx.post(base + path, json=body)
            assert r.status_code == 422, (path, r.text)
            assert "NaN or inf" in r.json()["error"]["message"] and (
                "'w5'" in r.text or "'w9'" in r.text or path == "/similarity"
            )
        assert httpx.get(f"{base}/vectors/w5").status_code == 422
        batch = httpx.post(f"{base}/similar", json={"queries": [{"word": "w5"}, {"word": "w1", "k": 3}]}).json()
        assert (
            batch["errors"] == 1
            and batch["results"][0]["error"]["status"] == 422
            and len(batch["results"][1]["results"]) == 3
        )
        cosmul = httpx.post(
            f"{base}/analogy", json={"a": "w1", "b": "w2", "c": "w3", "k": 296, "method": "3cosmul"}
        ).json()
        assert len(cosmul["results"]) == 295 and all(np.isfinite(r["score"]) for r in cosmul["results"])
