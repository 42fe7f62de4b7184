"""Checkpoints of a data-parallel run: a rank SIGKILLed mid-epoch, torchrun restarts the workers, they resume
from the last snapshot and the job ends with the vectors of an uninterrupted run, bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import embed
from embed.train.checkpoint import restart_snapshot
from tests.conftest import KJV, ROOT
from tests.train.distributed_helpers import ENV, run_torchrun, torchrun, two_rank_checkpoint, worker_pids

# KJV in 2 shards of ~390k retained tokens: 3 rounds of 200k-token chunks an epoch.
ARGS = ["train", str(KJV), "--backend", "torch", "--distributed", "--workers", "1", "--dim", "16"]
ARGS += ["--epochs", "2", "--seed", "5", "-q", "--no-eval"]


def state_dir(ckpt: Path) -> str:
    """The snapshot directory ``latest.json`` names."""
    return str(json.loads((ckpt / "latest.json").read_text())["snapshot"])


def _position(ckpt: Path) -> dict[str, int] | None:
    """The position of the snapshot ``latest.json`` names, or None (none yet, or rotated away meanwhile)."""
    try:
        name = json.loads((ckpt / "latest.json").read_text())["snapshot"]
        position: dict[str, int] = json.loads((ckpt / name / "state.json").read_text())["position"]
    except (OSError, ValueError, KeyError):
        return None
    return position


@pytest.fixture(scope="module", params=["average", "momentum"])
def uninterrupted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """An uninterrupted run and its options, per sync mode (momentum: its block steps must be snapshotted too)."""
    args = [*ARGS, "--sync-mode", request.param]
    out = tmp_path_factory.mktemp("dist-plain") / "plain"
    r = run_torchrun(*args, "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads((out / "meta.json").read_text())["backend"]["distributed"]
    # momentum: a round is 200k tokens of all ranks (100k each), so more rounds and syncs than the other modes
    assert info["chunk_tokens_per_rank"] == (100_000 if request.param == "momentum" else 200_000)
    assert (info["rounds_per_epoch"], info["syncs"]) == ((5, 10) if request.param == "momentum" else (3, 6))
    return out, args


def test_a_killed_rank_is_restarted_and_the_run_resumes_bit_identically(
    uninterrupted: tuple[Path, list[str]], tmp_path: Path
) -> None:
    (uninterrupted, args), out, ckpt = uninterrupted, tmp_path / "model", tmp_path / "model.checkpoint"
    cmd = torchrun(*args, "--out", str(out), "--checkpoint-every", "0.001", max_restarts=1)
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**ENV, "TMPDIR": str(tmp_path)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while (pos := _position(ckpt)) is None or pos["epoch"] < 1:  # a snapshot inside the second epoch
        assert proc.poll() is None, f"training ended before a rank could be killed: {proc.communicate()[1][-3000:]}"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert pos["chunk"] >= 1
    state = json.loads((ckpt / state_dir(ckpt) / "state.json").read_text())
    assert state["distributed"]["world_size"] == 2 and len(state["distributed"]["rng"]) == 2
    assert state["distributed"]["rng"][0] != state["distributed"]["rng"][1]  # each rank's own generator
    os.kill(worker_pids(proc.pid)[1], signal.SIGKILL)  # rank 1, mid-epoch: torchrun restarts both workers
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr[-3000:]
    assert "torchrun restarted the workers: resuming from" in stderr
    assert stdout.count("wrote ") == 1 and not ckpt.exists()  # rank 0 wrote the model, then dropped the snapshots
    resumed, plain = embed.load(out), embed.load(uninterrupted)
    assert resumed.words == plain.words
    np.testing.assert_array_equal(resumed.matrix, plain.matrix)
    meta, plain_meta = (json.loads((d / "meta.json").read_text()) for d in (out, uninterrupted))
    assert [e["loss"] for e in meta["epochs"]] == [e["loss"] for e in plain_meta["epochs"]]
    assert meta["backend"]["distributed"]["syncs"] == plain_meta["backend"]["distributed"]["syncs"]


def test_a_failed_job_resumes_with_resume_and_the_same_world_size(
    uninterrupted: tuple[Path, list[str]], tmp_path: Path
) -> None:
    (uninterrupted, args), out, ckpt = uninterrupted, tmp_path / "model", tmp_path / "ckpt"
    cmd = torchrun(*args, "--out", str(out), "--checkpoint-every", "0.001", "--checkpoint-dir", str(ckpt))
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**ENV, "TMPDIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while (pos := _position(ckpt)) is None or (pos["epoch"], pos["chunk"]) < (0, 2):
        assert proc.poll() is None, f"training ended before a rank could be killed: {proc.communicate()[1][-3000:]}"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(worker_pids(proc.pid)[0], signal.SIGKILL)  # rank 0 this time; no restarts: the job fails
    proc.communicate(timeout=120)
    assert proc.returncode != 0 and not out.exists()
    steps = {"sync_step_in.npy", "sync_step_out.npy"} & {p.name for p in (ckpt / state_dir(ckpt)).iterdir()}
    assert steps == ({"sync_step_in.npy", "sync_step_out.npy"} if "momentum" in args else set())

    # The options come from the checkpoint (--out, --sync-every, --sync-mode too); each rank restores its generator.
    r = run_torchrun("train", str(KJV), "--distributed", "--resume", str(ckpt), "-q", "--no-eval")
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"wrote {out}" in r.stdout and not ckpt.exists()
    np.testing.assert_array_equal(embed.load(out).matrix, embed.load(uninterrupted).matrix)


def test_restarted_workers_resume_only_their_jobs_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt = two_rank_checkpoint(tmp_path / "ckpt", run_id="job-a")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-a")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    assert restart_snapshot(ckpt) is None  # the first start of a job never resumes unasked
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    found = restart_snapshot(ckpt)
    assert found is not None and found.world_size == 2 and (found.epoch, found.chunk) == (0, 1)
    assert restart_snapshot(tmp_path / "none") is None
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-b")
    assert restart_snapshot(ckpt) is None  # another job's snapshot
