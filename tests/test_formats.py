"""Streaming vector-file readers (embed.formats) checked against gensim's load_word2vec_format."""

from __future__ import annotations

import doctest
import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

import embed.formats_text
from embed.errors import ConfigError, EmbedError, FormatError
from embed.formats import FORMATS, ReadReport, VectorFileReader, detect_format

N, DIM = 2000, 20


@pytest.fixture(scope="module")
def kv() -> KeyedVectors:
    rng = np.random.default_rng(7)
    out = KeyedVectors(DIM)
    out.add_vectors([f"w{i}" for i in range(N)], rng.standard_normal((N, DIM)).astype(np.float32))
    return out


def save(kv: KeyedVectors, path: Path, fmt: str) -> Path:
    kv.save_word2vec_format(str(path), binary=fmt == "word2vec-bin", write_header=fmt != "glove")
    return path


def gensim_load(path: Path, fmt: str, **kw: object) -> KeyedVectors:
    return KeyedVectors.load_word2vec_format(str(path), binary=fmt == "word2vec-bin", no_header=fmt == "glove", **kw)


def read(path: Path, **kw: object) -> tuple[list[str], np.ndarray, VectorFileReader]:
    words, parts = [], []
    with VectorFileReader(path, **kw) as reader:
        for w, rows in reader:
            assert rows.dtype == np.float32 and rows.flags.c_contiguous and rows.shape == (len(w), reader.dim)
            words += w
            parts.append(rows)
    return words, np.concatenate(parts), reader


def write_bin(path: Path, words: list[bytes], mat: np.ndarray, *, newline: bool, header: str | None = None) -> Path:
    """word2vec.c layout (newline after each vector) or gensim's (none)."""
    head = header if header is not None else f"{len(words)} {mat.shape[1]}\n"
    body = b"".join(
        w + b" " + row.astype("<f4").tobytes() + (b"\n" if newline else b"") for w, row in zip(words, mat, strict=False)
    )
    path.write_bytes(head.encode() + body)
    return path


def write_txt(path: Path, words: list[str], mat: np.ndarray, *, header: bool = True, end: str = "\n") -> Path:
    lines = [f"{w} {' '.join(str(v) for v in row)}{end}" for w, row in zip(words, mat, strict=False)]
    path.write_text((f"{len(words)} {mat.shape[1]}\n" if header else "") + "".join(lines), encoding="utf-8")
    return path


