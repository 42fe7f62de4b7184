"""Data-parallel torch training on ``torch.distributed`` (gloo on CPU, NCCL on CUDA), started by torchrun.

    torchrun --nproc-per-node 2 -m embed train corpus.txt --backend torch --distributed --workers 1

Every rank reads the whole corpus to count the same vocabulary and encode its own token
cache (the vocabulary pass is deterministic, so no broadcast is needed), then trains on its
share of the 200k-token chunks: chunk ``i`` belongs to rank ``i % world``. Ranks draw
windows, subsampling and negatives from their own seeded generator (``seed + rank``) and
start from the same weights (``seed``).

**Synchronisation (HogBatch-style model averaging of touched rows).** After every
``sync_every`` rounds of ``world`` chunks, and at the end of every epoch, the ranks:

1. ``all_reduce(MAX)`` a ``uint8`` mask over the vocabulary of the rows each touched since
   the last sync (input rows: the chunk's words; output rows: its words and the negatives);
2. ``all_reduce(SUM)`` the change of those rows of ``w_in`` and ``w_out`` since the last sync;
3. add the mean change (``mode="average"``, the default: the model average of the ranks'
   rows) or the summed change (``mode="sum"``: every rank's step kept in full, as Hogwild
   threads would) to the rows as they were at the last sync.

Communication per sync and rank: ``V`` bytes for the mask plus ``2 x R x d x 4`` bytes for
the rows (``R`` touched rows), each all-reduced (a ring all-reduce moves about twice that).
The learning rate follows one global schedule: every rank counts every chunk's tokens,
its own or not, so ``alpha`` decays with the tokens processed by all ranks together.
Rank 0 writes the model directory; the others write nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embed.config import OptionError

SYNC_MODES = ("average", "sum")


def init_from_env(device: str) -> tuple[int, int]:
    """Join the process group torchrun describes in the environment; returns (rank, world size).

    Raises:
        OptionError: not started by torchrun (no RANK / WORLD_SIZE / MASTER_ADDR).
    """
    import torch.distributed as dist

    missing = [v for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise OptionError(
            "{sync} needs torchrun's environment ({missing} unset); start it as "
            "'torchrun --nproc-per-node 2 -m embed train CORPUS --backend torch --distributed ...'",
            missing=", ".join(missing),
        )
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def shutdown() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def process_group(device: str, every: int = 1, mode: str = "average") -> Iterator[RowSync]:
    """Join torchrun's process group for the block (:func:`init_from_env`) and leave it after.

    Yields this rank's :class:`RowSync` (sync after every ``every`` chunk rounds, ``mode``).

    Raises:
        OptionError: not started by torchrun, or ``every``/``mode`` out of range.
    """
    init_from_env(device)
    try:
        yield RowSync.from_process_group(every, mode)
    finally:
        shutdown()


@dataclass
class RowSync:
    """Synchronises the rows ranks touched; see the module docstring."""

    every: int = 1
    mode: str = "average"
    rank: int = 0
    world: int = 1
    syncs: int = 0
    rows_synced: int = 0
    _touched: np.ndarray | None = field(default=None, repr=False)
    _base: list[Any] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.every < 1:
            raise OptionError("{sync_every} must be >= 1 chunk round, got {every}", every=self.every)
        if self.mode not in SYNC_MODES:
            raise OptionError(
                "{sync_mode} must be one of {modes}; got {mode!r}", modes=", ".join(SYNC_MODES), mode=self.mode
            )

    @classmethod
    def from_process_group(cls, every: int = 1, mode: str = "average") -> RowSync:
        import torch.distributed as dist

        return cls(every=every, mode=mode, rank=dist.get_rank(), world=dist.get_world_size())

    def owns(self, chunk: int) -> bool:
        return chunk % self.world == self.rank

    def due(self, chunk: int) -> bool:
        """After chunk index ``chunk``: is this a sync point (the same answer on every rank)?"""
        return (chunk + 1) % (self.world * self.every) == 0

    def start(self, w_in: Any, w_out: Any) -> None:
        self._touched = np.zeros(w_in.shape[0], dtype=np.uint8)
        self._base = [w_in.clone(), w_out.clone()]

    def mark(self, *ids: np.ndarray) -> None:
        assert self._touched is not None
        for a in ids:
            self._touched[a.ravel()] = 1

    def sync(self, w_in: Any, w_out: Any) -> None:
        import torch
        import torch.distributed as dist

        assert self._touched is not None
        mask = torch.from_numpy(self._touched).to(w_in.device)
        dist.all_reduce(mask, op=dist.ReduceOp.MAX)
        rows = mask.nonzero().squeeze(1)
        if rows.numel() == 0:  # every rank sees the same mask, so every rank skips alike
            return
        for w, base in zip((w_in, w_out), self._base, strict=False):
            delta = w.index_select(0, rows) - base.index_select(0, rows)
            dist.all_reduce(delta)
            if self.mode == "average":
                delta /= self.world
            new = base.index_select(0, rows) + delta
            w.index_copy_(0, rows, new)
            base.index_copy_(0, rows, new)
        self._touched[:] = 0
        self.syncs += 1
        self.rows_synced += int(rows.numel())

    def info(self, vocab_size: int, dim: int) -> dict[str, Any]:
        mean_rows = self.rows_synced / max(self.syncs, 1)
        return {
            "world_size": self.world,
            "sync_every_rounds": self.every,
            "sync_mode": self.mode,
            "syncs": self.syncs,
            "mean_rows_per_sync": round(mean_rows, 1),
            "mean_touched_fraction": round(mean_rows / max(vocab_size, 1), 4),
            "bytes_per_sync_per_rank": int(vocab_size + 2 * mean_rows * dim * 4),
        }
