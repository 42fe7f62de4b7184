"""A damaged snapshot field stops --resume with one line naming the checkpoint, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from embed.config import TrainConfig
from embed.errors import FormatError
from embed.train.checkpoint import Checkpointer, read_snapshot
from embed.vocab import Vocab


@pytest.fixture()
def ckpt(tmp_path: Path) -> Path:
    vocab = Vocab.build([["a", "b", "c", "a"], ["b", "c"]], min_count=1)
    config = TrainConfig(dim=4, backend="torch", epochs=2)
    rng = np.random.default_rng(1)
    w = rng.normal(size=(len(vocab), 4)).astype(np.float32)
    epochs = [{"epoch": 0, "loss": 1.0, "words": 6, "seconds": 0.1, "words_per_sec": 60.0}]
    Checkpointer(tmp_path / "ckpt", 1.0).save(config, vocab, 1, 0, 6, rng, epochs, w, w)
    return tmp_path / "ckpt"


def _state(ckpt: Path, change: Callable[[dict], None]) -> None:
    snap = ckpt / json.loads((ckpt / "latest.json").read_text())["snapshot"]
    state = json.loads((snap / "state.json").read_text())
    change(state)
    (snap / "state.json").write_text(json.dumps(state))


DAMAGE = {
    "position-not-a-number": lambda s: s["position"].update(epoch="x"),
    "position-negative": lambda s: s["position"].update(chunk=-3),
    "position-past-the-run": lambda s: s["position"].update(epoch=99),
    "corpus-not-a-dict": lambda s: s.update(corpus=[1, 2]),
    "epochs-wrong-keys": lambda s: s.update(epochs=[{"lost": 1}]),
    "rng-wrong-generator": lambda s: s.update(rng={"bit_generator": "MT19937", "state": 3}),
    "rng-missing": lambda s: s.pop("rng"),
    "config-bad-dim": lambda s: s["config"].update(dim=-1),
}


def test_intact_snapshot_reads(ckpt: Path) -> None:
    snap = read_snapshot(ckpt)
    assert snap.epoch == 1 and snap.processed == 6 and snap.w_in.shape == (3, 4) and snap.epochs[0]["loss"] == 1.0


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damaged_field_is_one_line(ckpt: Path, name: str) -> None:
    _state(ckpt, DAMAGE[name])
    with pytest.raises(FormatError) as info:
        read_snapshot(ckpt)
    message = str(info.value)
    assert (
        message.startswith(f"{ckpt}: damaged checkpoint (")
        and message.endswith("start the training again without --resume")
        and "\n" not in message
    )
