"""Readers and format detection, label order, splits, bad data files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embed.classify.data import cv_folds, dev_split, fixed_split, read_dataset, sorted_labels
from embed.errors import FormatError


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.txt", "__label__pos good film\n__label__neg __label__bad awful film\n"),
        ("a.tsv", "pos\tgood film\nneg\tawful film\n"),
        ("a.csv", "id,review,label\n1,good film,pos\n2,\"awful, film\",neg\n"),
        ("a.jsonl", json.dumps({"text": "good film", "label": "pos"}) + "\n" + json.dumps({"text": "awful film", "label": "neg"}) + "\n"),
        ("a.kim", "pos good film\nneg awful film\n"),
    ],
)
def test_every_format_is_detected_and_parsed(tmp_path: Path, name: str, content: str) -> None:
    data = read_dataset(_write(tmp_path / name, content))
    assert data.labels == ["pos", "neg"]
    assert data.texts[0] == "good film"
    assert data.texts[1] in ("awful film", "awful, film")


def test_kim_file_latin1_is_split_on_newline_only(tmp_path: Path) -> None:
    # MR is cp1252 with byte 0x85 inside sentences: str.splitlines() would cut there.
    path = tmp_path / "rt.all"
    path.write_bytes(b"0 it's a mess \x85 truly .\n1 caf\xe9 charm .\n")
    data = read_dataset(path)
    assert data.labels == ["0", "1"]
    assert data.texts == ["it's a mess \x85 truly .", "caf\xe9 charm ."]


def test_csv_columns_can_be_named_and_multiline_fields_survive(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", 'y,body\n1,"line one\nline two"\n0,plain\n')
    data = read_dataset(path, text_column="body", label_column="y")
    assert data.texts == ["line one\nline two", "plain"]
    assert data.labels == ["1", "0"]
    with pytest.raises(FormatError, match="no column 'text'.*--text-column"):
        read_dataset(path, text_column="text", label_column="y")


def test_chinese_csv_like_chnsenticorp(tmp_path: Path) -> None:
    path = _write(tmp_path / "zh.csv", 'label,review\n1,"房间很大,早餐不错"\n0,服务太差\n')
    data = read_dataset(path)
    assert data.texts == ["房间很大,早餐不错", "服务太差"] and data.labels == ["1", "0"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("e.txt", "\n\n", "holds no examples"),
        ("f.txt", "__label__pos good\njust text without label\n", r"f.txt:2: no __label__ prefix"),
        ("t.tsv", "pos\tgood\nno tab here\n", r"t.tsv:2: no TAB"),
        ("j.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n', "example 2 has no label"),
        ("c.csv", "text,label\nfine,a\nmissing,\n", "example 2 has no label"),
        ("h.csv", "text,label\n", "holds no examples"),
        ("b.jsonl", '{"text": "a", "label": "x"}\nnot json\n', r"b.jsonl:2: not valid JSON"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, name: str, content: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read_dataset(_write(tmp_path / name, content))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such file"):
        read_dataset(tmp_path / "nope.txt")


def test_labels_sort_numerically_when_integers() -> None:
    assert sorted_labels(["10", "2", "1", "2"]) == ["1", "2", "10"]
    assert sorted_labels(["pos", "neg"]) == ["neg", "pos"]


def test_splits_are_seeded_partitions() -> None:
    tr, dv = dev_split(100, 0.1, seed=3)
    assert len(dv) == 10 and sorted([*tr, *dv]) == list(range(100))
    assert (dev_split(100, 0.1, seed=3)[1] == dv).all()
    a, b, c = fixed_split(50, (0.8, 0.1, 0.1), seed=1)
    assert (len(a), len(b), len(c)) == (40, 5, 5) and sorted([*a, *b, *c]) == list(range(50))
    labels = ["x"] * 20 + ["y"] * 10
    folds = cv_folds(labels, 5, seed=1)
    assert len(folds) == 5
    assert sorted(i for _, te in folds for i in te) == list(range(30))
    assert all(sum(labels[i] == "y" for i in te) == 2 for _, te in folds)  # stratified
