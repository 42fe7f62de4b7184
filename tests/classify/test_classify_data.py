"""Readers and format detection, label order, splits, bad data files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from embed.classify.classifier import clip_tokens
from embed.classify.data import cv_folds, dev_split, fixed_split, read_dataset, sorted_labels
from embed.errors import FormatError


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.txt", "__label__pos good film\n__label__neg awful film\n"),
        ("a.tsv", "pos\tgood film\nneg\tawful film\n"),
        ("a.csv", 'id,review,label\n1,good film,pos\n2,"awful, film",neg\n'),
        (
            "a.jsonl",
            json.dumps({"text": "good film", "label": "pos"})
            + "\n"
            + json.dumps({"text": "awful film", "label": "neg"})
            + "\n",
        ),
        ("a.kim", "pos good film\nneg awful film\n"),
    ],
)
def test_every_format_is_detected_and_parsed(tmp_path: Path, name: str, content: str) -> None:
    data = read_dataset(_write(tmp_path / name, content))
    assert data.labels == ["pos", "neg"]
    assert data.texts[0] == "good film"
    assert data.texts[1] in ("awful film", "awful, film")


def test_kim_file_latin1_is_split_on_newline_only(tmp_path: Path) -> None:
    # Read as Latin-1, byte 0x85 is U+0085 (NEL), where str.splitlines() would cut.
    path = tmp_path / "rt.all"
    path.write_bytes(b"0 it's a mess \x85 truly .\n1 caf\xe9 charm .\n")
    data = read_dataset(path, encoding="latin-1")
    assert data.labels == ["0", "1"]
    assert data.texts == ["it's a mess \x85 truly .", "caf\xe9 charm ."]
    # MR itself is cp1252 (0x85 is an ellipsis there), passed as --encoding cp1252.
    assert read_dataset(path, encoding="cp1252").texts == ["it's a mess \u2026 truly .", "caf\xe9 charm ."]


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


@pytest.mark.parametrize(
    ("name", "content", "fmt", "message"),
    [
        (
            "m.txt",
            "__label__a good\n__label__a __label__b two labels\n",
            "auto",
            r"m.txt:2: 2 labels \(__label__a __label__b\); keep one __label__ per line: multi-label training is not "
            r"supported",
        ),
        (
            "m.tsv",
            "a\tgood\na,b\tboth\n",
            "auto",
            r"m.tsv:2: label 'a,b' looks like several labels; keep one label per example",
        ),
        ("n.tsv", "a\tgood\na\tb\tboth\n", "auto", r"n.tsv:2: 2 TABs; 'label<TAB>text' has one"),
        ("m.csv", 'text,label\ngood,a\nboth,"a|b"\n', "auto", r"m.csv: row 3: label 'a\|b' looks like several labels"),
        (
            "m.jsonl",
            '{"text": "good", "label": "a"}\n{"text": "both", "label": ["a", "b"]}\n',
            "auto",
            r'm.jsonl:2: label \["a", "b"\] is a list; keep one label per example',
        ),
        (
            "m.kim",
            "a good\n__label__a __label__b both\n",
            "kim",
            r"m.kim:2: label '__label__a' looks like fastText's; pass --format fasttext",
        ),
        (
            "f.csv",
            "text,label\ngood,a\nboth,__label__a\n",
            "auto",
            r"f.csv: row 3: label '__label__a' looks like fastText's",
        ),
    ],
)
def test_several_labels_on_one_line_are_refused(
    tmp_path: Path, name: str, content: str, fmt: str, message: str
) -> None:
    # keeping the first label (or the whole "a,b" as one class) would train on wrong labels silently
    with pytest.raises(FormatError, match=message) as err:
        read_dataset(_write(tmp_path / name, content), fmt)
    assert "\n" not in str(err.value)


def test_labels_with_spaces_are_one_label(tmp_path: Path) -> None:
    data = read_dataset(_write(tmp_path / "s.csv", "text,label\nawful,very negative\nfine,positive\n"))
    assert data.labels == ["very negative", "positive"]


def test_clip_tokens_refuses_or_truncates() -> None:
    lists = [["a", "b", "c"], ["d"], ["e", "f"]]
    assert clip_tokens(lists, 2, truncate=True, source="x") == ([["a", "b"], ["d"], ["e", "f"]], 1)
    assert lists[0] == ["a", "b", "c"]  # the input is not changed
    assert clip_tokens(lists, 3, truncate=False, source="x") == (lists, 0)
    with pytest.raises(
        FormatError,
        match=r"^x: text 1 has 3 tokens, more than the limit of 2; shorten it, pass --truncate "
        r"\(keeps the first 2 tokens\) or train with a larger --max-tokens$",
    ):
        clip_tokens(lists, 2, truncate=False, source="x")


LABELLED = Path(__file__).resolve().parents[2] / "corpora" / "labelled"
LABELLED_FILES = ["kjv_testament.test.txt", "kjv_testament.train.txt", "zh_novels.test.csv", "zh_novels.train.csv"]


def test_bundled_labelled_sets_regenerate_byte_for_byte(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(LABELLED / "make.py"), str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == LABELLED_FILES
    for name in LABELLED_FILES:
        assert (tmp_path / name).read_bytes() == (LABELLED / name).read_bytes(), (
            f"{name}: rerun python corpora/labelled/make.py"
        )


@pytest.mark.parametrize(
    ("stem", "ext", "columns", "per_label", "labels"),
    [
        ("kjv_testament", "txt", {}, (1000, 300), {"old", "new"}),
        (
            "zh_novels",
            "csv",
            {"text_column": "text", "label_column": "novel"},
            (300, 100),
            {"sanguo", "shuihu", "hongloumeng", "xiyouji"},
        ),
    ],
)
def test_bundled_labelled_sets_are_balanced_and_disjoint(
    stem: str, ext: str, columns: dict[str, str], per_label: tuple[int, int], labels: set[str]
) -> None:
    train, test = (read_dataset(LABELLED / f"{stem}.{split}.{ext}", **columns) for split in ("train", "test"))
    assert Counter(train.labels) == {lab: per_label[0] for lab in labels}
    assert Counter(test.labels) == {lab: per_label[1] for lab in labels}
    assert not set(train.texts) & set(test.texts) and len(set(train.texts)) == len(train)
    if ext == "csv":
        assert all(10 <= len(t) <= 100 for t in [*train.texts, *test.texts])


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
