"""Helpers shared by benchmarks: data paths, text8-style normalisation, machine facts, training commands."""

from __future__ import annotations

import gzip
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMBED_SHARED", ROOT.parent / "shared")) / "data"
OUT = ROOT / "bench" / "out"
ENWIKI = SHARED / "en_corpus" / "enwiki_extract_2015" / "enwiki_AA_wiki00-99.txt.gz"

_NON_AZ = re.compile(r"[^a-z]+")
_GENSIM_NAMES = {"dim": "vector_size", "minn": "min_n", "maxn": "max_n"}


def text8_normalise(src: Path, dst: Path) -> Path:
    """Lower-case, map every character outside a-z to a space, squeeze; one paragraph per line.

    ``<doc ...>`` / ``</doc>`` lines are dropped. Written once and cached at ``dst``.
    """
    if dst.exists():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    opener = gzip.open if src.name.endswith(".gz") else open
    with opener(src, "rt", encoding="utf-8", errors="replace") as fin, open(tmp, "w", encoding="ascii") as fout:
        for line in fin:
            if line.startswith("<doc") or line.startswith("</doc"):
                continue
            text = _NON_AZ.sub(" ", line.lower()).strip()
            if text:
                fout.write(text + "\n")
    os.replace(tmp, dst)
    return dst


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = cpu
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def today() -> str:
    return time.strftime("%Y-%m-%d")


def git_rev() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def embed_command(*args: str, procs: int = 1) -> list[str]:
    """``python -m embed ARGS``; with ``procs`` > 1 under torchrun (``torch.distributed.run --standalone``)."""
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs)] if procs > 1 else []
    return [sys.executable, *launcher, "-m", "embed", *args]


def gensim_kwargs(params: dict[str, Any], arch: str = "skipgram") -> dict[str, Any]:
    """A bench's training parameters (``TrainConfig`` names) as keyword arguments of gensim's
    ``Word2Vec`` / ``FastText``: ``arch`` skip-gram or CBOW, negative sampling (no hierarchical softmax)."""
    return {_GENSIM_NAMES.get(k, k): v for k, v in params.items()} | {"sg": int(arch == "skipgram"), "hs": 0}
