"""Shared by the CLI tests: ``embed train`` through click's CliRunner, and what a model directory holds."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from click.testing import CliRunner, Result

from embed.cli import main

# Every file ``save_model_dir`` writes, sorted (``embed train`` adds loss.png).
MODEL_DIR_FILES = [
    "counts.npy",
    "meta.json",
    "norms.npy",
    "vectors.bin",
    "vectors.npy",
    "vocab.txt",
    "word_hash.npy",
    "word_offsets.npy",
    "words.utf8",
]


def train_cli(corpus: Path, out: Path, options: str | Sequence[str] = ()) -> Result:
    """``embed train CORPUS --out OUT OPTIONS``; a string of options is split as a shell would (as click's own
    ``CliRunner.invoke`` splits a string)."""
    extra = shlex.split(options) if isinstance(options, str) else list(options)
    return CliRunner().invoke(main, ["train", str(corpus), "--out", str(out), *extra])
