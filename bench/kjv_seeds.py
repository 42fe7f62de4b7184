"""torch skip-gram on a bursty corpus: does every seed train? (capped against uncapped input rows, gensim the anchor)

    python -m bench.kjv_seeds [--seeds 10] [--dim 50] [--epochs 5] [--corpus corpora/kjv.txt]

Trains the bundled Bible once per seed with embed's torch backend (1 thread), its input rows capped as
shipped (:func:`embed.train.torch_kernels.cap_repeated_rows`) and, in the same process, with the cap
switched off (the kernel before the cap), and with embed's gensim backend (1 worker) as the anchor: the
same vocabulary, subsampling and probe. Prints per seed whether training diverged and the final probe
loss (:mod:`embed.train.loss`, the same probe for all three), then how many seeds trained and the median
loss of each. Writes bench/out/kjv-seeds.json.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

from bench.common import OUT, ROOT, git_rev, machine, today


@contextlib.contextmanager
def uncapped() -> Iterator[None]:
    """The torch kernel without the cap on repeated input rows (as before it), for the block."""
    kernels = importlib.import_module("embed.train.torch_kernels")
    shipped = kernels.cap_repeated_rows
    kernels.cap_repeated_rows = lambda *args, **kwargs: None
    try:
        yield
    finally:
        kernels.cap_repeated_rows = shipped


def one(corpus: str, backend: str, seed: int, dim: int, epochs: int) -> dict[str, Any]:
    from embed.config import TrainConfig
    from embed.errors import EmbedError
    from embed.train import train

    config = TrainConfig(backend=backend, workers=1, dim=dim, epochs=epochs, seed=seed)
    t0 = time.perf_counter()
    try:
        result = train(corpus, config)
    except EmbedError as e:  # DivergedError: the run stopped with its message
        return {"diverged": True, "error": str(e), "seconds": round(time.perf_counter() - t0, 1)}
    return {"diverged": False, "loss": result.epochs[-1].loss, "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10, help="seeds 1..N")
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--corpus", default=str(ROOT / "corpora" / "kjv.txt"))
    args = ap.parse_args()
    runs: dict[str, dict[int, dict[str, Any]]] = {"torch, capped": {}, "torch, uncapped": {}, "gensim": {}}
    for seed in range(1, args.seeds + 1):
        runs["torch, capped"][seed] = one(args.corpus, "torch", seed, args.dim, args.epochs)
        with uncapped():
            runs["torch, uncapped"][seed] = one(args.corpus, "torch", seed, args.dim, args.epochs)
        runs["gensim"][seed] = one(args.corpus, "gensim", seed, args.dim, args.epochs)
        row = "  ".join(
            f"{name}: {'diverged' if r[seed]['diverged'] else format(r[seed]['loss'], '.4f')}"
            for name, r in runs.items()
        )
        print(f"seed {seed}: {row}", flush=True)
    print(
        f"\n{today()}, {machine()}, git {git_rev()}, {args.corpus}, skip-gram, dim {args.dim}, {args.epochs} epochs,"
        " 1 thread"
    )
    print("| run | seeds trained | median final probe loss (trained seeds) |")
    print("|---|---|---|")
    for name, r in runs.items():
        losses = [x["loss"] for x in r.values() if not x["diverged"]]
        median = f"{statistics.median(losses):.4f}" if losses else "-"
        print(f"| {name} | {len(losses)} of {len(r)} | {median} |")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "kjv-seeds.json").write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
