"""Vocabulary prefix look-up (autocomplete), checked against a plain scan of the vocabulary."""

from __future__ import annotations

from pathlib import Path

from embed.prefix import PrefixIndex


def scan(words: list[str], prefix: str, limit: int) -> list[str]:
    """The obvious answer: vocabulary order is frequency order, so the first matches win."""
    return [w for w in words if w.casefold().startswith(prefix.casefold())][:limit]


def test_matches_a_plain_scan_on_a_real_vocabulary(kjv_model_dir: Path) -> None:
    from embed.io import load

    words = load(kjv_model_dir).words
    index = PrefixIndex(words)
    assert len(index) == len(words)
    for prefix in ("k", "ki", "kin", "king", "the", "a", "zz", "jeho", "x"):
        for limit in (1, 5, 10, 100):
            assert index.complete(prefix, limit) == scan(words, prefix, limit), (prefix, limit)


def test_case_folding_and_unicode() -> None:
    words = ["the", "Paris", "paris", "PARADE", "曹操", "曹丕", "曹", "straße"]
    index = PrefixIndex(words)
    assert index.complete("par", 10) == ["Paris", "paris", "PARADE"]
    assert index.complete("PAR", 2) == ["Paris", "paris"]
    assert index.complete("曹", 10) == ["曹操", "曹丕", "曹"]
    assert index.complete("strasse", 10) == ["straße"]  # casefold("ß") == "ss"
    assert index.complete("nothing", 10) == []
    assert index.complete("p", 0) == []
