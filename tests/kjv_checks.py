"""The seeded KJV quality check shared by every training path (tolerant thresholds, like gensim's model_sanity)."""

from __future__ import annotations

from typing import Any


def assert_kjv_neighbours_make_sense(v: Any) -> None:
    assert "christ" in [w for w, _ in v.most_similar("jesus", topn=5)]
    livestock = {"oxen", "flock", "flocks", "goats", "lambs", "cattle", "rams", "kine", "asses", "herds", "camels"}
    assert len(livestock & {w for w, _ in v.most_similar("sheep", topn=10)}) >= 2
    drinks = {"drink", "milk", "oil", "honey", "bread", "cup", "vine", "corn", "strong"}
    assert len(drinks & {w for w, _ in v.most_similar("wine", topn=10)}) >= 2
    # related pairs beat unrelated ones
    assert v.similarity("god", "lord") > v.similarity("god", "bread") + 0.1
