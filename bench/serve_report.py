"""The scenarios of bench/serve.py and their Markdown table."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.serving import recall_ann, recall_by_word, rss_mb, server, write_bodies, wrk


def _bodies(model: Path, tmp: Path) -> tuple[dict[str, Path], dict[str, list[dict[str, Any]]], list[str], np.ndarray]:
    from embed.io import load
    from embed.neighbours import normalise

    vectors = load(model)
    words, unit = vectors.words, normalise(vectors.matrix)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(words), 20_000, replace=False).tolist()
    sets: dict[str, list[dict[str, Any]]] = {"word": [{"word": words[i], "k": 10} for i in pick]}
    noisy = vectors.matrix[pick[:2000]] + 0.3 * rng.standard_normal((2000, vectors.dim)).astype(np.float32)
    sets["vector"] = [{"vector": [round(float(x), 5) for x in v], "k": 10} for v in noisy]
    trip = rng.choice(len(words), (2000, 3)).tolist()
    sets["arith"] = [
        {"positive": [words[a], words[b]], "negative": [words[c]], "k": 10} for a, b, c in trip if len({a, b, c}) == 3
    ]
    files = {name: write_bodies(tmp / f"{name}.txt", rows) for name, rows in sets.items()}
    for name in ("vector", "arith"):
        files[f"{name}_approx"] = write_bodies(tmp / f"{name}_approx.txt", [{**r, "exact": False} for r in sets[name]])
    return files, sets, words, unit


def _long_run(url: str, pid: int, files: dict[str, Path], seconds: int) -> dict[str, Any]:
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        t0 = time.perf_counter()
        while not stop.is_set():
            samples.append((round(time.perf_counter() - t0, 1), round(rss_mb(pid), 1)))
            stop.wait(5)

    before = rss_mb(pid)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    result = wrk(url, "/v1/models/synth/similar", files["word"], connections=64, duration=seconds)
    stop.set()
    t.join()
    result["rss_mb"] = {
        "before": round(before, 1),
        "after": round(rss_mb(pid), 1),
        "max": max(s for _, s in samples),
        "samples": samples,
    }
    return result


def interleaved(model: Path, files: dict[str, Path], duration: int, rounds: int) -> list[dict[str, Any]]:
    """No-work anchor and by-word service, both up, measured in alternating rounds; medians.

    On a machine shared with other jobs the load changes from one 30-s window to the next;
    alternating short runs and taking medians compares the two under the same conditions.
    """
    runs: dict[str, list[dict[str, Any]]] = {"anchor": [], "embed": []}
    env = {"EMBED_MODELS": json.dumps({"synth": str(model)})}
    with (
        server("bench.anchors:create_app", {"ANCHOR": "noop"}, workers=2) as (aurl, _),
        server("service.app:create_app", env, workers=2) as (surl, _),
    ):
        for _ in range(rounds):
            runs["anchor"].append(wrk(aurl, "/similar", files["word"], duration=duration))
            runs["embed"].append(wrk(surl, "/v1/models/synth/similar", files["word"], duration=duration))
    out = []
    for key, name in (
        ("anchor", "anchor: noop behind FastAPI (2 workers)"),
        ("embed", "embed serve, by word, exact (2 workers)"),
    ):
        rs = runs[key]
        med = {m: float(np.median([r[m] for r in rs])) for m in ("rps", "p50_ms", "p99_ms")}
        errors = {e: sum(r["errors"][e] for r in rs) for e in rs[0]["errors"]}
        out.append(
            {
                "name": f"{name}, median of {rounds} x {duration}s",
                **med,
                "errors": errors,
                "rounds": [{m: round(r[m], 1) for m in ("rps", "p50_ms", "p99_ms")} for r in rs],
            }
        )
    return out


def run_all(
    model: Path, duration: int, long: int, skip_anchors: bool, quick: bool = False, rounds: int = 0
) -> dict[str, Any]:
    """Every scenario (``quick``: only the no-work anchor and by-word runs); returns the report (also printed)."""
    tmp = Path(tempfile.mkdtemp(prefix="embed-bench-"))
    files, sets, words, unit = _bodies(model, tmp)
    anchor_word = files["word"]  # the anchors take the same {"word", "k"} body
    rows: list[dict[str, Any]] = []
    if rounds:
        rows = interleaved(model, files, duration, rounds)
        print_table(rows)
        return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}

    def record(name: str, result: dict[str, Any], **extra: Any) -> None:
        rows.append({"name": name, **result, **extra})
        print(json.dumps(rows[-1])[:400], flush=True)

    if not skip_anchors:
        for kind in ("noop",) if quick else ("noop", "gensim", "flat", "hnsw"):
            with server("bench.anchors:create_app", {"ANCHOR": kind, "ANCHOR_MODEL": str(model)}, workers=2) as (
                url,
                _,
            ):
                record(
                    f"anchor: {kind} behind FastAPI (2 workers)", wrk(url, "/similar", anchor_word, duration=duration)
                )
    env = {"EMBED_MODELS": json.dumps({"synth": str(model)})}
    with server("service.app:create_app", env, workers=1) as (url, _):
        record(
            "embed serve, by word, exact (1 worker)",
            wrk(url, "/v1/models/synth/similar", files["word"], duration=duration),
        )
    with server("service.app:create_app", env, workers=2) as (url, proc):
        rng = np.random.default_rng(1)
        record(
            "embed serve, by word, exact (2 workers)",
            wrk(url, "/v1/models/synth/similar", files["word"], duration=duration),
            **recall_by_word(url, unit, words, rng),
        )
        for name in () if quick else ("vector", "arith"):
            record(
                f"embed serve, {name}, exact=true (flat)",
                wrk(url, "/v1/models/synth/similar", files[name], duration=duration),
            )
            record(
                f"embed serve, {name}, exact=false (hnsw)",
                wrk(url, "/v1/models/synth/similar", files[f"{name}_approx"], duration=duration),
                **{"hnsw_recall@10": recall_ann(url, sets[name][:200])},
            )
        if not quick:
            record(f"embed serve, by word, 64 connections, {long}s", _long_run(url, proc.pid, files, long))
    print_table(rows)
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n| scenario | req/s | p50 ms | p99 ms | errors | notes |\n|---|---|---|---|---|---|")
    for r in rows:
        notes = []
        for key in ("recall@10", "max_score_error", "hnsw_recall@10"):
            if key in r:
                notes.append(f"{key} {r[key]:.4g}")
        if "rss_mb" in r:
            m = r["rss_mb"]
            notes.append(f"RSS MiB before {m['before']}, max {m['max']}, after {m['after']}")
        errs = sum(r["errors"].values())
        print(
            f"| {r['name']} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {errs} | {'; '.join(notes)} |"
        )
