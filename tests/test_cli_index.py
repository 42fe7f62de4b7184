"""``embed index`` and ``embed serve`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from embed.cli import main
from embed.io import save_model_dir
from embed.vectors import Vectors


def _model(tmp_path: Path, n: int = 200) -> Path:
    rng = np.random.default_rng(0)
    out = tmp_path / "m"
    save_model_dir(
        out, Vectors.from_arrays([f"w{i}" for i in range(n)], rng.standard_normal((n, 8))), {"params": {"dim": 8}}
    )
    return out


def test_index_writes_index_dir(tmp_path: Path) -> None:
    model = _model(tmp_path)
    r = CliRunner().invoke(main, ["index", str(model), "--kind", "ivf", "--metric", "euclidean", "--k-max", "20"])
    assert r.exit_code == 0, r.output
    assert "ivf (euclidean) over 200 words x 8 dims, exact top-20 euclidean table" in r.output
    meta = json.loads((model / "index" / "index.json").read_text())
    assert (meta["kind"], meta["metric"], meta["k_max"], meta["vocab_size"]) == ("ivf", "euclidean", 20, 200)
    # Tables only for the metric asked for (each costs vocab^2 work).
    assert sorted(p.name for p in (model / "index").iterdir()) == [
        "ann.faiss",
        "index.json",
        "table_euclidean_ids.npy",
        "table_euclidean_scores.npy",
    ]
    r = CliRunner().invoke(main, ["index", str(model), "--tables", "off", "--quiet"])
    assert r.exit_code == 0 and "no exact tables (by-word queries use the ANN index)" in r.output
    assert sorted(p.name for p in (model / "index").iterdir()) == ["ann.faiss", "index.json"]


def test_index_bad_input_writes_nothing(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["index", str(tmp_path / "missing")])
    assert (
        r.exit_code == 1
        and "not a model directory; 'embed index' writes into a directory made by 'embed train'" in r.output
    )
    model = _model(tmp_path, n=50)
    r = CliRunner().invoke(main, ["index", str(model)])  # default k-max 100 >= 50 words
    assert r.exit_code == 1 and "k_max 100 must be below the vocabulary size (50); pass a smaller --k-max" in r.output
    assert not (model / "index").exists() and not any(p.name.startswith(".index") for p in model.iterdir())
    r = CliRunner().invoke(main, ["index", str(model), "--kind", "lsh"])
    assert r.exit_code == 2 and "'lsh' is not one of 'flat', 'hnsw', 'ivf'" in r.output


def test_serve_refuses_bad_models_before_starting(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["serve", str(tmp_path / "nope")])
    assert r.exit_code == 1 and "not a model directory" in r.output
    model = _model(tmp_path)
    r = CliRunner().invoke(main, ["serve", f"a={model}", f"a={model}"])
    assert r.exit_code == 1 and "two models named 'a'" in r.output
