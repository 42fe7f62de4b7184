"""Processes for bench/large.py: measured commands, fresh-process probes, ``embed serve`` and its workers' memory.

python -m bench.large_procs load FILE.bin    # gensim load_word2vec_format; prints RESULT {json}
python -m bench.large_procs open MODEL_DIR   # embed.load; prints RESULT {json}
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.common import ROOT
from bench.serving import THREAD_ENV, free_port, rss_mb

EMBED = [sys.executable, "-m", "embed"]
READY_TIMEOUT = 1800.0


class StepFailed(RuntimeError):
    """A measured command failed; the step's figure records the message and the run goes on."""


# A child exec'd from this process starts with this process's RSS high-water mark (Linux keeps the
# pre-exec mm's peak in ru_maxrss; a 1 GB numpy array freed here made `true` "peak" at 1,066 MB), so
# commands are started by this tiny launcher, whose own peak (~10 MB) is all they inherit.
_LAUNCH = (
    "import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)"
)


def measured(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` to the end: wall seconds and peak RSS of that process alone. Raises StepFailed."""
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        rc = subprocess.call(
            [sys.executable, "-S", "-c", _LAUNCH, *cmd],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        seconds = time.perf_counter() - t0
        log.seek(0)
        text = log.read().decode(errors="replace")
    if rc != 0:
        last = " / ".join([ln.strip() for ln in text.splitlines() if ln.strip()][-2:])
        raise StepFailed(f"`{shlex.join(cmd)}` exited {rc}: {last[-500:]}")
    peak_kb = next(int(ln.split()[1]) for ln in reversed(text.splitlines()) if ln.startswith("PEAK_RSS_KB "))
    return {"seconds": seconds, "peak_rss_mb": peak_kb / 1024, "command": shlex.join(cmd), "output": text}


def child_result(kind: str, path: Path) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter; its figures plus the process's wall time and peak RSS."""
    res = measured([sys.executable, "-m", "bench.large_procs", kind, str(path)])
    line = next(ln for ln in res["output"].splitlines() if ln.startswith("RESULT "))
    return {**json.loads(line[7:]), "process_s": res["seconds"], "peak_rss_mb": res["peak_rss_mb"]}


def vm_rss_mb() -> float:
    line = next(ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def child(kind: str, path: str) -> None:
    """In the fresh process: ``load`` (gensim) or ``open`` (embed.load); prints ``RESULT {json}``."""
    if kind == "load":
        from gensim.models import KeyedVectors

        t0 = time.perf_counter()
        kv = KeyedVectors.load_word2vec_format(path, binary=True)
        out: dict[str, Any] = {"load_s": time.perf_counter() - t0, "words": len(kv)}
    else:
        import embed

        before = vm_rss_mb()
        t0 = time.perf_counter()
        v = embed.load(path)
        seconds, after, m = time.perf_counter() - t0, vm_rss_mb(), v.matrix
        base: Any = m
        mapped = False
        while base is not None and not mapped:  # a view of a memmap counts as mapped
            mapped, base = isinstance(base, np.memmap), getattr(base, "base", None)
        out = {
            "load_s": seconds,
            "rss_before_mb": before,
            "rss_after_mb": after,
            "rss_growth_mb": after - before,
            "words": len(v),
            "matrix_type": f"{type(m).__module__}.{type(m).__qualname__}",
            "memmap": isinstance(m, np.memmap),
            "mapped": mapped,
        }
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out), flush=True)


def workers(pid: int) -> list[int]:
    """The uvicorn master's worker processes: its children, less multiprocessing's resource tracker."""
    try:
        kids = [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        kids = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and (p / "stat").read_text().rsplit(") ", 1)[1].split()[1] == str(pid)
        ]
    return [k for k in kids if b"resource_tracker" not in Path(f"/proc/{k}/cmdline").read_bytes()]


def worker_memory(pid: int) -> dict[str, Any]:
    """RSS and PSS (MiB) of each worker; sum of PSS over the largest RSS (1.0: all shared, 2.0: nothing)."""
    per: dict[str, dict[str, float]] = {}
    for w in workers(pid):
        rows = dict(ln.split(":", 1) for ln in Path(f"/proc/{w}/smaps_rollup").read_text().splitlines()[1:])
        mb = {k: int(v.split()[0]) / 1024 for k, v in rows.items()}
        per[str(w)] = {
            "rss_mb": mb["Rss"],
            "pss_mb": mb["Pss"],
            "pss_anon_mb": mb.get("Pss_Anon", -1.0),
            "pss_file_mb": mb.get("Pss_File", -1.0),
        }
    pss, top = sum(m["pss_mb"] for m in per.values()), max((m["rss_mb"] for m in per.values()), default=0.0)
    return {
        "workers": per,
        "sum_pss_mb": pss,
        "max_rss_mb": top,
        "pss_over_max_rss": pss / top if top else None,
        "all_rss_mb": rss_mb(pid),
    }


def wait_ready(url: str, proc: subprocess.Popen[bytes], n_workers: int) -> float:
    """Until ``/readyz`` says 200 on 10 fresh connections per worker in a row and the RSS is steady.

    Returns when (``time.monotonic()``) the first 200 came. Raises StepFailed.
    """
    deadline, in_a_row, last, first = time.monotonic() + READY_TIMEOUT, 0, -1.0, 0.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StepFailed(f"embed serve exited {proc.returncode} before it was ready")
        try:
            in_a_row = in_a_row + 1 if httpx.get(url + "/readyz", timeout=5).status_code == 200 else 0
        except httpx.HTTPError:
            in_a_row = 0
        first = first or (time.monotonic() if in_a_row else 0.0)
        if in_a_row >= 10 * n_workers and len(workers(proc.pid)) == n_workers:
            now = rss_mb(proc.pid)
            if abs(now - last) < 0.01 * now:
                return first
            last, in_a_row = now, 0
        time.sleep(0.02 if in_a_row else 0.25)
    raise StepFailed(f"embed serve not ready after {READY_TIMEOUT:.0f}s")


@contextmanager
def embed_server(model: Path, n_workers: int) -> Iterator[dict[str, Any]]:
    """``embed serve MODEL`` (bench.serving.server runs uvicorn itself; this is the command users run).

    Yields url, master pid, command, seconds to the first ``/readyz`` 200 and to every worker's.
    """
    port = free_port()
    cmd = [
        *EMBED,
        "serve",
        str(model),
        "--workers",
        str(n_workers),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--log-level",
        "warning",
    ]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT), **THREAD_ENV}, cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{port}"
        first = wait_ready(url, proc, n_workers)
        yield {
            "url": url,
            "pid": proc.pid,
            "first_ready_s": first - t0,
            "ready_s": time.monotonic() - t0,
            "command": shlex.join(cmd),
        }
    finally:
        proc.terminate()
        proc.wait(60)


def recall(
    url: str,
    model: str,
    words: list[str],
    truth: list[set[str]],
    exact: bool | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Overlap of the service's top-10 with brute force; the methods the service says it used.

    ``extra``: more fields of every body (e.g. ``{"ef_search": 256}``)."""
    hits, methods, t0 = 0, Counter[str](), time.perf_counter()
    with httpx.Client(base_url=url, timeout=300) as c:
        for w, want in zip(words, truth, strict=False):
            body = {"word": w, "k": 10, **(extra or {})} | ({} if exact is None else {"exact": exact})
            resp = c.post(f"/v1/models/{model}/similar", json=body)
            if resp.status_code != 200:
                raise StepFailed(f"{body} -> {resp.status_code}: {resp.text[:300]}")
            methods[resp.json()["method"]] += 1
            hits += len(want & {r["word"] for r in resp.json()["results"]})
    return {
        "recall@10": hits / (10 * len(words)),
        "queries": len(words),
        "methods": dict(methods),
        "seconds": time.perf_counter() - t0,
    }


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
