"""Resumable training state for the torch backend: write every N seconds, resume after a crash.

A checkpoint directory holds one complete snapshot at a time::

    CKPT/latest.json          -> {"snapshot": "snap-000012"}   (replaced atomically)
    CKPT/snap-000012/state.json  config, corpus fingerprint, position, RNG state, epochs so far
    CKPT/snap-000012/w_in.npy    input vectors  (float32, allow_pickle=False)
    CKPT/snap-000012/w_out.npy   output vectors
    CKPT/snap-000012/sync_step_in.npy, sync_step_out.npy   --sync-mode momentum only: the block steps

A snapshot is written under a temporary name and renamed into place (:func:`embed.io.atomic_dir`),
then ``latest.json`` is replaced; the previous snapshot is removed only after that. A ``kill -9`` at any moment
leaves the last complete snapshot readable. No pickle: JSON and ``.npy``.

Snapshots are taken between chunks (200k tokens, see ``embed.config.CHUNK_TOKENS``). The
position is (epoch, chunks done in that epoch, tokens processed for the learning-rate
schedule) and the state of the one ``numpy.random.Generator`` that draws windows,
subsampling and negatives; resuming skips the finished chunks without drawing, so on the
same device and thread count a resumed run gives the same vectors as an uninterrupted one.

A data-parallel run (:mod:`embed.train.distributed`) snapshots right after a sync, written by
rank 0; its ``state.json`` adds ``distributed``: the world size, every rank's generator state,
the sync settings and counters and torchrun's run id, and its position counts rounds of chunks.
Such a snapshot resumes only with the same number of ranks; :func:`restart_snapshot` is the
rule by which workers restarted by torchrun pick it up.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embed.config import TrainConfig
from embed.errors import ConfigError, FormatError
from embed.io import atomic_dir, atomic_write_text, check_versioned
from embed.train.base import EpochStats
from embed.vocab import Vocab

# --sync-mode momentum's block steps of w_in and w_out, one NAME.npy each beside the weights
SYNC_STEPS = ("sync_step_in", "sync_step_out")

FORMAT = "embed-checkpoint"
VERSION = 1
EVERY = 600.0  # seconds between snapshots when resuming without an interval of its own


def vocab_fingerprint(vocab: Vocab) -> dict[str, Any]:
    """What must match for a checkpoint to continue on a corpus: token count, vocabulary and its hash."""
    digest = hashlib.sha256("\n".join(vocab.words).encode("utf-8")).hexdigest()
    return {"tokens": int(vocab.total_tokens), "vocab_size": len(vocab), "vocab_sha256": digest}


@dataclass
class Snapshot:
    """A loaded checkpoint: where training stood and the weights at that point."""

    path: Path
    config: TrainConfig
    corpus: dict[str, Any]
    epoch: int
    chunk: int
    processed: int
    rng_state: dict[str, Any]
    epochs: list[dict[str, Any]]
    out: str | None
    w_in: np.ndarray
    w_out: np.ndarray
    distributed: dict[str, Any] | None = None
    sync_steps: tuple[np.ndarray, np.ndarray] | None = None  # --sync-mode momentum's block steps (w_in, w_out)

    @property
    def world_size(self) -> int:
        """The number of ranks that trained it (1: a single process)."""
        return 1 if self.distributed is None else int(self.distributed["world_size"])

    def rank_rng_state(self, rank: int) -> dict[str, Any]:
        """Rank ``rank``'s generator state (a single-process snapshot has one, rank 0's)."""
        if self.distributed is None:
            return self.rng_state
        state: dict[str, Any] = self.distributed["rng"][rank]
        return state

    def check_vocab(self, vocab: Vocab, source: str) -> None:
        """Raises ConfigError when the corpus read now is not the one the checkpoint was trained on."""
        now = vocab_fingerprint(vocab)
        if now != self.corpus:
            raise ConfigError(
                f"{source}: not the corpus this checkpoint was trained on ({now['tokens']:,} tokens, "
                f"{now['vocab_size']:,} words now; {self.corpus['tokens']:,} tokens, "
                f"{self.corpus['vocab_size']:,} words in {self.path}); resume with the same corpus and tokenizer"
            )


def read_snapshot(ckpt: str | os.PathLike[str]) -> Snapshot:
    """Load the latest complete snapshot of checkpoint directory ``ckpt``.

    Raises:
        FormatError: not a checkpoint directory, a damaged one, or one of a newer embed.
    """
    ckpt = Path(ckpt)
    latest = ckpt / "latest.json"
    if not latest.is_file():
        raise FormatError(
            f"{ckpt}: not a checkpoint directory (no latest.json); pass the directory written by --checkpoint-every"
        )
    try:
        snap = ckpt / json.loads(latest.read_text(encoding="utf-8"))["snapshot"]
        state_path = snap / "state.json"
        state = check_versioned(
            json.loads(state_path.read_text(encoding="utf-8")), state_path, FORMAT, VERSION, "checkpoint"
        )
        w_in = np.load(snap / "w_in.npy", allow_pickle=False)
        w_out = np.load(snap / "w_out.npy", allow_pickle=False)
        pos = state["position"]
        config = TrainConfig(**state["config"])
        epoch, chunk, processed = int(pos["epoch"]), int(pos["chunk"]), int(pos["processed"])
        if min(epoch, chunk, processed) < 0 or epoch > config.epochs:
            raise ValueError(f"position {pos} is outside the run's {config.epochs} epochs")
        vocab_size = int(state["corpus"]["vocab_size"])
        epochs = [dataclasses.asdict(EpochStats(**e)) for e in state["epochs"]]
        np.random.default_rng().bit_generator.state = state["rng"]  # the generator accepts it, or raises
        distributed = _check_distributed(state.get("distributed"))
        steps = None
        if distributed is not None and distributed["sync"]["mode"] == "momentum":
            steps = tuple(np.load(snap / f"{n}.npy", allow_pickle=False) for n in SYNC_STEPS)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ConfigError) as exc:
        raise FormatError(f"{ckpt}: damaged checkpoint ({exc}); start the training again without --resume") from None
    in_rows = vocab_size + (config.bucket if config.subwords else 0)  # subwords: word rows, then n-gram rows
    steps_fit = steps is None or (steps[0].shape == w_in.shape and steps[1].shape == w_out.shape)
    if w_out.shape != (vocab_size, config.dim) or w_in.shape != (in_rows, config.dim) or not steps_fit:
        raise FormatError(
            f"{ckpt}: damaged checkpoint (weights {w_in.shape}/{w_out.shape} do not fit the vocabulary and dim);"
            " start the training again without --resume"
        )
    return Snapshot(
        path=ckpt,
        config=config,
        corpus=state["corpus"],
        epoch=epoch,
        chunk=chunk,
        processed=processed,
        rng_state=state["rng"],
        epochs=epochs,
        out=state.get("out"),
        w_in=w_in,
        w_out=w_out,
        distributed=distributed,
        sync_steps=None if steps is None else (steps[0], steps[1]),
    )


def _check_distributed(ranks: Any) -> dict[str, Any] | None:
    """A snapshot's ``distributed`` entry, checked (every generator state accepted); raises ValueError/KeyError."""
    if ranks is None:
        return None
    world = int(ranks["world_size"])
    if world < 1 or len(ranks["rng"]) != world:
        raise ValueError(f"{len(ranks['rng'])} generator states for {world} ranks")
    for rng in ranks["rng"]:
        np.random.default_rng().bit_generator.state = rng
    sync = ranks["sync"]
    counters = {"every": int(sync["every"]), "mode": str(sync["mode"])}
    counters |= {"syncs": int(sync["syncs"]), "rows_synced": int(sync["rows_synced"])}
    return {"world_size": world, "rng": list(ranks["rng"]), "sync": counters, "run_id": ranks.get("run_id")}


