"""embed.store and memory-mapped model directories: open without reading, answers equal brute force."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

import embed
from embed.errors import FormatError, NotInVocabError
from embed.io import save_model_dir
from embed.store import hash_table
from embed.vectors import Vectors

WORDS = [f"w{i}" for i in range(20_000)] + ["曹操", "naïve", "King"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Vectors]:
    rng = np.random.default_rng(0)
    vecs = Vectors.from_arrays(
        WORDS, rng.standard_normal((len(WORDS), 50)).astype(np.float32), counts=list(range(len(WORDS), 0, -1))
    )
    out = tmp_path_factory.mktemp("store") / "m"
    save_model_dir(out, vecs, {"params": {}})
    return out, vecs


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_open_maps_and_reads_no_matrix(model: tuple[Path, Vectors]) -> None:
    out, _ = model
    before = _rss_kb()
    v = embed.load(out)
    assert isinstance(v.matrix, np.memmap) and not v.matrix.flags.writeable
    assert isinstance(v.norms, np.memmap)
    assert _rss_kb() - before < 2_000  # the 4 MB matrix is not read: under 2 MB of growth
    meta = json.loads((out / "meta.json").read_text())
    assert meta["version"] == 2 and meta["store"]["rows"] == len(WORDS) and meta["vectors_file"] == "vectors.bin"


def test_mapped_equals_in_memory(model: tuple[Path, Vectors]) -> None:
    out, vecs = model
    v = embed.load(out)
    assert len(v) == len(vecs) and v.dim == 50
    assert v.words == WORDS and v.word(20_000) == "曹操" and v.index("naïve") == 20_001
    np.testing.assert_array_equal(np.asarray(v.matrix), vecs.matrix)
    np.testing.assert_allclose(v.norms, np.linalg.norm(vecs.matrix, axis=1), rtol=1e-6)
    assert v.count("w0") == len(WORDS) and v.count("King") == 1
    for word in ("w0", "w19999", "曹操", "King"):
        assert word in v and v.key_to_index[word] == vecs.index(word)
        np.testing.assert_array_equal(v[word], vecs[word])
    for missing in ("king", "w20000", "", "曹"):
        assert missing not in v
        with pytest.raises(NotInVocabError, match="not in the vocabulary"):
            v.index(missing)


def test_queries_equal_brute_force_numpy(model: tuple[Path, Vectors]) -> None:
    out, vecs = model
    v = embed.load(out)
    m = vecs.matrix.astype(np.float64)
    unit = m / np.linalg.norm(m, axis=1, keepdims=True)
    for word in ("w5", "w777", "曹操"):
        row = vecs.index(word)
        cos = unit @ unit[row]
        cos[row] = -np.inf
        want = np.argsort(-cos)[:10]
        got = v.most_similar(word, topn=10)
        assert [w for w, _ in got] == [WORDS[i] for i in want]
        np.testing.assert_allclose([s for _, s in got], cos[want], rtol=1e-5, atol=1e-6)
        dist = np.linalg.norm(m - m[row], axis=1)
        dist[row] = np.inf
        want = np.argsort(dist)[:10]
        got = v.most_similar(word, topn=10, metric="euclidean")
        assert [w for w, _ in got] == [WORDS[i] for i in want]
        np.testing.assert_allclose([s for _, s in got], dist[want], rtol=1e-4)


def test_hash_table_finds_every_row_and_nothing_else() -> None:
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 64, size=40).astype(np.uint32)  # many collisions on purpose
    table = hash_table(hashes)
    assert table.shape == (128,) and sorted(table[table >= 0].tolist()) == list(range(40))
    mask = table.shape[0] - 1
    for row, h in enumerate(hashes.tolist()):  # probing forward from the hash reaches the row before an empty slot
        slot = h & mask
        while table[slot] != row:
            assert table[slot] >= 0
            slot = (slot + 1) & mask
    assert zlib.crc32(b"w0") & 0xFFFFFFFF == zlib.crc32(b"w0")


def test_meta_cannot_point_outside_the_directory(tmp_path: Path, model: tuple[Path, Vectors]) -> None:
    src, vecs = model
    out = tmp_path / "m"
    save_model_dir(out, vecs, {"params": {}})
    meta = json.loads((out / "meta.json").read_text())
    for bad, message in (
        ("../../../../etc/passwd", "must be a file name inside the model directory"),
        ("/dev/zero", "must be a file name inside"),
    ):
        meta["store"]["files"] = ["vectors.npy", bad]
        (out / "meta.json").write_text(json.dumps(meta))
        with pytest.raises(FormatError, match=message):
            embed.load(out)
    meta["store"]["files"] = ["vectors.npy"]
    meta["store"]["rows"] = "many"
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match="'store' must hold positive integers 'rows' and 'dim'"):
        embed.load(out)
    # A version-1 directory naming a FIFO as its vectors file is refused, not read (which would hang).
    import os

    old = tmp_path / "v1"
    old.mkdir()
    os.mkfifo(old / "fifo")
    (old / "meta.json").write_text(json.dumps({"format": "embed-model", "version": 1, "vectors_file": "fifo"}))
    with pytest.raises(FormatError, match="fifo: not a regular file"):
        embed.load(old)


def test_store_shape_mismatch_is_refused(tmp_path: Path, model: tuple[Path, Vectors]) -> None:
    _, vecs = model
    out = tmp_path / "m"
    save_model_dir(out, vecs, {"params": {}})
    meta = json.loads((out / "meta.json").read_text())
    meta["store"]["rows"] += 1
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(
        FormatError,
        match=r"vectors.npy: holds float32 \(20003, 50\), expected float32 \(20004, 50\); re-import or retrain it",
    ):
        embed.load(out)


def test_version_1_directories_still_load(tmp_path: Path, model: tuple[Path, Vectors]) -> None:
    _, vecs = model
    out = tmp_path / "old"
    save_model_dir(out, vecs, {"params": {}})
    for p in out.iterdir():
        if p.suffix in (".npy", ".utf8"):
            p.unlink()
    meta = json.loads((out / "meta.json").read_text())
    del meta["store"]
    meta["version"] = 1
    (out / "meta.json").write_text(json.dumps(meta))
    v = embed.load(out)
    assert v.words == WORDS and v.count("w1") == len(WORDS) - 1
    np.testing.assert_array_equal(v.matrix, vecs.matrix)
