"""Generated inputs from /openapi.json never cause a 5xx; SIGTERM lets in-flight requests finish; a worker killed
with kill -9 is replaced without losing requests beyond those in flight."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

import embed
from tests.service.serving import run_server, start_server

# Examples per (operation, generation mode, model name fixed or generated): ~8 operations x 4 x N requests.
MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def base_url(kjv_indexed: Path, classifier_dir: Path) -> Iterator[str]:
    env = {"EMBED_MAX_BODY_BYTES": "65536", "EMBED_CLASSIFIERS": json.dumps({"tiny": str(classifier_dir)})}
    with run_server({"kjv": kjv_indexed}, env=env) as url:
        yield url


def _check(case: schemathesis.Case, response: object, failures: list[str]) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    if status >= 500:
        failures.append(f"{status} for {case.as_curl_command()}")
    elif status >= 400:
        body = response.json()  # type: ignore[attr-defined]
        if set(body) != {"error"} or not {"code", "message"} <= set(body["error"]):
            failures.append(f"error body {body} for {case.as_curl_command()}")


def test_generated_requests_never_cause_server_errors(base_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith(
            "/projection"
        ):  # a first t-SNE/UMAP takes 30-60 s; tests/test_explorer.py covers its inputs
            continue
        # Generated names are almost never "kjv" or "tiny"; pin them in half the runs to reach the query code.
        pinned = {k: v for k, v in (("model", "kjv"), ("classifier", "tiny")) if "{" + k + "}" in operation.path}
        path_variants: list[dict[str, str] | None] = [None, pinned] if pinned else [None]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in path_variants:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

                @given(case=strategy)
                @settings(
                    max_examples=MAX_EXAMPLES,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def run(case: schemathesis.Case) -> None:
                    nonlocal calls
                    calls += 1
                    _check(case, case.call(base_url=base_url, timeout=30), failures)

                try:
                    run()
                except Unsatisfiable:  # negative mode on an operation with no inputs to break (e.g. /healthz)
                    assert mode is GenerationMode.NEGATIVE
    assert calls >= 100
    assert not failures, "\n".join(failures[:10])


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_sigterm_finishes_in_flight_request(kjv_indexed: Path) -> None:
    server = start_server({"kjv": kjv_indexed})
    try:
        port = int(server.url.rsplit(":", 1)[1])
        body = json.dumps({"word": "god", "k": 5}).encode()
        head = (
            "POST /v1/models/kjv/similar HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(head.encode() + body[:5])  # the request is in flight: head sent, body half-way
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert server.process.poll() is None, "the server quit with a request in flight"
        with pytest.raises(httpx.ConnectError):  # no new connections once shutting down
            httpx.get(server.url + "/healthz", timeout=2)
        sock.sendall(body[5:])
        raw = _read_response(sock)
        sock.close()
        status_line, _, rest = raw.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 200 OK"
        got = json.loads(rest.partition(b"\r\n\r\n")[2])
        want = embed.load(kjv_indexed).most_similar("god", topn=5)
        assert [r["word"] for r in got["results"]] == [w for w, _ in want]
        # It exits once the request is done; uvicorn re-raises the caught SIGTERM, so -15 is a clean exit too.
        assert server.process.wait(20) in (0, -signal.SIGTERM)
        assert "Finished server process" in server.log()
    finally:
        server.stop()


def _workers(supervisor: int) -> list[int]:
    """uvicorn's worker processes (multiprocessing's resource tracker is a child too, and is left out)."""
    kids = [int(p) for p in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()]
    return [k for k in kids if b"pipe_handle" in Path(f"/proc/{k}/cmdline").read_bytes()]


def _after(log: str, marker: str) -> str:
    """The part of ``log`` from ``marker`` on."""
    return log[log.index(marker) :]


def test_a_worker_killed_under_load_is_replaced_without_losing_requests(kjv_indexed: Path, tmp_path: Path) -> None:
    """kill -9 one of two workers while 4 clients keep asking: uvicorn's supervisor starts a new one,
    which loads before it accepts (service/workers.py). Only requests on the killed worker's
    connections fail (at most one per client: the one in flight); none gets a 5xx or a 503."""
    models = {f"m{i}": kjv_indexed for i in range(8)}  # eight loads: the replacement takes a moment to be ready
    # Its own TMPDIR: plain uvicorn leaves the workers' marker behind, which other tests' `embed train` would remove.
    server = start_server(models, workers=2, env={"TMPDIR": str(tmp_path)})
    try:
        first = _workers(server.process.pid)
        assert len(first) == 2
        statuses: Counter[int] = Counter()
        failed: Counter[str] = Counter()
        stop = time.monotonic() + 8.0

        def client(n: int) -> None:
            with httpx.Client(base_url=server.url, timeout=10) as c:
                while time.monotonic() < stop:
                    try:  # exact euclidean: a scan in a thread, not the fast path
                        statuses[
                            c.post(
                                f"/v1/models/m{n}/similar", json={"word": "god", "k": 5, "metric": "euclidean"}
                            ).status_code
                        ] += 1
                    except httpx.TransportError as exc:
                        failed[type(exc).__name__] += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while (now := _workers(server.process.pid)) == first or len(now) != 2:
            assert time.monotonic() < deadline, "no replacement worker"
            time.sleep(0.05)
        for t in threads:
            t.join()
        assert set(statuses) == {200}, statuses
        assert sum(failed.values()) <= len(threads), failed  # the killed worker's in-flight requests
        after = httpx.get(server.url + "/readyz").json()
        assert after == {"status": "ready"} and first[0] not in now and first[1] in now
        # the replacement process exists before it has loaded: wait for its startup to complete in the log
        while "Application startup complete" not in (
            replaced := _after(server.log(), f"Child process [{first[0]}] died")
        ):
            assert time.monotonic() < deadline, "the replacement worker never completed its startup"
            time.sleep(0.05)
        # the new worker loaded every model before uvicorn called its startup complete (and so before it accepted)
        assert replaced.count("loaded model") == len(models) and replaced.rindex("loaded model") < replaced.index(
            "Application startup complete"
        ), replaced
    finally:
        server.stop()
        server.log_path.unlink(missing_ok=True)