def restart_snapshot(directory: Path) -> Snapshot | None:
    """The snapshot that workers restarted by torchrun continue from, or None to start afresh.

    The rule: torchrun has restarted the workers (``TORCHELASTIC_RESTART_COUNT`` > 0) and
    ``directory`` holds a snapshot that this torchrun job wrote (its ``TORCHELASTIC_RUN_ID``),
    so a snapshot left by another job is never picked up unasked.

    Raises:
        FormatError: the snapshot there is damaged.
    """
    try:
        restarts = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        restarts = 0
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    if restarts < 1 or not run_id or not (directory / "latest.json").is_file():
        return None
    snapshot = read_snapshot(directory)
    if snapshot.distributed is None or snapshot.distributed.get("run_id") != run_id:
        return None
    return snapshot


@dataclass
class Checkpointer:
    """Writes snapshots into ``directory`` at most every ``every`` seconds (checked between chunks)."""

    directory: Path
    every: float
    out: str | None = None
    _last: float = field(default_factory=time.monotonic)
    _count: int = 0
    written: int = 0

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every

    def save(
        self,
        config: TrainConfig,
        vocab: Vocab,
        epoch: int,
        chunk: int,
        processed: int,
        rng: np.random.Generator,
        epochs: list[dict[str, Any]],
        w_in: np.ndarray,
        w_out: np.ndarray,
        distributed: dict[str, Any] | None = None,
        arrays: dict[str, np.ndarray] | None = None,
    ) -> Path:
        """Write one complete snapshot, then point ``latest.json`` at it and drop the previous one.

        ``distributed``: what a data-parallel run needs besides (:func:`embed.train.distributed.snapshot_state`);
        ``arrays``: more float32 arrays, each written as ``NAME.npy`` (the sync's block steps).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        previous = self._current()
        self._count += 1
        name = f"snap-{int(time.time() * 1000):013d}-{self._count:06d}"
        with atomic_dir(self.directory / name) as tmp:
            np.save(tmp / "w_in.npy", np.ascontiguousarray(w_in, dtype=np.float32), allow_pickle=False)
            np.save(tmp / "w_out.npy", np.ascontiguousarray(w_out, dtype=np.float32), allow_pickle=False)
            for array, a in (arrays or {}).items():
                np.save(tmp / f"{array}.npy", np.ascontiguousarray(a, dtype=np.float32), allow_pickle=False)
            state = {
                "format": FORMAT,
                "version": VERSION,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "config": config.to_dict() | {"alpha": config.alpha},
                "corpus": vocab_fingerprint(vocab),
                "position": {"epoch": epoch, "chunk": chunk, "processed": processed},
                "rng": rng.bit_generator.state,
                "epochs": epochs,
                "out": self.out,
            }
            if distributed is not None:
                state["distributed"] = distributed
            (tmp / "state.json").write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
        atomic_write_text(self.directory / "latest.json", json.dumps({"snapshot": name}) + "\n")
        if previous is not None and previous != name:
            shutil.rmtree(self.directory / previous, ignore_errors=True)
        self._last = time.monotonic()
        self.written += 1
        return self.directory / name

    def _current(self) -> str | None:
        try:
            return str(json.loads((self.directory / "latest.json").read_text(encoding="utf-8"))["snapshot"])
        except (OSError, ValueError, KeyError):
            return None

    @classmethod
    def for_model(
        cls, out: Path, every: float | None = None, directory: Path | None = None, resume: Snapshot | None = None
    ) -> Checkpointer | None:
        """The checkpointer of a run that writes model directory ``out``; None when it takes no snapshots.

        A run takes snapshots when given an interval ``every`` or when it resumes (then every
        :data:`EVERY` seconds unless ``every`` says otherwise). They go to ``directory``, else to
        the directory resumed from, else beside ``out`` as ``<out>.checkpoint``.
        """
        if every is None and resume is None:
            return None
        directory = directory or (resume.path if resume is not None else out.with_name(out.name + ".checkpoint"))
        return cls(directory, every if every is not None else EVERY, out=str(out.absolute()))

    def remove(self) -> None:
        """Delete the checkpoint directory (after the finished model has been written)."""
        shutil.rmtree(self.directory, ignore_errors=True)
