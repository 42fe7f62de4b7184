"""1 process vs W processes (torchrun, gloo) of the torch backend, 1 thread each (issues 7 and 20).

    python -m bench.scale [--tokens 3000000] [--epochs 5] [--sync-every 1] [--sync-mode auto]
                          [--world 2] [--arch skipgram] [--one-by-two] [--seed N] [--no-anchor]

``--world 2,4,8`` runs each world size after the one 1-process anchor (W > 2 ranks share the 2
cores: their words/s mean nothing, their vectors are what is judged). ``--one-by-two`` adds
1 process x 2 threads (what a user of one 2-core machine could run instead of 2 x 1).

Corpus: the first ``--tokens`` tokens of the text8-style enwiki extract (``0``: all ~16.2M).
Both runs use the issue's parameters (dim 100, window 5, 5 negatives, min-count 5, sample
1e-3) with ``--workers 1``; words/s = tokens x epochs / (vocabulary pass + training) as
recorded by rank 0 in meta.json, and the wall time of the whole command (imports, torchrun
start-up and the evaluation excluded by ``--no-eval``). Quality: Google analogies (restrict
30,000), WS353, SimLex-999 of the written vectors. Peak RSS: the largest ``ru_maxrss`` of the run's
processes (under torchrun: its largest rank).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ENWIKI, OUT, ROOT, embed_command, git_rev, machine, text8_normalise, today
from bench.train import limit_corpus

SCORES = (("google", ".1%"), ("ws353", ".3f"), ("simlex999", ".3f"))


def run(cmd: list[str], out: Path) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    # a fresh interpreter per run, so that RUSAGE_CHILDREN's maximum is this run's
    # (its exit status is the run's, and no traceback of its own buries the run's one-line error)
    probe = "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode;"
    probe += " rc and sys.exit(rc); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    done = subprocess.run(
        [sys.executable, "-c", probe, *cmd],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:  # e.g. `--sync-mode sum` at 4 or 8 ranks: "training diverged at epoch N (loss ...)"
        lines = done.stderr.splitlines()  # embed's one-line "Error: ..." first (torchrun adds its own after it)
        errors = [x for x in lines if x.startswith("Error:")] or [x for x in lines if "Error" in x] or lines[-1:]
        return {"wall": wall, "error": errors[-1] if errors else f"exit {done.returncode}"}
    peak_mb = int(done.stdout.split()[-1]) / 1024
    import embed

    meta = json.loads((out / "meta.json").read_text())
    q = embed.load(out).evaluate().summary()
    return {
        "wall": wall,
        "wps": meta["timings"]["words_per_sec"],
        "quality": q,
        "dist": meta["backend"].get("distributed"),
        "peak_rss_mb": peak_mb,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=3_000_000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--sync-every", type=int, default=1)
    ap.add_argument("--sync-mode", default="auto", help="embed train --sync-mode (default: auto, as embed train)")
    ap.add_argument("--world", default="2", help="comma-separated numbers of processes, e.g. 2,4,8")
    ap.add_argument("--arch", default="skipgram", choices=("skipgram", "cbow"))
    ap.add_argument("--one-by-two", action="store_true", help="also 1 process x 2 threads")
    ap.add_argument("--seed", type=int, default=None, help="embed train --seed for every run (default: embed's)")
    ap.add_argument(
        "--no-anchor",
        action="store_true",
        help="skip the 1 x 1 run (deterministic: take its scores from an earlier run with the same options)",
    )
    args = ap.parse_args()
    corpus = text8_normalise(ENWIKI, OUT / "enwiki_text8.txt")
    if args.tokens:
        corpus = limit_corpus(corpus, args.tokens)
    common = [
        "train",
        str(corpus),
        "--backend",
        "torch",
        "--arch",
        args.arch,
        "--epochs",
        str(args.epochs),
        "--tokenizer",
        "whitespace",
        "-q",
        "--no-eval",
        "--overwrite",
        *(["--seed", str(args.seed)] if args.seed is not None else []),
    ]
    if args.no_anchor:
        one: dict[str, Any] = {"wall": 0.0, "error": "not run (--no-anchor)", "skipped": True}
    else:
        one = run(embed_command(*common, "--workers", "1", "--out", str(OUT / "scale-1")), OUT / "scale-1")
    rows = [("1 x 1", one)]
    if args.one_by_two:
        out = OUT / "scale-1x2"
        rows.append(("1 x 2 (threads)", run(embed_command(*common, "--workers", "2", "--out", str(out)), out)))
    sync = ["--distributed", "--sync-every", str(args.sync_every), "--sync-mode", args.sync_mode]
    for w in (int(x) for x in args.world.split(",")):
        out = OUT / f"scale-{w}"
        cmd = embed_command(*common, "--workers", "1", *sync, "--out", str(out), procs=w)
        rows.append((f"{w} x 1 (torchrun, gloo)", run(cmd, out)))
    print(
        f"\n{today()}, {machine()}, git {git_rev()}, corpus {corpus.name}, {args.arch}, {args.epochs} epochs, sync"
        f" every {args.sync_every} round(s), {args.sync_mode}, seed {args.seed if args.seed is not None else 'default'}"
    )
    print("| processes x threads | words/s (rank 0) | wall s | speed-up | analogy | WS353 | SimLex | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")

    def speedup(r: dict[str, Any]) -> str:  # none when the 1-process baseline itself failed
        return f"{r['wps'] / one['wps']:.2f}" if "wps" in one else "-"

    for name, r in rows:
        if "error" in r:
            print(f"| {name} | {'' if r.get('skipped') else 'failed: '}{r['error']} | {r['wall']:.1f} | | | | | |")
            continue
        q = r["quality"]  # a score the model's vocabulary cannot cover (a tiny --tokens) is missing: "-"
        google, ws, simlex = (f"{q[k]:{spec}}" if k in q else "-" for k, spec in SCORES)
        print(
            f"| {name} | {r['wps']:,.0f} | {r['wall']:.1f} | {speedup(r)} | {google} | {ws} | {simlex} |"
            f" {r['peak_rss_mb']:,.0f} |"
        )
    for name, r in rows[1:]:
        print(f"{name} sync: {r.get('dist')}")
    seed = f"-seed{args.seed}" if args.seed is not None else ""
    tag = f"scale-{args.tokens or 'all'}-{args.arch}-{args.sync_mode}-w{args.world.replace(',', '_')}{seed}.json"
    (OUT / tag).write_text(json.dumps({name: r for name, r in rows}, indent=1, default=str))


if __name__ == "__main__":
    main()