def fails(path: Path, *needles: str, **kw: object) -> str:
    """Read ``path`` whole; assert a one-line FormatError naming the file and holding each needle."""
    with pytest.raises(FormatError) as info:
        read(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_matches_gensim_bit_for_bit(kv: KeyedVectors, tmp_path: Path, fmt: str, suffix: str) -> None:
    path = save(kv, tmp_path / f"vectors{suffix}", fmt)
    ref = gensim_load(path, fmt)
    assert detect_format(path) == fmt
    words, mat, reader = read(path)
    assert words == ref.index_to_key and np.array_equal(mat, ref.vectors)
    assert (reader.format, reader.dim, reader.header_rows) == (fmt, DIM, None if fmt == "glove" else N)
    assert reader.report == ReadReport(str(path), fmt, DIM, reader.header_rows, rows=N)
    assert reader.report.messages() == [] and reader.total_bytes == os.path.getsize(path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_small_batches_and_tiny_chunks_give_the_same_rows(kv: KeyedVectors, tmp_path: Path, fmt: str) -> None:
    small = KeyedVectors(DIM)
    small.add_vectors(kv.index_to_key[:150], kv.vectors[:150])
    path = save(small, tmp_path / "v.gz", fmt)
    ref = gensim_load(path, fmt)
    for chunk in (1, 7, 1000):  # records and lines straddle every chunk boundary
        with VectorFileReader(path, batch_rows=32, chunk_bytes=chunk) as reader:
            batches = list(reader)
        sizes = [len(w) for w, _ in batches]
        assert sizes == [32, 32, 32, 32, 22]
        assert sum((w for w, _ in batches), []) == ref.index_to_key
        assert np.array_equal(np.concatenate([m for _, m in batches]), ref.vectors)


def test_word2vec_c_layout_with_newlines_and_leading_newline_words(tmp_path: Path) -> None:
    mat = np.arange(3 * 4, dtype=np.float32).reshape(3, 4)
    path = write_bin(tmp_path / "c.bin", [b"a", b"b", b"c"], mat, newline=True)
    for chunk in (3, 1 << 20):
        words, got, _ = read(path, chunk_bytes=chunk)
        assert words == ["a", "b", "c"] and np.array_equal(got, mat)
    # one record 4 bytes too long in the middle: the byte after its vector is no newline
    path.write_bytes(path.read_bytes().replace(b"b " + mat[1].tobytes(), b"b " + mat[1].tobytes() + b"\x00\x00\x80?"))
    fails(path, "row 2 (word 'b'): the byte after its vector is 0x00, not a newline", "misaligned")
    # gensim layout (no newlines) with a stray newline before a word: stripped, as gensim does
    path = tmp_path / "g.bin"
    path.write_bytes(b"2 4\na " + mat[0].tobytes() + b"\nb " + mat[1].tobytes())
    words, got, _ = read(path)
    ref = gensim_load(path, "word2vec-bin")
    assert words == ref.index_to_key == ["a", "b"] and np.array_equal(got, ref.vectors)


@pytest.mark.parametrize("fmt", FORMATS)
def test_limit_reads_the_first_rows_only(kv: KeyedVectors, tmp_path: Path, fmt: str) -> None:
    path = save(kv, tmp_path / "v", fmt)
    words, mat, reader = read(path, limit=50, batch_rows=16)
    ref = gensim_load(path, fmt, limit=50)
    assert words == ref.index_to_key and np.array_equal(mat, ref.vectors) and reader.report.rows == 50


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicates_keep_the_first_row_and_are_counted(tmp_path: Path, fmt: str) -> None:
    mat = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    words = ["a", "b", "a", "c", "b"]
    if fmt == "word2vec-bin":
        path = write_bin(tmp_path / "d.bin", [w.encode() for w in words], mat, newline=False)
    else:
        path = write_txt(tmp_path / "d.txt", words, mat, header=fmt == "word2vec-txt")
    got_words, got, reader = read(path, batch_rows=2)
    ref = gensim_load(path, fmt)  # gensim 4.4 leaves None in index_to_key for each dropped row
    assert got_words == [k for k in ref.index_to_key if k is not None] == ["a", "b", "c"]
    assert np.array_equal(got, np.stack([ref[w] for w in got_words])) and np.array_equal(got, mat[[0, 1, 3]])
    assert (reader.report.rows, reader.report.duplicates) == (3, 2)
    assert reader.report.messages() == ["2 duplicate words dropped (the first row of each kept)"]


@pytest.mark.parametrize("fmt", ["word2vec-bin", "word2vec-txt"])
def test_latin1_words_are_replaced_and_counted(tmp_path: Path, fmt: str) -> None:
    mat = np.ones((2, 3), dtype=np.float32)
    raw = ["café".encode("latin-1"), b"tea"]
    if fmt == "word2vec-bin":
        path = write_bin(tmp_path / "l.bin", raw, mat, newline=True)
    else:
        path = tmp_path / "l.txt"
        path.write_bytes(b"2 3\n" + b"".join(w + b" 1.0 1.0 1.0\n" for w in raw))
    assert detect_format(path) == fmt
    words, got, reader = read(path)
    ref = gensim_load(path, fmt, unicode_errors="replace")
    assert words == ref.index_to_key == ["caf\ufffd", "tea"] and np.array_equal(got, mat)
    assert reader.report.decode_errors == 1
    assert reader.report.messages() == ["1 word was not valid UTF-8 (bad bytes replaced by U+FFFD)"]


def test_text_whose_first_4096_bytes_cut_a_character_is_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    words = ["詞" * (k + 1) for k in range(400)]
    mat = rng.standard_normal((400, 4)).astype(np.float32)
    for pad in range(3):  # one of three paddings puts byte 4096 inside a 3-byte character
        path = write_txt(tmp_path / f"zh{pad}.txt", ["x" * (pad + 1), *words[1:]], mat)
        try:
            path.read_bytes()[:4096].decode("utf-8")
        except UnicodeDecodeError:
            break
    else:
        pytest.fail("no padding cut a character at byte 4096")
    assert detect_format(path) == "word2vec-txt"
    got_words, got, _ = read(path)
    ref = gensim_load(path, "word2vec-txt")
    assert got_words == ref.index_to_key and np.array_equal(got, ref.vectors)


def test_binary_whose_bytes_are_valid_utf8_is_binary(tmp_path: Path) -> None:
    path = write_bin(tmp_path / "zeros.bin", [b"a", b"b"], np.zeros((2, 8), dtype=np.float32), newline=True)
    path.read_bytes().decode("utf-8")  # 0.0 is four NUL bytes: valid UTF-8, not text
    assert detect_format(path) == "word2vec-bin"
    words, got, _ = read(path)
    assert words == ["a", "b"] and np.array_equal(got, np.zeros((2, 8)))


def test_fasttext_trailing_spaces_crlf_and_glove_words_with_spaces(tmp_path: Path) -> None:
    mat = np.array([[0.5, -1.25], [3.0, 4.0]], dtype=np.float32)
    vec = write_txt(tmp_path / "ft.vec", ["a", "b"], mat, end=" \r\n")
    assert detect_format(vec) == "word2vec-txt"
    words, got, _ = read(vec)
    assert words == gensim_load(vec, "word2vec-txt").index_to_key == ["a", "b"] and np.array_equal(got, mat)
    glove = tmp_path / "840B.txt"
    glove.write_text("the 0.5 -1.25\n. . . 3.0 4.0\n", encoding="utf-8")
    words, got, reader = read(glove)
    assert (reader.format, reader.dim, words) == ("glove", 2, ["the", ". . ."]) and np.array_equal(got, mat)


def test_progress_ends_at_the_size_on_disk(kv: KeyedVectors, tmp_path: Path) -> None:
    for suffix in ("", ".gz", ".bz2"):
        for fmt in ("word2vec-bin", "glove"):
            path = save(kv, tmp_path / f"p-{fmt}{suffix}", fmt)
            seen: list[int] = []
            read(path, progress=seen.append, chunk_bytes=4096)
            assert len(seen) > 2 and seen == sorted(seen) and seen[-1] == os.path.getsize(path)


# -- bad input ------------------------------------------------------------------------------


def test_truncated_binary_names_rows_and_the_limit_that_reads(kv: KeyedVectors, tmp_path: Path) -> None:
    path = save(kv, tmp_path / "t.bin", "word2vec-bin")
    start = len(f"{N} {DIM}\n") + sum(len(w) + 1 + 4 * DIM for w in kv.index_to_key[:1234])
    path.write_bytes(path.read_bytes()[: start + 10])  # 1234 whole records and a piece of the next
    fails(path, "truncated after 1234 of 2000 rows (header says 2000)", "download it again", "--limit 1234")
    words, _, _ = read(path, limit=1234)
    assert words == kv.index_to_key[:1234]


def test_truncated_or_cut_text(kv: KeyedVectors, tmp_path: Path) -> None:
    path = save(kv, tmp_path / "t.txt", "word2vec-txt")
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[:1501]) + b"\n")  # header + 1500 rows
    fails(path, "truncated after 1500 of 2000 rows", "--limit 1500")
    path.write_bytes(b"\n".join(lines[:1501])[:-12])  # cut inside line 1501's values
    fails(path, "line 1501: found", "values, expected 20")


