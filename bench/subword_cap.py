"""The torch subword skip-gram's SHARED_CAP, swept on a subset of the enwiki extract (issue 17).

    python -m bench.subword_cap [--tokens 2000000] [--caps 4,8,16,32,64] [--arch skipgram]

Each cap trains the torch backend with bench/subwords.py's settings (dim 100, 5 epochs, 2 threads,
n-grams 3-6, 2M buckets) on the first ``--tokens`` tokens in a fresh process, then prints one JSON
line: seconds (training, vocabulary pass included), Google analogies, WS353, SimLex-999.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.common import ENWIKI, OUT, ROOT, text8_normalise
from bench.subwords import P, subset


def child(cap: int, corpus: str, arch: str) -> None:
    from embed.runtime import configure_threads

    configure_threads(P["workers"], "train")
    from embed.config import TrainConfig
    from embed.corpus import Corpus
    from embed.evaluate import evaluate
    from embed.train import torch_subwords, train

    torch_subwords.SHARED_CAP = cap
    config = TrainConfig(backend="torch", tokenizer="whitespace", subwords=True, arch=arch, **P)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    result = train(Corpus(corpus, tokenizer="whitespace"), config)
    seconds = time.perf_counter() - t0
    q = evaluate(result.vectors, analogies=("google",), pairs=("ws353", "simlex999")).summary()
    print(json.dumps({"cap": cap, "seconds": round(seconds, 1), **{k: round(v, 4) for k, v in q.items()}}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=2_000_000)
    ap.add_argument("--caps", default="4,8,16,32,64")
    ap.add_argument("--arch", default="skipgram", choices=("skipgram", "cbow"))
    args = ap.parse_args()
    corpus = subset(text8_normalise(ENWIKI, OUT / "enwiki_text8.txt"), args.tokens)
    for cap in (int(c) for c in args.caps.split(",")):
        code = f"from bench.subword_cap import child; child({cap}, {str(corpus)!r}, {args.arch!r})"
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
