"""Checkpoint and resume (torch backend): kill -9 mid-epoch, resume, same vectors as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import embed
from embed.cli import main
from tests.conftest import KJV, ROOT

ARGS = ["--backend", "torch", "--epochs", "2", "--dim", "32", "--workers", "1", "--seed", "5", "-q", "--no-eval"]


def _env(tmpdir: Path | None = None) -> dict[str, str]:
    """The subprocess environment; ``tmpdir``: its own TMPDIR, so what a killed run leaves in embed's scratch
    directory stays out of other tests' runs (the next ``embed train`` there removes it and says so)."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **({"TMPDIR": str(tmpdir)} if tmpdir else {})}


def _embed(*args: str, tmpdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "embed", *args], capture_output=True, text=True, cwd=ROOT, env=_env(tmpdir)
    )


def _positions(ckpt: Path) -> list[dict[str, int]]:
    """Positions of the snapshots there now; one listed but dropped before it is read (rotation) is passed over."""
    positions = []
    for path in ckpt.glob("snap-*/state.json"):
        try:
            positions.append(json.loads(path.read_text())["position"])
        except FileNotFoundError:
            continue
    return positions


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ckpt") / "plain"
    r = _embed("train", str(KJV), *ARGS, "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_kill_9_mid_epoch_then_resume_gives_the_uninterrupted_vectors(uninterrupted: Path, tmp_path: Path) -> None:
    out, ckpt = tmp_path / "model", tmp_path / "model.checkpoint"
    proc = subprocess.Popen(
        [sys.executable, "-m", "embed", "train", str(KJV), *ARGS, "--out", str(out), "--checkpoint-every", "0.001"],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not any(p["epoch"] == 1 for p in _positions(ckpt)):  # a snapshot inside the second epoch
        assert proc.poll() is None, (
            f"training ended before it could be killed: {proc.stderr.read() if proc.stderr else ''}"
        )
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed run must leave no model directory"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".model")] == []
    position = _positions(ckpt)[-1]
    assert position["epoch"] == 1 and position["chunk"] >= 1

    r = _embed("train", str(KJV), "--resume", str(ckpt), "-q", "--no-eval", tmpdir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}" in r.stdout  # --out comes from the checkpoint
    assert list((tmp_path / f"embed-{os.getuid()}").iterdir()) == []  # the killed run's token files are gone
    assert not ckpt.exists()  # removed once the model is written
    resumed, plain = embed.load(out), embed.load(uninterrupted)
    assert resumed.words == plain.words
    np.testing.assert_array_equal(resumed.matrix, plain.matrix)  # same seed, device and threads
    meta = json.loads((out / "meta.json").read_text())
    plain_meta = json.loads((uninterrupted / "meta.json").read_text())
    assert [e["epoch"] for e in meta["epochs"]] == [0, 1]
    assert [e["loss"] for e in meta["epochs"]] == [e["loss"] for e in plain_meta["epochs"]]


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished checkpoint directory, kept by copying it before the run removes it."""
    from embed.config import TrainConfig
    from embed.train import RunOptions, train
    from embed.train.checkpoint import Checkpointer

    ckpt = tmp_path_factory.mktemp("snap") / "ckpt"
    train(
        KJV,
        TrainConfig(backend="torch", epochs=1, dim=16, workers=1),
        run=RunOptions(checkpointer=Checkpointer(ckpt, 1e-3, out=str(ckpt.parent / "never"))),
    )
    assert (ckpt / "latest.json").is_file()
    return ckpt


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--resume", "{ckpt}", "--epochs", "3"],
            "--epochs 3 conflicts with the checkpoint's 1; drop --epochs when resuming",
        ),
        (["--resume", "{ckpt}", "--corpus-is", "{other}"], "not the corpus this checkpoint was trained on"),
        (
            ["--resume", "{missing}"],
            "not a checkpoint directory (no latest.json); pass the directory written by --checkpoint-every",
        ),
        (["--checkpoint-every", "5"], "--checkpoint-every and --resume need --backend torch"),
    ],
)
def test_bad_resume_and_checkpoint_options(args: list[str], message: str, snapshot_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("in the beginning god created the heaven and the earth\n" * 50)
    fill = {"ckpt": str(snapshot_dir), "other": str(other), "missing": str(tmp_path / "missing")}
    args = [a.format(**fill) for a in args]
    corpus = str(KJV)
    if "--corpus-is" in args:
        i = args.index("--corpus-is")
        corpus = args[i + 1]
        del args[i : i + 2]
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["train", corpus, "--out", str(out), "-q", "--no-eval", *args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output, result.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["other.txt"]
