"""1 process vs 2 processes (torchrun, gloo) of the torch backend, 1 thread each (issue 7).

    python -m bench.scale [--tokens 3000000] [--epochs 5] [--sync-every 1] [--sync-mode average]

Corpus: the first ``--tokens`` tokens of the text8-style enwiki extract (``0``: all ~16.2M).
Both runs use the issue's parameters (dim 100, window 5, 5 negatives, min-count 5, sample
1e-3) with ``--workers 1``; words/s = tokens x epochs / (vocabulary pass + training) as
recorded by rank 0 in meta.json, and the wall time of the whole command (imports, torchrun
start-up and the evaluation excluded by ``--no-eval``). Quality: Google analogies (restrict
30,000), WS353, SimLex-999 of the written vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from bench.common import ENWIKI, OUT, ROOT, embed_command, git_rev, machine, text8_normalise, today
from bench.train import limit_corpus


def run(cmd: list[str], out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    import embed

    meta = json.loads((out / "meta.json").read_text())
    q = embed.load(out).evaluate().summary()
    return {
        "wall": wall,
        "wps": meta["timings"]["words_per_sec"],
        "quality": q,
        "dist": meta["backend"].get("distributed"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=3_000_000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--sync-every", type=int, default=1)
    ap.add_argument("--sync-mode", default="average")
    args = ap.parse_args()
    corpus = text8_normalise(ENWIKI, OUT / "enwiki_text8.txt")
    if args.tokens:
        corpus = limit_corpus(corpus, args.tokens)
    common = [
        "train",
        str(corpus),
        "--backend",
        "torch",
        "--workers",
        "1",
        "--epochs",
        str(args.epochs),
        "--tokenizer",
        "whitespace",
        "-q",
        "--no-eval",
        "--overwrite",
    ]
    one = run(embed_command(*common, "--out", str(OUT / "scale-1")), OUT / "scale-1")
    sync = ["--distributed", "--sync-every", str(args.sync_every), "--sync-mode", args.sync_mode]
    two = run(embed_command(*common, *sync, "--out", str(OUT / "scale-2"), procs=2), OUT / "scale-2")
    print(
        f"\n{today()}, {machine()}, git {git_rev()}, corpus {corpus.name}, {args.epochs} epochs, sync every"
        f" {args.sync_every} round(s), {args.sync_mode}"
    )
    print("| processes x threads | words/s (rank 0 meta) | wall s | speed-up | analogy | WS353 | SimLex |")
    print("|---|---|---|---|---|---|---|")
    for name, r in (("1 x 1", one), ("2 x 1 (torchrun, gloo)", two)):
        q = r["quality"]
        print(
            f"| {name} | {r['wps']:,.0f} | {r['wall']:.1f} | {r['wps'] / one['wps']:.2f} | {q['google']:.1%} |"
            f" {q['ws353']:.3f} | {q['simlex999']:.3f} |"
        )
    print(f"sync: {two['dist']}")


if __name__ == "__main__":
    main()
