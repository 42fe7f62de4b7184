"""Soak benchmark (issue 19): ``embed serve`` under 64 connections for 60 s of mixed valid and invalid requests.

    python -m bench.soak [--duration 60] [--connections 64] [--model-dir /tmp/embed-bench/synth100k]

The server is the one users run (``python -m embed serve``, 2 workers, 1 thread each) over the
synthetic 100,000-word model of ``bench/serve.py`` (built once, with its HNSW index). wrk
(``bench/wrk_soak.lua``, 1 thread) sends random lines of a request file: about 70% valid (by word
through the fast path, exact scans, batches with one unknown word, analogies, similarities,
vectors, model info) and 30% invalid (unknown words and models, malformed or non-UTF-8 JSON,
strings for numbers, bodies over the limit, wrong methods). It passes when no answer is a 5xx and
no connection fails; memory is the server's RSS (supervisor + workers) sampled each second, with a
least-squares slope (scipy) over the samples after the first 10 s and over the second half, for all
resident memory and for the anonymous part (the heap, where a leak would show; the rest is mapped
model pages).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scipy.stats import linregress

from bench.common import git_rev, machine, today
from bench.serving import THREAD_ENV, ensure_model, free_port, memory_mb, wait_up

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "wrk_soak.lua"
BODY_LIMIT = 65536


def _slope(samples: list[tuple[float, float]], after: float) -> tuple[float | None, float | None]:
    """Least-squares MiB/min (and its standard error) over the samples after ``after`` seconds."""
    late = [(t, m) for t, m in samples if t >= after]
    if len(late) < 3:
        return None, None
    fit = linregress([t for t, _ in late], [m for _, m in late])
    return round(fit.slope * 60, 3), round(fit.stderr * 60, 3)


def request_lines(n_words: int) -> tuple[list[bytes], float]:
    """The request mix (one ``METHOD\\tPATH\\tBODY`` line each, repeated by weight) and its invalid share."""
    m = "/v1/models/synth"

    def body(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    w = [f"w{i:06d}" for i in range(0, n_words, max(1, n_words // 500))]
    valid: list[tuple[int, bytes, bytes, bytes]] = [
        (30, b"POST", f"{m}/similar".encode(), body({"word": w[1], "k": 10})),
        (5, b"POST", f"{m}/similar".encode(), body({"word": w[2], "k": 10, "metric": "euclidean", "exact": True})),
        (
            10,
            b"POST",
            f"{m}/similar".encode(),
            body({"queries": [{"word": x, "k": 5} for x in w[3:10]] + [{"word": "nosuchword"}]}),
        ),
        (10, b"POST", f"{m}/analogy".encode(), body({"a": w[4], "b": w[5], "c": w[6]})),
        (5, b"POST", f"{m}/similarity".encode(), body({"a": w[7], "b": w[8]})),
        (5, b"POST", f"{m}/vectors".encode(), body({"words": w[9:19]})),
        (5, b"GET", f"{m}".encode(), b""),
    ]
    invalid: list[tuple[int, bytes, bytes, bytes]] = [
        (8, b"POST", f"{m}/similar".encode(), body({"word": "w0000x1", "k": 10})),  # unknown word: 404 with suggestions
        (5, b"POST", f"{m}/similar".encode(), b'{"word": "w000001", "k": '),  # malformed JSON
        (4, b"POST", f"{m}/similar".encode(), body({"word": w[1], "k": "5"})),  # a string for a number
        (3, b"POST", b"/v1/models/nosuch/similar", body({"word": w[1]})),  # unknown model
        (3, b"POST", f"{m}/analogy".encode(), b'{"a": "\xff\xfe", "b": "x", "c": "y"}'),  # not UTF-8
        (3, b"POST", f"{m}/similar".encode(), body({"vector": [0.5] * 20000})),  # over the body limit: 413
        (4, b"GET", f"{m}/similar".encode(), b""),  # wrong method: 405
    ]
    lines = [b"\t".join((meth, path, data)) for weight, meth, path, data in valid + invalid for _ in range(weight)]
    bad = sum(weight for weight, *_ in invalid) / sum(weight for weight, *_ in valid + invalid)
    return lines, bad


def soak(model: Path, duration: int, connections: int, workers: int) -> dict[str, Any]:
    """One soak run; returns statuses, errors, throughput and the RSS series with its slope."""
    work = Path(tempfile.mkdtemp(prefix="embed-soak-"))
    lines, invalid_share = request_lines(100_000)
    requests = work / "requests.tsv"
    requests.write_bytes(b"\n".join(lines) + b"\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), **THREAD_ENV, "EMBED_MAX_BODY_BYTES": str(BODY_LIMIT)}
    cmd = [
        sys.executable,
        "-m",
        "embed",
        "serve",
        f"synth={model}",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_up(url, what=f"embed serve (log: {work / 'server.log'})")
        time.sleep(1.0 * workers)  # every worker loaded
        wrk_cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(LUA), url]
        load = subprocess.Popen(
            wrk_cmd, env={**os.environ, "REQUESTS": str(requests)}, stdout=subprocess.PIPE, text=True
        )
        started, samples = time.monotonic(), []
        while load.poll() is None:
            samples.append((time.monotonic() - started, *memory_mb(proc.pid)))
            time.sleep(1.0)
        out = load.stdout.read() if load.stdout else ""
        alive = proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
    r = json.loads(next(ln for ln in out.splitlines() if ln.startswith("SOAKJSON "))[len("SOAKJSON ") :])
    statuses = {int(k): v for k, v in sorted(r["statuses"].items(), key=lambda kv: int(kv[0]))}
    answered = sum(statuses.values())
    server_log = (work / "server.log").read_text(encoding="utf-8", errors="replace")
    return {
        "requests": r["requests"],
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1e3,
        "p99_ms": r["p99_us"] / 1e3,
        "statuses": statuses,
        "5xx": sum(v for k, v in statuses.items() if k >= 500),
        "connection_errors": {k: r[k] for k in ("connect", "read", "write", "timeout")},
        "invalid_share_sent": round(invalid_share, 3),
        "4xx_share": round(sum(v for k, v in statuses.items() if 400 <= k < 500) / max(answered, 1), 3),
        "server_alive": alive,
        "tracebacks_in_log": server_log.count("Traceback"),
        "rss_mb": _memory_report([(t, r) for t, r, _ in samples]),
        "anon_rss_mb": _memory_report([(t, a) for t, _, a in samples]),
        "connections": connections,
        "seconds": duration,
        "workers": workers,
    }


def _memory_report(samples: list[tuple[float, float]]) -> dict[str, Any]:
    slope, stderr = _slope(samples, 10.0)
    second_half, _ = _slope(samples, samples[-1][0] / 2)
    return {
        "first": round(samples[0][1], 1),
        "last": round(samples[-1][1], 1),
        "max": round(max(m for _, m in samples), 1),
        "slope_mb_per_min": slope,
        "slope_stderr_mb_per_min": stderr,
        "slope_second_half_mb_per_min": second_half,
        "every_10s": [round(m, 1) for t, m in samples[::10]],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=Path("/tmp/embed-bench/synth100k"))
    p.add_argument("--duration", type=int, default=60)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "soak.json")
    args = p.parse_args(argv)
    report = {
        "date": today(),
        "machine": machine(),
        "commit": git_rev(),
        **soak(ensure_model(args.model_dir), args.duration, args.connections, args.workers),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    ok = (
        report["5xx"] == 0
        and not any(report["connection_errors"].values())
        and report["server_alive"]
        and not report["tracebacks_in_log"]
    )
    print(
        f"soak {'passed' if ok else 'FAILED'}: {report['requests']:,} requests, {report['5xx']} 5xx, "
        f"RSS slope {report['rss_mb']['slope_mb_per_min']} MiB/min "
        f"(anonymous {report['anon_rss_mb']['slope_mb_per_min']}; "
        f"second half {report['rss_mb']['slope_second_half_mb_per_min']})"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
