"""What the classifier benchmarks share: data paths, the vectors they use, the results file."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KIM = DATA / "classify_en" / "kim2014_sentence"
TREES = DATA / "classify_en" / "sst_ptb_trees"
ZH = DATA / "classify_zh" / "chinese_nlp_corpus" / "ChnSentiCorp_htl_all.csv"
OUT = Path(__file__).resolve().parent / "out"


def record(entry: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    entry = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **entry}
    with open(OUT / "classify.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
    print(json.dumps(entry), flush=True)


@functools.cache
def vectors(lang: str, arch: str = "cbow") -> Any:
    """The vectors ``python -m bench.classify_vectors LANG [ARCH]`` trained (loaded once per process)."""
    from bench.classify_vectors import vectors_dir
    from embed.io import load

    return load(vectors_dir(lang, arch))
