"""Running ``embed train --distributed`` under a real torchrun (gloo on loopback) from the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

RANK_MAIN = Path(__file__).with_name("rank_main.py")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def torchrun(*args: str, procs: int = 2, max_restarts: int = 0, per_rank: bool = False) -> list[str]:
    """The command line of ``torchrun --standalone -m embed ARGS`` (``per_rank``: ``{rank}`` in ARGS is the rank)."""
    launcher = [str(RANK_MAIN)] if per_rank else ["-m", "embed"]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(procs),
        "--max-restarts",
        str(max_restarts),
        "--monitor-interval",
        "0.2",
        *launcher,
        *args,
    ]


def run_torchrun(
    *args: str, procs: int = 2, per_rank: bool = False, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    cmd = torchrun(*args, procs=procs, per_rank=per_rank)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=timeout)


def worker_pids(agent: int) -> dict[int, int]:
    """``{rank: pid}`` of the workers torchrun process ``agent`` runs now (Linux /proc)."""
    found = {}
    for child in Path(f"/proc/{agent}/task/{agent}/children").read_text().split():
        try:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile
            continue
        for entry in environ:
            if entry.startswith(b"RANK="):
                found[int(entry[5:])] = int(child)
    return found


def two_rank_checkpoint(
    ckpt: Path, run_id: str = "test-run", every: int = 1, rngs: int = 2, mode: str = "average", steps: bool = True
) -> Path:
    """A checkpoint directory as a 2-rank run writes it (tiny weights, ``rngs`` generator states), for the checks
    that need no training; ``mode="momentum"`` writes its block steps too unless ``steps`` is False."""
    import numpy as np

    from embed.config import TrainConfig
    from embed.train.checkpoint import Checkpointer
    from embed.vocab import Vocab

    vocab = Vocab.build([["a", "b", "a"]], min_count=1)
    w = np.zeros((2, 4), dtype=np.float32)
    rng = np.random.default_rng(0)
    ranks = {
        "world_size": 2,
        "rng": [np.random.default_rng(r).bit_generator.state for r in range(rngs)],
        "sync": {"every": every, "mode": mode, "syncs": 3, "rows_synced": 6},
        "run_id": run_id,
    }
    arrays = {"sync_step_in": w + 1, "sync_step_out": w + 2} if mode == "momentum" and steps else None
    config = TrainConfig(dim=4, backend="torch")
    Checkpointer(ckpt, 1.0).save(config, vocab, 0, 1, 3, rng, [], w, w, distributed=ranks, arrays=arrays)
    return ckpt
