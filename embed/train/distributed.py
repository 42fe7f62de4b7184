"""Data-parallel torch training on ``torch.distributed`` (gloo on CPU, NCCL on CUDA), started by torchrun.

    torchrun --nproc-per-node 2 -m embed train corpus.txt --backend torch --distributed --workers 1

**Same run on every rank.** Once the ranks have joined, they all-gather their options
(the whole :class:`~embed.config.TrainConfig`, the sync settings, the checkpoint interval and
the position resumed from) and a fingerprint of their corpus (file names, sizes, a hash of the
first and last 64 KiB of each file); any difference, or an error one rank met (a refused option,
a checkpoint of another world size, a corpus it cannot open), stops every rank with the same
one-line message before anything is read or written.

**Sharded input.** Rank ``r`` reads only its shard (:class:`embed.corpus.CorpusShard`): the
plain files laid end to end are cut into ``world`` equal byte ranges, each cut moved forward to
the next line start, so a rank reads about ``1/world`` of the bytes and the shards in rank order
are the corpus in order. ``.gz``/``.bz2`` files cannot be entered at an offset: every rank
decompresses them whole and keeps line ``j`` if ``j % world == r`` (reading, not tokenizing, is
then repeated). A rank left without text (a corpus of fewer lines than ranks) stops the run.

**One vocabulary.** Each rank counts its shard (:class:`embed.vocab.WordCounts`); the ranks
all-gather their ``(word, count)`` lists as JSON and every rank merges them alike, then applies
min-count and max-vocab with the single-process rule and tie-break
(:meth:`embed.vocab.Vocab.from_word_counts`): the same words, order and counts as one process.
``count_limit`` prunes by what was seen *so far*, so there the ranks count in corpus order
instead: each rank tokenizes its shard in parallel, then continues the count of the rank before
it (sent point to point) over its own sentences, and the last rank broadcasts the result
(serial counting, exact pruning; plain-text corpora only, as line-interleaved shards of
compressed files do not keep the order).

**Rounds and one schedule.** Each rank's token cache holds its shard only. Round ``k`` is every
rank's ``k``-th 200k-token chunk (:class:`RoundPlan`, from the all-gathered chunk sizes); a rank
with fewer chunks sits the last rounds out but joins every sync, so every rank makes the same
collective calls. Chunks are ordered round by round and rank by rank within a round, and the
learning rate of rank ``r``'s chunk ``k`` decays from the tokens of all chunks before it in that
order: one deterministic schedule over the global token count. Ranks draw windows, subsampling
and negatives from their own seeded generator (``seed + rank``) and start from the same weights.

**Synchronisation (HogBatch-style model averaging of touched rows).** After every
``sync_every`` rounds, and at the end of every epoch, the ranks:

1. ``all_reduce(SUM)`` two ``uint8`` masks over the vocabulary, one per matrix, of the rows
   each touched since the last sync (rows of ``w_in``: the chunk's words; rows of ``w_out``:
   its words and the negatives): per matrix and row, how many ranks touched it;
2. ``all_reduce(SUM)`` the change of those rows of ``w_in`` and of ``w_out`` since the last sync;
3. add to the rows as they were at the last sync the mean change (``mode="average"``: the
   model average of the ranks' rows), the summed change (``mode="sum"``: every
   rank's step kept in full, as Hogwild threads would), the summed change scaled down to
   :data:`SYNC_CAP` ranks' worth where more ranks touched the row (``mode="capped"``: a row
   one rank touched keeps its step, a frequent row does not get ``W`` stale steps at once), or
   a block-momentum step (``mode="momentum"``, BMUF: Chen and Huo 2016): every row moves by
   ``G = (1 - 1/W) G + mean change``, kept between syncs. A row the ranks keep moving the same
   way moves ``W`` times the mean change, as with ``sum``; a row each rank drives to the same
   local target settles (its error shrinks by ``sqrt(1 - 1/W)`` per sync where summing multiplies it
   by ``1 - W``). Block momentum needs many syncs, the more the more ranks: in this mode each
   rank's chunk is ``400k / W^2`` tokens (:meth:`RowSync.chunk_tokens`), so a round is ``400k / W``
   tokens of all ranks (200k at W = 2, 50k at W = 8). On 3M tokens at W = 8, rounds of 200k, 100k and
   50k tokens scored 6.6%, 9.6% and 10.2% analogy against one process's 10.8% (BENCHMARKS.md, issue 20);
   ``--sync-every`` trades that back for fewer syncs.

   The default, ``mode="auto"`` (:func:`resolve_mode`), is ``sum`` for CBOW at 2 ranks and
   ``momentum`` otherwise: the modes that kept one process's quality on the full enwiki extract
   (mean of four seeds). The snapshot and ``meta.json`` record the mode it chose.

Communication per sync and rank: ``2 x V`` bytes for the masks plus ``(R_in + R_out) x d x 4``
bytes for the rows (``R_in``, ``R_out``: the rows of each matrix any rank touched), each
all-reduced (a ring all-reduce moves about twice that). The negatives reach most rows of
``w_out``; the rows of ``w_in`` are the chunks' words only, so one mask per matrix sends fewer
rows of ``w_in`` than a mask shared by both (``average`` and ``sum`` give the same vectors either
way, as an untouched row's change is 0; ``capped`` counts a row's ranks in its own matrix).

**Checkpoints.** Right after a sync every rank holds the same weights; there rank 0 decides
whether a snapshot is due (its ``--checkpoint-every`` clock) and broadcasts the answer, the
ranks gather their generator states to rank 0, and rank 0 alone writes the snapshot
(:class:`embed.train.checkpoint.Checkpointer`, atomic): the weights (and ``momentum``'s steps ``G``,
the same on every rank), the position (epoch,
rounds done, global tokens processed), every rank's generator state, the world size, the sync
settings and counters, and torchrun's run id. ``--resume`` restores each rank's own generator;
a checkpoint of another world size is refused. When torchrun restarts the workers
(``--max-restarts``), ``embed train --checkpoint-every`` resumes from the snapshot in its
checkpoint directory if this torchrun job wrote it (:func:`embed.train.checkpoint.restart_snapshot`);
restarted workers see torchrun's store under a prefix of their restart (:func:`_restart_store`).

Metadata (options, counts, chunk sizes, generator states, flags) travels over gloo as JSON, never
pickle. The loss of each epoch is rank 0's probe (drawn from its shard, the start of the corpus),
broadcast so that every rank records the same. Rank 0 writes the model directory; the others write nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embed.config import SYNC_AUTO, SYNC_CAP, SYNC_MODES, OptionError, TrainConfig, momentum_round_tokens
from embed.corpus import Corpus, CorpusShard, CorpusStats
from embed.errors import ConfigError, CorpusError, EmbedError
from embed.train.checkpoint import SYNC_STEPS
from embed.vocab import Vocab, WordCounts

# mode="momentum": the block momentum 1 - 1/W (Chen and Huo 2016's rule), block learning rate 1.
# mode="capped": a row's summed change is divided by max(1, ranks that touched it / embed.config.SYNC_CAP).
# The parts of RowSync.sync that RowSync.phases times, in the order they run.
SYNC_PHASES = ("masks", "gather", "all_reduce", "update")


def combine(delta: Any, ranks: Any, mode: str, world: int) -> Any:
    """The change to add to rows at the last sync: ``delta`` (R, d) the ranks' summed change, ``ranks`` (R,)
    how many ranks touched each row (at least 1), per ``mode`` (module docstring); in place."""
    if mode == "average":
        return delta.div_(world)
    if mode == "capped":
        return delta.div_((ranks.to(delta.dtype) / SYNC_CAP).clamp_(min=1.0).unsqueeze(1))
    return delta


def resolve_mode(mode: str, arch: str, world: int) -> str:
    """``mode``, or for ``"auto"`` the mode measured to keep one process's quality at ``world`` ranks:
    ``sum`` for CBOW at 2 ranks, ``momentum`` otherwise (BENCHMARKS.md, issue 20: full enwiki, mean of four
    seeds, 2 ranks minus 1 process: skip-gram ``momentum`` +0.4 analogy points / -0.000 WS353 / -0.003 SimLex,
    CBOW ``sum`` +0.25 / +0.020 / -0.008, CBOW ``momentum`` -0.012 SimLex; ``sum`` diverges from 3 ranks on).

    >>> resolve_mode("auto", "cbow", 2), resolve_mode("auto", "cbow", 4), resolve_mode("auto", "skipgram", 2)
    ('sum', 'momentum', 'momentum')
    >>> resolve_mode("average", "cbow", 2)
    'average'
    """
    if mode != SYNC_AUTO:
        return mode
    return "sum" if arch == "cbow" and world == 2 else "momentum"


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
        backend = "nccl" if device == "cuda" else "gloo"
        store = _restart_store()
        if store is None:
            dist.init_process_group(backend=backend)
        else:
            rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            dist.init_process_group(backend=backend, store=store, rank=rank, world_size=world)
    return dist.get_rank(), dist.get_world_size()


def _restart_store() -> Any:
    """torchrun's store seen under a prefix of this restart, for workers that torchrun restarted; else None.

    torchrun (2.x) keeps one store for all restarts of a job, so restarted workers can read the
    addresses the killed ones published and fail to connect ("Gloo connectFullMesh failed ...
    Connection refused"; pytorch/pytorch#135712). The prefix gives each restart keys of its own.
    It relies on every worker being on its ``TORCHELASTIC_RESTART_COUNT``, true on one node;
    for several nodes, start torchrun with ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1``.
    """
    import torch.distributed as dist

    restarts = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    if restarts == "0" or os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    world = int(os.environ["WORLD_SIZE"])
    c10d: Any = dist  # the stores are public torch.distributed API that its stubs do not re-export
    store = c10d.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world, is_master=False)
    return c10d.PrefixStore(f"embed/restart-{restarts}", store)


def env_world() -> int:
    """The world size torchrun announces (``WORLD_SIZE``); 1 outside torchrun."""
    try:
        return max(int(os.environ.get("WORLD_SIZE", "1")), 1)
    except ValueError:
        return 1


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


@dataclass(frozen=True)
class RoundPlan:
    """Which chunk each rank trains in which round, and the global token order the schedule follows.

    ``sizes[k, r]`` is the token count of rank ``r``'s chunk ``k`` (0 where it has none), and
    ``chunks[r]`` its number of chunks. Chunks are ordered round by round, rank by rank within a round.

    >>> plan = RoundPlan.from_sizes([[100, 100, 20], [100, 50]])
    >>> plan.rounds, plan.epoch_tokens, plan.start(1, 1), plan.done(2)
    (3, 370, 300, 350)
    """

    sizes: np.ndarray
    chunks: tuple[int, ...]

    @classmethod
    def from_sizes(cls, per_rank: list[list[int]]) -> RoundPlan:
        rounds = max((len(s) for s in per_rank), default=0)
        sizes = np.zeros((rounds, len(per_rank)), dtype=np.int64)
        for r, s in enumerate(per_rank):
            sizes[: len(s), r] = s
        return cls(sizes, tuple(len(s) for s in per_rank))

    @property
    def rounds(self) -> int:
        return int(self.sizes.shape[0])

    @property
    def epoch_tokens(self) -> int:
        return int(self.sizes.sum())

    def done(self, k: int) -> int:
        """Tokens of rounds ``0 .. k-1``, all ranks."""
        return int(self.sizes[:k].sum())

    def start(self, k: int, rank: int) -> int:
        """Tokens before rank ``rank``'s chunk ``k`` in the global order."""
        return self.done(k) + int(self.sizes[k, :rank].sum())

    def retained(self, rank: int) -> int:
        return int(self.sizes[:, rank].sum())


@dataclass
class RowSync:
    """This rank's view of a data-parallel run: the row sync (module docstring) and the metadata
    collectives (JSON over gloo) the ranks use to agree."""

    every: int = 1
    mode: str = "average"
    rank: int = 0
    world: int = 1
    syncs: int = 0
    rows_synced: int = 0
    # this process's wall time in sync() by part: the masks' all-reduce, gathering the rows' changes, their
    # all-reduce (with the wait for the slower rank), the update of the rows; bench.sync_cost and bench.scale's profile
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SYNC_PHASES, 0.0), repr=False)
    group: Any = field(default=None, repr=False)  # gloo group for metadata; None: the default group
    plan: RoundPlan | None = field(default=None, repr=False)
    ranks: list[dict[str, Any]] = field(default_factory=list, repr=False)  # each rank's shard, gathered
    _touched: np.ndarray | None = field(default=None, repr=False)
    _base: list[Any] = field(default_factory=list, repr=False)
    _momentum: list[Any] = field(default_factory=list, repr=False)  # mode="momentum": each matrix's block step
    _scratch: list[Any] = field(default_factory=list, repr=False)  # sync()'s two row buffers

    def __post_init__(self) -> None:
        if self.every < 1:
            raise OptionError("{sync_every} must be >= 1 chunk round, got {every}", every=self.every)
        if self.mode not in SYNC_MODES:
            raise OptionError(
                "{sync_mode} must be one of {modes}; got {mode!r}", modes=", ".join(SYNC_MODES), mode=self.mode
            )
        if self.world > 255:
            raise OptionError(
                "--distributed runs at most 255 ranks (a row's count of ranks is one byte); start fewer processes"
            )

    @classmethod
    def from_process_group(cls, every: int = 1, mode: str = "average") -> RowSync:
        import torch.distributed as dist

        # Metadata stays on the CPU: under NCCL it gets a gloo group of its own.
        group = None if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
        return cls(every=every, mode=mode, rank=dist.get_rank(), world=dist.get_world_size(), group=group)

    def due(self, round_: int) -> bool:
        """After round ``round_`` (0-based, of this epoch): is this a sync point (the same answer on every rank)?"""
        return (round_ + 1) % self.every == 0

    def chunk_tokens(self, single: int) -> int:
        """Each rank's chunk, for a single process's chunk of ``single`` tokens: the same, or in mode="momentum"
        a ``1/W`` share of the round :func:`embed.config.momentum_round_tokens` gives (at most ``single``, at
        least 1,000; module docstring)."""
        if self.mode != "momentum":
            return single
        return max(min(single, momentum_round_tokens(single, self.world) // self.world), 1000)

    def start(self, w_in: Any, w_out: Any, steps: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Take the weights (the same on every rank) as the base of the next sync; ``steps``: mode="momentum"'s
        ``G`` of each matrix from a snapshot (else zero)."""
        self._touched = np.zeros((2, w_in.shape[0]), dtype=np.uint8)  # rows of w_in, rows of w_out
        self._base = [w_in.clone(), w_out.clone()]
        # Two row buffers for sync(), allocated once: fresh (R, d) tensors each sync cost their page faults
        # (bench.sync_cost, 69k-word model, W = 2: a median 106 -> 91 ms per sync; BENCHMARKS.md, issue 20).
        shape = (max(w_in.shape[0], w_out.shape[0]), w_in.shape[1])
        self._scratch = [w_in.new_empty(shape), w_in.new_empty(shape)]
        if self.mode == "momentum":
            import torch

            if steps is None:
                self._momentum = [torch.zeros_like(w_in), torch.zeros_like(w_out)]
            else:
                self._momentum = [torch.from_numpy(a).to(w.device) for a, w in zip(steps, (w_in, w_out), strict=True)]

    def steps(self) -> dict[str, np.ndarray]:
        """What a snapshot must keep of the sync besides the weights: mode="momentum"'s ``G`` per matrix."""
        if self.mode != "momentum":
            return {}
        return {name: g.cpu().numpy() for name, g in zip(SYNC_STEPS, self._momentum, strict=True)}

    def mark(self, inputs: np.ndarray, *outputs: np.ndarray) -> None:
        """Rows this rank updated: ``inputs`` of ``w_in``, ``outputs`` (the words, the negatives) of ``w_out``."""
        assert self._touched is not None
        self._touched[0, inputs.ravel()] = 1
        for a in outputs:
            self._touched[1, a.ravel()] = 1

    def sync(self, w_in: Any, w_out: Any) -> None:
        import torch
        import torch.distributed as dist

        assert self._touched is not None
        last = time.perf_counter()

        def lap(phase: str) -> None:  # the time since the last lap, to the phase that just ended
            nonlocal last
            now = time.perf_counter()
            self.phases[phase] += now - last
            last = now

        masks = torch.from_numpy(self._touched).to(w_in.device)
        dist.all_reduce(masks)  # per matrix and row: how many ranks touched it (uint8: world <= 255, checked at start)
        touched = [mask.nonzero().squeeze(1) for mask in masks]
        synced = sum(int(rows.numel()) for rows in touched)
        lap("masks")
        if synced == 0:  # every rank sees the same masks, so every rank skips alike
            return
        for i, (w, base, mask, rows) in enumerate(zip((w_in, w_out), self._base, masks, touched, strict=True)):
            delta, rows_then = (buf[: rows.numel()] for buf in self._scratch)
            torch.index_select(w, 0, rows, out=delta).sub_(torch.index_select(base, 0, rows, out=rows_then))
            lap("gather")
            dist.all_reduce(delta)
            lap("all_reduce")
            if self.mode == "momentum":
                self._block_step(w, base, self._momentum[i], rows, delta)
            else:
                new = rows_then.add_(combine(delta, mask.index_select(0, rows), self.mode, self.world))
                w.index_copy_(0, rows, new)
                base.index_copy_(0, rows, new)
            lap("update")
        self._touched[:] = 0
        self.syncs += 1
        self.rows_synced += synced

    @property
    def seconds(self) -> float:
        """This process's wall time in :meth:`sync` (the all-reduces and the row copies): its parts' sum."""
        return sum(self.phases.values())

    def _block_step(self, w: Any, base: Any, step: Any, rows: Any, delta: Any) -> None:
        """mode="momentum": ``step = eta * step + mean change`` on every row, then ``w = base + step``."""
        step.mul_(1.0 - 1.0 / self.world)
        step.index_add_(0, rows, delta.div_(self.world))
        base.add_(step)
        w.copy_(base)

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (anything JSON can hold), in rank order, on every rank."""
        if self.world == 1:
            return [obj]
        import torch
        import torch.distributed as dist

        data = json.dumps(obj).encode("utf-8")
        sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(self.world)]
        dist.all_gather(sizes, torch.tensor([len(data)], dtype=torch.int64), group=self.group)
        top = max(int(s.item()) for s in sizes)
        buf = torch.zeros(top, dtype=torch.uint8)
        buf[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        parts = [torch.empty(top, dtype=torch.uint8) for _ in range(self.world)]
        dist.all_gather(parts, buf, group=self.group)
        return [json.loads(p[: int(s.item())].numpy().tobytes()) for p, s in zip(parts, sizes, strict=True)]

    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag``, on every rank (e.g. whether a snapshot is due)."""
        if self.world == 1:
            return flag
        import torch
        import torch.distributed as dist

        t = torch.tensor([int(flag)], dtype=torch.uint8)
        dist.broadcast(t, src=0, group=self.group)
        return bool(t.item())

    def send(self, obj: Any, dst: int) -> None:
        """``obj`` as JSON to rank ``dst`` (which calls :meth:`receive`)."""
        import torch
        import torch.distributed as dist

        data = json.dumps(obj).encode("utf-8")
        dist.send(torch.tensor([len(data)], dtype=torch.int64), dst, group=self.group)
        dist.send(torch.frombuffer(bytearray(data), dtype=torch.uint8), dst, group=self.group)

    def receive(self, src: int) -> Any:
        import torch
        import torch.distributed as dist

        size = torch.zeros(1, dtype=torch.int64)
        dist.recv(size, src, group=self.group)
        buf = torch.empty(int(size.item()), dtype=torch.uint8)
        dist.recv(buf, src, group=self.group)
        return json.loads(buf.numpy().tobytes())

    def broadcast(self, obj: Any, src: int) -> Any:
        """Rank ``src``'s ``obj`` on every rank (the others pass None)."""
        if self.world == 1:
            return obj
        import torch
        import torch.distributed as dist

        data = json.dumps(obj).encode("utf-8") if self.rank == src else b""
        size = torch.tensor([len(data)], dtype=torch.int64)
        dist.broadcast(size, src=src, group=self.group)
        buf = torch.zeros(int(size.item()), dtype=torch.uint8)
        if self.rank == src:
            buf[:] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        dist.broadcast(buf, src=src, group=self.group)
        return json.loads(buf.numpy().tobytes())

    def plan_rounds(self, chunk_sizes: list[int]) -> RoundPlan:
        """The :class:`RoundPlan` of every rank's chunk sizes (gathered), kept as :attr:`plan`."""
        self.plan = RoundPlan.from_sizes(self.gather(chunk_sizes))
        return self.plan

    def counters(self) -> dict[str, Any]:
        """What a snapshot keeps of the sync: its settings and counters."""
        return {"every": self.every, "mode": self.mode, "syncs": self.syncs, "rows_synced": self.rows_synced}

    def restore(self, counters: dict[str, Any]) -> None:
        self.syncs, self.rows_synced = int(counters["syncs"]), int(counters["rows_synced"])

    def info(self, vocab_size: int, dim: int) -> dict[str, Any]:
        mean_rows = self.rows_synced / max(self.syncs, 1)
        ranks = [dict(r) for r in self.ranks]
        if self.plan is not None:
            for r, entry in enumerate(ranks):
                entry |= {"retained_tokens": self.plan.retained(r), "chunks": self.plan.chunks[r]}
        return {
            "world_size": self.world,
            "sync_every_rounds": self.every,
            "sync_mode": self.mode,
            "syncs": self.syncs,
            "rounds_per_epoch": self.plan.rounds if self.plan is not None else 0,
            "mean_rows_per_sync": round(mean_rows, 1),  # of w_in and w_out together
            "mean_touched_fraction": round(mean_rows / max(2 * vocab_size, 1), 4),
            "bytes_per_sync_per_rank": int(2 * vocab_size + mean_rows * dim * 4),
            "sync_seconds": round(self.seconds, 2),  # rank 0's, since the start or the resume
            "sync_phase_seconds": {k: round(v, 2) for k, v in self.phases.items()},  # the same, by part
            "ranks": ranks,
        }


class EveryNth:
    """Sentence ``j`` of a re-iterable corpus of token lists if ``j % world == rank``: the shard of a corpus
    given as token lists, which has no bytes to split (every rank iterates it whole)."""

    def __init__(self, corpus: Iterable[list[str]], rank: int, world: int) -> None:
        self.corpus, self.rank, self.world = corpus, rank, world
        self.source = getattr(corpus, "source", "corpus")

    def __iter__(self) -> Iterator[list[str]]:
        for j, tokens in enumerate(self.corpus):
            if j % self.world == self.rank:
                yield tokens


Shard = CorpusShard | EveryNth


def run_identity(config: TrainConfig, sync: RowSync, checkpoint_every: float | None, resume: Any) -> dict[str, Any]:
    """What must be the same on every rank besides the corpus: options, sync, checkpoints, the position resumed."""
    position = None if resume is None else {"epoch": resume.epoch, "chunk": resume.chunk, "processed": resume.processed}
    return dataclasses.asdict(config) | {
        "sync_every": sync.every,
        "sync_mode": sync.mode,
        "checkpoint_every": checkpoint_every,
        "resume": position,
    }


def open_shard(
    corpus: Corpus | Iterable[list[str]] | str | os.PathLike[str],
    config: TrainConfig,
    identity: dict[str, Any],
    sync: RowSync,
    source: str,
    check: Callable[[], None] = lambda: None,
) -> Shard:
    """This rank's shard of ``corpus``, once every rank has checked that all ranks run the same training.

    ``check`` (e.g. :func:`embed.train.check_run`) runs first; what it or opening the corpus raises on
    any rank is raised on every rank, after the ranks have compared what they were given.

    Raises:
        ConfigError: the ranks' options differ, or a rank could not open its corpus (named, on every rank).
        CorpusError: the ranks' corpora differ.
        EmbedError: what ``check`` raised, when it raised the same on every rank.
    """
    shard: Shard | None = None
    fingerprint: dict[str, Any] | None = None
    error: Exception | None = None
    try:
        check()
        if isinstance(corpus, (str, os.PathLike)):
            shard = CorpusShard(corpus, sync.rank, sync.world, config.tokenizer, workers=config.workers)
        elif isinstance(corpus, Corpus):
            shard = corpus.shard(sync.rank, sync.world)
        else:
            shard = EveryNth(corpus, sync.rank, sync.world)
        fingerprint = shard.fingerprint() if isinstance(shard, CorpusShard) else None
    except (EmbedError, OSError) as exc:  # every rank must hear of it, or the others would wait for this one
        error = exc
    views = sync.gather({"options": identity, "corpus": fingerprint, "error": None if error is None else str(error)})
    _check_same(views, source, error)
    assert shard is not None
    return shard


def _check_same(views: list[dict[str, Any]], source: str, error: Exception | None) -> None:
    """Refuse, on every rank alike, what :func:`open_shard` gathered if the ranks do not run one training
    (``error``: this rank's own, raised as it is when every rank met the same)."""
    ours = views[0]
    for r, view in enumerate(views[1:], start=1):
        for key, value in view["options"].items():
            if ours["options"].get(key) != value:
                raise ConfigError(
                    f"the ranks were started with different options: {key}={value!r} on rank {r},"
                    f" {key}={ours['options'].get(key)!r} on rank 0; start every rank with the same command line"
                )
    _raise_any([view["error"] for view in views], error)
    for r, view in enumerate(views[1:], start=1):
        theirs, mine = _describe(view["corpus"]), _describe(ours["corpus"])
        if view["corpus"] != ours["corpus"]:
            same = " (the same sizes, other content)" if theirs == mine else ""
            raise CorpusError(
                f"{source}: the ranks read different corpora: {theirs} on rank {r}, {mine} on rank 0{same};"
                " give every rank the same corpus"
            )


def _raise_any(messages: list[str | None], error: Exception | None) -> None:
    """Raise on every rank what some rank met (``messages``, gathered): this rank's own ``error`` as it is when
    every rank met the same, else the first rank's message, naming the rank."""
    if error is not None and all(m == str(error) for m in messages):
        raise error
    for r, message in enumerate(messages):
        if message is not None:
            raise ConfigError(f"rank {r} of {len(messages)}: {message}")


def _describe(fingerprint: dict[str, Any] | None) -> str:
    if fingerprint is None:
        return "token lists"
    return f"{len(fingerprint['files'])} file(s) of {fingerprint['bytes']:,} bytes"


def build_vocab(spool: Iterable[list[str]], shard: Shard, config: TrainConfig, sync: RowSync, source: str) -> Vocab:
    """The vocabulary one process would count on the whole corpus, from this rank's ``spool`` of its ``shard``.

    Raises:
        OptionError: ``count_limit`` with shards that are not in corpus order (compressed files, token lists).
        CorpusError: a rank got no text (fewer lines than ranks).
        VocabError: as :meth:`Vocab.build`.
    """
    limit = config.count_limit
    if limit is not None and not (isinstance(shard, CorpusShard) and shard.ordered):
        raise OptionError(
            "{sync} with count_limit needs plain-text corpus files: its pruning follows the corpus order, which"
            " the line-interleaved shards of .gz/.bz2 files and token lists do not keep; decompress the corpus"
            " or drop count_limit"
        )
    local, error = WordCounts(), None
    try:
        if limit is None:
            local.add(spool)
        else:
            for _ in spool:  # tokenize (and spool) this shard in parallel; the counting below is serial
                pass
    except (EmbedError, OSError) as exc:  # e.g. damaged data in one rank's range: every rank must stop
        error = exc
    stats = _shard_stats(shard, spool) | {"error": None if error is None else str(error)}
    sync.ranks = sync.gather(stats)
    _raise_any([r.pop("error") for r in sync.ranks], error)
    _check_shards(sync.ranks, source)
    if limit is None:
        counts = WordCounts.merge(WordCounts.from_json(part) for part in sync.gather(local.to_json()))
    else:
        counts = _count_in_rank_order(spool, limit, sync)
    return Vocab.from_word_counts(counts, config.min_count, config.max_vocab, source, limit)


def _count_in_rank_order(sentences: Iterable[list[str]], limit: int, sync: RowSync) -> WordCounts:
    """Bounded counting over the shards in rank order (= corpus order): each rank continues the previous one's."""
    counts = WordCounts() if sync.rank == 0 else WordCounts.from_json(sync.receive(sync.rank - 1))
    counts.add(sentences, limit)
    last = sync.world - 1
    if sync.rank < last:
        sync.send(counts.to_json(), sync.rank + 1)
    return WordCounts.from_json(sync.broadcast(counts.to_json() if sync.rank == last else None, src=last))


def _shard_stats(shard: Shard, spool: Iterable[list[str]]) -> dict[str, Any]:
    if isinstance(shard, CorpusShard):
        s = shard.stats
        return {
            "rank": shard.rank,
            "bytes_read": shard.bytes_read,
            "corpus_bytes": shard.corpus_bytes,
            "lines": s.lines,
            "sentences": s.sentences,
            "tokens": s.tokens,
            "decode_errors": s.decode_errors,
            "chunked_lines": s.chunked_lines,
        }
    n = int(getattr(spool, "sentences", 0))
    return {"rank": shard.rank, "bytes_read": 0, "corpus_bytes": 0, "lines": n, "sentences": n, "tokens": 0}


def _check_shards(ranks: list[dict[str, Any]], source: str) -> None:
    """Refuse a run in which some rank got no text (an empty corpus is left to the vocabulary's message)."""
    if sum(r["sentences"] for r in ranks) == 0:
        return
    idle = [r["rank"] for r in ranks if r["sentences"] == 0]
    if idle:
        lines = sum(r["lines"] for r in ranks)
        raise CorpusError(
            f"{source}: {lines:,} line(s) for {len(ranks)} ranks: rank {idle[0]} got no text to train on"
            " (the ranks share the corpus out in whole lines); start fewer ranks (torchrun --nproc-per-node)"
            " or train on a larger corpus"
        )


def combined_stats(shard: Shard, sync: RowSync) -> CorpusStats | None:
    """The corpus statistics of the whole corpus, from every rank's shard (None for token lists)."""
    if not isinstance(shard, CorpusShard):
        return None
    total = {k: sum(int(r.get(k, 0)) for r in sync.ranks) for k in ("lines", "sentences", "tokens")}
    errors = sum(int(r.get("decode_errors", 0)) for r in sync.ranks)
    chunked = sum(int(r.get("chunked_lines", 0)) for r in sync.ranks)
    return CorpusStats(
        files=len(shard.paths), **total, decode_errors=errors, chunked_lines=chunked, paths=shard.stats.paths
    )


def finish(info: dict[str, Any], shard: Shard, sync: RowSync) -> None:
    """Add to a result's ``backend_info`` each rank's corpus bytes read in all (the vocabulary pass read them
    all; training reads the token spool, so the two agree unless a pass went back to the corpus)."""
    total = sync.gather(shard.bytes_read if isinstance(shard, CorpusShard) else 0)
    for entry, read in zip(info.get("ranks", []), total, strict=False):
        entry["bytes_read_counting"] = entry.pop("bytes_read", 0)
        entry["bytes_read_total"] = int(read)


def snapshot_state(sync: RowSync, rng_state: Mapping[str, Any]) -> dict[str, Any]:
    """What a snapshot of a data-parallel run keeps beside the weights: every rank's generator state (gathered
    here, so every rank calls it), the world size, the sync counters and torchrun's run id."""
    states = sync.gather(rng_state)
    return {
        "world_size": sync.world,
        "rng": states,
        "sync": sync.counters(),
        "run_id": os.environ.get("TORCHELASTIC_RUN_ID"),
    }