@pytest.mark.parametrize("fmt", ["word2vec-bin", "word2vec-txt"])
def test_header_claiming_fewer_rows(kv: KeyedVectors, tmp_path: Path, fmt: str) -> None:
    path = save(kv, tmp_path / "f", fmt)
    path.write_bytes(path.read_bytes().replace(f"{N} {DIM}\n".encode(), f"1500 {DIM}\n".encode(), 1))
    fails(path, "more data follows the 1500 rows the header claims", "--limit 1500")
    words, _, _ = read(path, limit=1500)
    assert words == kv.index_to_key[:1500]


def test_text_rows_with_wrong_values(kv: KeyedVectors, tmp_path: Path) -> None:
    path = save(kv, tmp_path / "w.txt", "word2vec-txt")
    lines = path.read_bytes().split(b"\n")
    for change, needle in (
        (b" ".join(lines[6].split()[:-1]), "found 19 values, expected 20"),
        (lines[6] + b" 0.5", "found 21 values, expected 20"),
        (lines[6].replace(b" ", b" abc ", 1).rsplit(b" ", 1)[0], "value 'abc' is not a number"),
        (b"", "line 7 is blank"),
    ):
        path.write_bytes(b"\n".join(lines[:6] + [change] + lines[7:]))
        fails(path, "line 7", needle, batch_rows=4)


@pytest.mark.parametrize("newline", [True, False])
@pytest.mark.parametrize("header_dim", [DIM - 1, DIM + 1])
def test_binary_header_dim_that_misaligns_records(
    kv: KeyedVectors, tmp_path: Path, newline: bool, header_dim: int
) -> None:
    path = write_bin(
        tmp_path / "m.bin",
        [w.encode() for w in kv.index_to_key],
        kv.vectors,
        newline=newline,
        header=f"{N} {header_dim}\n",
    )
    fails(path, "row ", "misaligned", f"header dim {header_dim} does not match")


