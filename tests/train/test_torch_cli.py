"""`embed train --backend torch` through the CLI: option parity with gensim, and a real model directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors

import embed
from embed.cli import main
from tests.cli_helpers import train_cli

# A non-default value for every option of `embed train` (flags: just the flag).
NON_DEFAULT: dict[str, list[str]] = {
    "out": [],  # given in every run
    "arch": ["--arch", "cbow"],
    "backend": [],  # the parameter under test
    "device": ["--device", "auto"],
    "dim": ["--dim", "12"],
    "window": ["--window", "3"],
    "negative": ["--negative", "3"],
    "min_count": ["--min-count", "2"],
    "max_vocab": ["--max-vocab", "20"],
    "count_limit": ["--count-limit", "1000"],
    "sample": ["--sample", "0.01"],
    "epochs": ["--epochs", "2"],
    "alpha": ["--alpha", "0.03"],
    "workers": ["--workers", "1"],
    "seed": ["--seed", "3"],
    "tokenizer": ["--tokenizer", "whitespace"],
    "text_format": ["--text"],
    "overwrite": ["--overwrite"],
    "no_eval": ["--no-eval"],
    "show": ["--show", "a0,b0"],
    "quiet": ["-q"],
    "checkpoint_every": ["--checkpoint-every", "1000"],  # no snapshot is due in a run this short
    "checkpoint_dir": ["--checkpoint-dir", "/nonexistent/never-written"],
}
# Options one backend refuses, with the words its message must contain.
REFUSED = {
    ("gensim", "device"): "torch backend only",
    ("gensim", "checkpoint_every"): "need --backend torch",
    ("gensim", "checkpoint_dir"): "--checkpoint-dir needs --checkpoint-every",
}
# Options that need a setting of their own (a checkpoint, torchrun); both backends are tested there.
ELSEWHERE = {
    "subwords": "tests/train/test_subwords_train.py",
    "minn": "tests/train/test_subwords_train.py",
    "maxn": "tests/train/test_subwords_train.py",
    "bucket": "tests/train/test_subwords_train.py",
    "resume": "tests/train/test_checkpoint.py",
    "distributed": "tests/train/test_distributed.py",
    "sync_every": "tests/train/test_distributed.py",
    "sync_mode": "tests/train/test_distributed.py",
}


def _corpus(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    words = [f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)]
    path = tmp_path / "small.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(200)) + "\n")
    return path


def test_every_train_option_is_covered() -> None:
    params = {p.name for p in main.commands["train"].params if p.name != "corpus"}
    assert params == set(NON_DEFAULT) | set(ELSEWHERE), "a new `embed train` option needs a value in NON_DEFAULT"


def test_each_option_accepted_or_clearly_refused_by_each_backend(tmp_path: Path) -> None:
    """Per backend: one run with every accepted option at a non-default value, one run per refused option."""
    corpus = _corpus(tmp_path)
    for backend in ("gensim", "torch"):
        accepted = [a for n, args in NON_DEFAULT.items() if (backend, n) not in REFUSED for a in args]
        out = tmp_path / f"{backend}-all"
        res = train_cli(corpus, out, ["--backend", backend, *accepted])
        assert res.exit_code == 0, (backend, res.output)
        assert embed.load(out).dim == 12 and (out / "vectors.txt").exists()
        for (b, name), message in REFUSED.items():
            if b != backend:
                continue
            out = tmp_path / f"{backend}-{name}"
            res = train_cli(corpus, out, ["--backend", backend, "-q", *NON_DEFAULT[name]])
            assert res.exit_code == 1 and message in res.output, (backend, name, res.output)
            assert not out.exists()


def test_torch_cli_on_kjv_writes_a_loadable_model_dir(tmp_path: Path, kjv_path: Path) -> None:
    out = tmp_path / "kjv-torch"
    res = train_cli(kjv_path, out, "--backend torch --dim 32 --epochs 1 --window 2 --no-eval -q --show god")
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} >= {"vectors.bin", "vocab.txt", "meta.json", "loss.png"}
    vectors = embed.load(out)
    kv = KeyedVectors.load_word2vec_format(str(out / "vectors.bin"), binary=True)
    assert vectors.dim == kv.vector_size == 32
    assert np.allclose(vectors["god"], kv["god"])
    assert '"backend": "torch"' in (out / "meta.json").read_text()
