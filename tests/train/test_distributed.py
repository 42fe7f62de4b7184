"""Data-parallel torch training: 2 ranks under torchrun (gloo, loopback) on the bundled KJV."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import embed
from embed.cli import main
from tests.conftest import KJV, ROOT
from tests.kjv_checks import assert_kjv_neighbours_make_sense


def test_two_ranks_train_one_model_with_the_single_process_vocabulary(tmp_path: Path, kjv_model_dir: Path) -> None:
    out = tmp_path / "model"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "embed",
        "train",
        str(KJV),
        "--backend",
        "torch",
        "--distributed",
        "--workers",
        "1",
        "--dim",
        "50",
        "--epochs",
        "5",
        "--out",
        str(out),
        "-q",
        "--no-eval",
    ]
    r = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=240
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("wrote ") == 1  # rank 0 only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    v = embed.load(out)
    assert v.words == embed.load(kjv_model_dir).words  # the single-process vocabulary, same order
    assert_kjv_neighbours_make_sense(v)
    info = json.loads((out / "meta.json").read_text())["backend"]["distributed"]
    # KJV is 4 chunks of 200k tokens: each rank trained 2 per epoch, synced after every round.
    assert info["world_size"] == 2 and info["sync_mode"] == "average" and info["syncs"] >= 10
    assert 0 < info["mean_touched_fraction"] <= 1


def test_distributed_outside_torchrun_is_refused(tmp_path: Path) -> None:
    env: dict[str, str | None] = {k: None for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    out = tmp_path / "model"
    result = CliRunner(env=env).invoke(
        main, ["train", str(KJV), "--backend", "torch", "--distributed", "--out", str(out), "-q"]
    )
    assert result.exit_code != 0 and "--distributed needs torchrun's environment" in result.output
    assert "torchrun --nproc-per-node 2 -m embed train" in result.output and not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--distributed", "--backend", "gensim"], "--distributed needs --backend torch"),
        (["--sync-every", "2"], "--sync-every and --sync-mode need --distributed"),
        (["--backend", "torch", "--sync-mode", "sum"], "--sync-every and --sync-mode need --distributed"),
    ],
)
def test_distributed_options_are_refused_where_they_do_not_apply(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["train", str(KJV), *extra, "--out", str(tmp_path / "m"), "-q"])
    assert result.exit_code != 0 and message in result.output and not (tmp_path / "m").exists()