@pytest.mark.parametrize("fmt", FORMATS)
def test_nonfinite_values_are_refused_or_counted(tmp_path: Path, fmt: str) -> None:
    mat = np.ones((6, 3), dtype=np.float32)
    mat[4, 1], mat[5, 2] = np.nan, -np.inf
    words = [f"w{i}" for i in range(6)]
    if fmt == "word2vec-bin":
        path = write_bin(tmp_path / "n.bin", [w.encode() for w in words], mat, newline=True)
        where = "row 5: word 'w4'"
    else:
        path = write_txt(tmp_path / "n.txt", words, mat, header=fmt == "word2vec-txt")
        where = f"line {5 + (fmt == 'word2vec-txt')} (row 5): word 'w4'"
    fails(path, where, "NaN or inf", "allow_nonfinite=True", "--allow-nonfinite")
    got_words, got, reader = read(path, allow_nonfinite=True)
    assert got_words == words and np.array_equal(got, mat, equal_nan=True) and reader.report.nonfinite == 2
    assert reader.report.messages() == ["2 rows hold NaN or inf values (kept: allow_nonfinite)"]


@pytest.mark.parametrize("suffix,kind", [(".gz", "gzip"), (".bz2", "bzip2")])
@pytest.mark.parametrize("fmt", ["word2vec-bin", "word2vec-txt"])
def test_damaged_compressed_streams(kv: KeyedVectors, tmp_path: Path, fmt: str, suffix: str, kind: str) -> None:
    data = save(kv, tmp_path / f"ok{suffix}", fmt).read_bytes()
    mid = len(data) // 2
    bad = tmp_path / f"bad{suffix}"
    for damaged in (
        data[:mid] + bytes(b ^ 0xFF for b in data[mid : mid + 64]) + data[mid + 64 :],
        data[:mid],
        data[:-4],
    ):
        bad.write_bytes(damaged)
        fails(bad, f"damaged or truncated {kind} stream", "download it again")
    bad.write_bytes(b"3 2\na 1 2\n")  # not compressed at all
    fails(bad, f"damaged or truncated {kind} stream")


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"", "is empty"),
        (b"0 20\n", "holds no vectors (header says 0 rows)"),
        (b"5 20\n", "holds no vectors after its header (header says 5 rows)"),
        (b"5 0\n", "line 1: header dim 0"),
        (b"5 100001\n", "line 1: header dim 100001 exceeds the maximum 100000"),
        (b"1099511627777 20\n", "line 1: header row count 1099511627777 exceeds 2**40"),
        (b"hello world\nfoo bar\n", "accepted formats: word2vec-bin, word2vec-txt (fastText .vec), glove"),
        (
            gzip.compress(b"3 2\na 1 2\n", mtime=0),
            "starts like a .gz file but its name does not end in .gz; rename it to bad.txt.gz",
        ),
        (b"2 3\na 1 2 3\n b 1 2 3\n", "line 3: starts with whitespace"),
    ],
)
def test_bad_files_at_open(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    fails(path, needle)


def test_missing_file_and_forced_wrong_format(kv: KeyedVectors, tmp_path: Path) -> None:
    fails(tmp_path / "nope.bin", "no such file")
    glove = save(kv, tmp_path / "g.txt", "glove")
    w2v = save(kv, tmp_path / "w.txt", "word2vec-txt")
    fails(glove, "is not a word2vec header '<rows> <dim>'; pass format glove", format="word2vec-bin")
    fails(w2v, f"line 1 '{N} {DIM}' is a word2vec header, not a GloVe row", format="glove")
    words, _, _ = read(w2v, format="word2vec-txt")
    assert words == kv.index_to_key


def test_usage_errors_and_single_pass(kv: KeyedVectors, tmp_path: Path) -> None:
    path = save(kv, tmp_path / "v.bin", "word2vec-bin")
    with pytest.raises(ConfigError, match="not one of word2vec-bin, word2vec-txt, glove"):
        VectorFileReader(path, format="fasttext")
    with pytest.raises(ConfigError, match="limit=0"):
        VectorFileReader(path, limit=0)
    reader = VectorFileReader(path, batch_rows=500)
    assert len(next(iter(reader))[0]) == 500
    with pytest.raises(EmbedError, match="reads its file once"):
        next(iter(reader))
    reader.close()


def test_stopping_early_closes_the_file(kv: KeyedVectors, tmp_path: Path) -> None:
    for fmt in ("word2vec-bin", "word2vec-txt"):
        reader = VectorFileReader(save(kv, tmp_path / f"e-{fmt}.gz", fmt), batch_rows=100, chunk_bytes=1000)
        for words, _ in reader:
            assert words == kv.index_to_key[:100]
            break
        reader.close()  # waits for the read-ahead thread, then closes
        assert reader._src.raw.closed


def test_helper_docstring_examples() -> None:
    result = doctest.testmod(embed.formats_text)
    assert result.attempted >= 5 and result.failed == 0
