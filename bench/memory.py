"""Peak RSS when training on 1x and 4x the same corpus (issue 7: memory bounded by vocabulary, not corpus).

    python -m bench.memory [--tokens 2000000] [--backend gensim,torch]

The 1x corpus is the first ``--tokens`` tokens of the text8-style enwiki extract; the 4x
corpus is four concatenated copies, trained with min-count 20 instead of 5 so that the
vocabulary is exactly the same (every count is 4x): memory may grow with the vocabulary,
and here only the token count changes. Each run is
``bench.train``'s child process (1 epoch, otherwise the issue's parameters, 2 threads), so
its peak RSS (``ru_maxrss``) is its own. Bar: 4x within 10% of 1x.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.common import ENWIKI, OUT, git_rev, machine, text8_normalise, today
from bench.train import limit_corpus


def child(corpus: Path, system: str, min_count: int) -> dict:
    params = {
        "dim": 100,
        "window": 5,
        "negative": 5,
        "min_count": min_count,
        "sample": 1e-3,
        "epochs": 1,
        "workers": 2,
        "seed": 1,
    }
    spec = {"corpus": str(corpus), "arch": "skipgram", "system": system, "params": params}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.train", "--child", json.dumps(spec)], capture_output=True, text=True
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{system} on {corpus} failed:\n{proc.stderr[-2000:]}")
    return json.loads(line[7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=2_000_000)
    ap.add_argument("--backend", default="gensim,torch")
    args = ap.parse_args()
    one = limit_corpus(text8_normalise(ENWIKI, OUT / "enwiki_text8.txt"), args.tokens)
    four = one.with_name(one.stem + ".x4.txt")
    if not four.exists():
        text = one.read_text()
        four.write_text(text * 4)
    print(f"{today()}, {machine()}, git {git_rev()}; 1x = {one.name}, 4x = {four.name}")
    print("| backend | 1x tokens / vocab | peak RSS 1x MB | 4x tokens / vocab | peak RSS 4x MB | 4x / 1x |")
    print("|---|---|---|---|---|---|")
    for backend in args.backend.split(","):
        a, b = child(one, f"embed-{backend}", 5), child(four, f"embed-{backend}", 20)
        print(
            f"| {backend} | {a['tokens']:,} / {a['vocab']:,} | {a['peak_rss_mb']:.0f}"
            f" | {b['tokens']:,} / {b['vocab']:,} | {b['peak_rss_mb']:.0f}"
            f" | {b['peak_rss_mb'] / a['peak_rss_mb']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
