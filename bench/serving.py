"""What the HTTP benchmarks share: the synthetic model, a uvicorn server on a free port, wrk runs, memory, recall.

Used by ``bench.serve``, ``bench.serve_report``, ``bench.soak``, ``bench.large`` and ``bench.classify_http``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "wrk_bodies.lua"
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "EMBED_THREADS": "1"}


def ensure_model(model_dir: Path) -> Path:
    """Write the synthetic model and its index unless already there."""
    if (model_dir / "index" / "index.json").exists():
        return model_dir
    from bench.synth import write_model

    t0 = time.perf_counter()
    write_model(model_dir)
    subprocess.run(
        [sys.executable, "-m", "embed", "index", str(model_dir), "--kind", "hnsw", "--threads", "2"],
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    print(f"built {model_dir} in {time.perf_counter() - t0:.0f}s", flush=True)
    return model_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, probe: str = "/readyz", seconds: float = 300.0, what: str = "the server") -> None:
    """Poll ``url + probe`` until it answers 200. Raises RuntimeError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + probe, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{what} did not come up at {url}{probe} within {seconds:.0f} s")


@contextmanager
def server(app: str, env: dict[str, str], workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """uvicorn APP --factory on a free port; yields (url, process) once /similar-ready."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT), **THREAD_ENV, **env}, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url, "/readyz" if app.startswith("service") else "/docs", what=app)
        time.sleep(1.0 * workers)  # let every worker finish loading before load starts
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(60)


def wrk(url: str, target: str, bodies: Path, connections: int = 16, duration: int = 30) -> dict[str, Any]:
    """Run wrk; returns requests/s, p50/p99 ms and error counts."""
    env = {**os.environ, "BODIES": str(bodies), "TARGET": target}
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(LUA), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRKJSON "))
    r = json.loads(line[len("WRKJSON ") :])
    errors = {k: r[k] for k in ("connect", "read", "write", "status", "timeout")}
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1e3,
        "p99_ms": r["p99_us"] / 1e3,
        "requests": r["requests"],
        "connections": connections,
        "seconds": duration,
        "errors": errors,
    }


def write_bodies(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows), encoding="utf-8")
    return path


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, anonymous RSS) of ``pid`` and its children (uvicorn master + workers), MiB.

    Anonymous memory is the heap, where a leak shows; the rest is mostly mapped model pages.
    """
    pids = {pid}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().split(") ")[1].split()[1]) == pid:
                    pids.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    rss = anon = 0.0
    for p in pids:
        try:
            fields = dict(
                line.split(":", 1) for line in Path(f"/proc/{p}/status").read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        rss += int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
        anon += int(fields.get("RssAnon", "0 kB").split()[0]) / 1024
    return rss, anon


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (uvicorn master + workers), MiB."""
    return memory_mb(pid)[0]


def recall_by_word(
    url: str, unit: np.ndarray, words: list[str], rng: np.random.Generator, n: int = 200
) -> dict[str, float]:
    """Service top-10 vs numpy brute force over every word (self excluded)."""
    rows = rng.choice(len(words), n, replace=False)
    hits, worst = 0, 0.0
    with httpx.Client(base_url=url, timeout=30) as c:
        for row in rows.tolist():
            got = c.post("/v1/models/synth/similar", json={"word": words[row], "k": 10}).json()["results"]
            s = unit @ unit[row]
            s[row] = -np.inf
            top = np.argpartition(-s, 10)[:10]
            hits += len({words[i] for i in top.tolist()} & {g["word"] for g in got})
            worst = max(worst, float(np.abs(np.sort(s[top])[::-1] - [g["score"] for g in got]).max()))
    return {"recall@10": hits / (10 * n), "max_score_error": worst}


def recall_ann(url: str, bodies: list[dict[str, Any]]) -> float:
    """Overlap of exact=false (HNSW) with exact=true (flat) top-10 for the same bodies."""
    hits = 0
    with httpx.Client(base_url=url, timeout=30) as c:
        for b in bodies:
            exact = {r["word"] for r in c.post("/v1/models/synth/similar", json={**b, "exact": True}).json()["results"]}
            approx = {
                r["word"] for r in c.post("/v1/models/synth/similar", json={**b, "exact": False}).json()["results"]
            }
            hits += len(exact & approx)
    return hits / (10 * len(bodies))
