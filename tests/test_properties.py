"""Property-based tests (hypothesis) for every reader: a correct parse or one clear error, never a traceback.

Budget: each test runs a fixed, derandomized set of examples (``derandomize=True``), so CI sees the
same cases every run; the module takes ~20-40 s on 2 cores. "Clear error" means an
``embed.EmbedError`` whose message names the file; "nothing written" means the output path of an
import does not exist afterwards and its parent holds no temporary directory.
"""

from __future__ import annotations

import gzip
import string
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embed.corpus import Corpus
from embed.errors import EmbedError
from embed.formats import VectorFileReader
from embed.importer import import_vectors

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_word = st.text(alphabet=string.ascii_letters + "éü宝玉曹操", min_size=1, max_size=8)
_matrix = st.integers(1, 6).flatmap(
    lambda d: st.lists(st.lists(st.floats(-1e3, 1e3, width=32), min_size=d, max_size=d), min_size=1, max_size=12)
)


def _read_all(path: Path) -> tuple[list[str], np.ndarray]:
    words, rows = [], []
    with VectorFileReader(path) as reader:
        for batch_words, batch in reader:
            words += batch_words
            rows.append(batch)
    return words, np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)


def _write_text(path: Path, words: list[str], m: np.ndarray, header: bool = True) -> bytes:
    lines = [f"{len(words)} {m.shape[1]}"] if header else []
    lines += [w + " " + " ".join(repr(float(x)) for x in row) for w, row in zip(words, m, strict=False)]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(data)
    return data


@SETTINGS
@given(words=st.lists(_word, min_size=1, max_size=12, unique=True), data=st.data())
def test_word2vec_text_and_glove_round_trip(tmp_path: Path, words: list[str], data: st.DataObject) -> None:
    m = np.asarray(
        data.draw(
            st.lists(
                st.lists(st.floats(-1e3, 1e3, width=32), min_size=3, max_size=3),
                min_size=len(words),
                max_size=len(words),
            )
        ),
        dtype=np.float32,
    )
    for header, name in ((True, "v.txt"), (False, "glove.txt")):
        path = tmp_path / name
        _write_text(path, words, m, header)
        got_words, got = _read_all(path)
        assert got_words == words and np.array_equal(got, m)


@SETTINGS
@given(words=st.lists(_word, min_size=1, max_size=10, unique=True), data=st.data())
def test_word2vec_binary_round_trip_and_every_truncation_is_named(
    tmp_path: Path, words: list[str], data: st.DataObject
) -> None:
    from gensim.models import KeyedVectors

    dim = data.draw(st.integers(1, 5))
    m = np.asarray(
        data.draw(
            st.lists(
                st.lists(st.floats(-1e3, 1e3, width=32), min_size=dim, max_size=dim),
                min_size=len(words),
                max_size=len(words),
            )
        ),
        dtype=np.float32,
    )
    kv = KeyedVectors(dim)
    kv.add_vectors(words, m)
    path = tmp_path / "v.bin"
    kv.save_word2vec_format(str(path), binary=True)
    got_words, got = _read_all(path)
    assert got_words == words and np.array_equal(got, m)
    blob = path.read_bytes()
    cut = data.draw(st.integers(1, len(blob) - 1))
    short = tmp_path / "short.bin"
    short.write_bytes(blob[:cut])
    try:
        got_words, got = _read_all(short)
    except EmbedError as exc:
        assert str(short) in str(exc) and "\n" not in str(exc)
    else:  # a cut that only removed a final newline can still be a complete file
        assert got_words == words and np.array_equal(got, m)


@SETTINGS
@given(blob=st.binary(max_size=300), gz=st.booleans())
def test_arbitrary_bytes_import_cleanly_or_fail_with_one_line(tmp_path: Path, blob: bytes, gz: bool) -> None:
    src = tmp_path / ("junk.vec.gz" if gz else "junk.vec")
    src.write_bytes(gzip.compress(blob) if gz else blob)
    out = tmp_path / "out"
    try:
        import_vectors(src, out, overwrite=True)
    except EmbedError as exc:
        assert str(src) in str(exc) and "\n" not in str(exc)
        assert not out.exists()
    else:
        from embed.io import load

        assert len(load(out)) >= 1
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


@SETTINGS
@given(words=st.lists(_word, min_size=2, max_size=6, unique=True), data=st.data())
def test_damaged_text_vectors_are_named(tmp_path: Path, words: list[str], data: st.DataObject) -> None:
    m = np.ones((len(words), 3), dtype=np.float32)
    path = tmp_path / "v.txt"
    blob = bytearray(_write_text(path, words, m))
    at = data.draw(st.integers(0, len(blob) - 1))
    blob[at] = data.draw(st.sampled_from(list(b"x 9\n\t-.") + [0xFF]))
    path.write_bytes(bytes(blob))
    try:
        got_words, got = _read_all(path)
    except EmbedError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        assert len(got_words) == got.shape[0] and got.dtype == np.float32


@SETTINGS
@given(blob=st.binary(max_size=400))
def test_any_corpus_bytes_give_token_lists_or_one_error(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(blob)
    try:
        sentences = list(Corpus(path))
    except EmbedError as exc:
        assert str(path) in str(exc)
        return
    assert all(s and all(isinstance(t, str) and t and not any(ch.isspace() for ch in t) for t in s) for s in sentences)


_label = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=5)
_text = st.text(alphabet=string.ascii_lowercase + " 宝玉,;|\t", min_size=0, max_size=30)


@SETTINGS
@given(
    rows=st.lists(st.tuples(_label, _text), min_size=1, max_size=8), fmt=st.sampled_from(["fasttext", "tsv", "jsonl"])
)
def test_classifier_files_parse_to_what_was_written_or_fail_with_the_line(
    tmp_path: Path, rows: list[tuple[str, str]], fmt: str
) -> None:
    import json

    from embed.classify.data import read_dataset

    path = tmp_path / f"d.{ {'fasttext': 'txt', 'tsv': 'tsv', 'jsonl': 'jsonl'}[fmt] }"
    if fmt == "fasttext":
        path.write_text("".join(f"__label__{label} {text}\n" for label, text in rows), encoding="utf-8")
    elif fmt == "tsv":
        path.write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    else:
        path.write_text(
            "".join(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n" for label, text in rows),
            encoding="utf-8",
        )
    try:
        ds = read_dataset(path, fmt=fmt)
    except EmbedError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    assert ds.labels == [label for label, _ in rows]  # every line kept, each with its own label
    assert [t.split() for t in ds.texts] == [text.split() for _, text in rows]
