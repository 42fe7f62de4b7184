"""A damaged classifier directory stops with one line naming the file, never a traceback or a huge allocation."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from embed.classify import load_classifier
from embed.errors import FormatError


def _config(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        meta = json.loads((d / "config.json").read_text())
        change(meta["config"])
        (d / "config.json").write_text(json.dumps(meta))

    return damage


CASES = [
    ("labels.json", lambda d: (d / "labels.json").write_text("{"), "labels.json: not valid JSON"),
    (
        "labels.json",
        lambda d: (d / "labels.json").write_text("[1, 2]"),
        "labels.json: expected a list of at least two distinct label names",
    ),
    (
        "labels.json",
        lambda d: (d / "labels.json").write_text('["a", "a"]'),
        "labels.json: expected a list of at least two distinct",
    ),
    ("vocab.txt", lambda d: (d / "vocab.txt").write_bytes(b"\xff\xfe"), "vocab.txt: not UTF-8 (byte 0)"),
    ("vocab.txt", lambda d: (d / "vocab.txt").write_text(""), "vocab.txt: damaged (0 lines"),
    (
        "vocab.txt",
        lambda d: (d / "vocab.txt").write_text("\n".join((d / "vocab.txt").read_text().split("\n")[1:])),
        "vocab.txt: damaged",
    ),
    ("config.json", _config(lambda c: c.update(filter_sizes="abc")), "config.json: bad classifier config"),
    (
        "model.safetensors",
        _config(lambda c: c.update(dim=10**9)),
        "weights do not fit the config, vocabulary and labels (embedder",
    ),
    (
        "model.safetensors",
        lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:100]),
        "model.safetensors: not a readable safetensors file",
    ),
]


@pytest.mark.parametrize("name, damage, message", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_damaged_file_is_named(
    classifier_dir: Path, tmp_path: Path, name: str, damage: Callable[[Path], None], message: str
) -> None:
    d = tmp_path / "clf"
    shutil.copytree(classifier_dir, d)
    load_classifier(d)  # the intact copy loads
    damage(d)
    with pytest.raises(FormatError) as info:
        load_classifier(d)
    assert message in str(info.value) and str(d / name) in str(info.value) and "\n" not in str(info.value)
