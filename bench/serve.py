"""Load benchmark: ``embed serve`` against its anchors, same machine, same run.

    python -m bench.serve [--duration 30] [--long 60] [--model-dir /tmp/embed-bench/synth100k]

Builds (once) a synthetic 100,000-word x 100-dim model with ``embed index --kind hnsw``, then
drives each server with wrk (1 thread, 16 connections, random words / bodies):

1. anchors (bench/anchors.py): FastAPI no-op, gensim most_similar, FAISS flat, FAISS HNSW;
2. ``embed serve`` by word (1 and 2 workers), checked for recall 1.0 against brute force;
3. raw-vector and arithmetic queries, exact (flat) and approximate (HNSW) with recall@10;
4. 64 connections for ``--long`` seconds: errors, dropped connections, memory over time.

``--rounds N`` instead alternates the no-work anchor and the by-word service (both running)
N times and reports medians: the fairer comparison while other jobs share the machine.

Every server process runs with OMP/OpenBLAS/MKL and FAISS threads = 1: the parallelism is the
worker processes, and wrk shares the same 2 cores. Prints a Markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from bench.serve_report import run_all
from bench.serving import ROOT, ensure_model


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=Path("/tmp/embed-bench/synth100k"))
    p.add_argument("--duration", type=int, default=30, help="seconds per 16-connection run")
    p.add_argument("--long", type=int, default=60, help="seconds of the 64-connection run")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "serve.json")
    p.add_argument("--skip-anchors", action="store_true")
    p.add_argument(
        "--quick", action="store_true", help="only the no-work anchor and the by-word runs (about 2 minutes)"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="instead: no-work anchor and by-word (2 workers) alternating, N rounds of --duration; medians",
    )
    args = p.parse_args(argv)
    model = ensure_model(args.model_dir)
    report = run_all(model, args.duration, args.long, args.skip_anchors, args.quick, args.rounds)
    report["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
