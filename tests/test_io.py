import json

import numpy as np
import pytest
from gensim.models import KeyedVectors

import embed
from embed.errors import FormatError, OutputError
from embed.io import atomic_dir, atomic_file, load_vectors_file, save_model_dir, save_vectors
from embed.vectors import Vectors
from tests.cli_helpers import MODEL_DIR_FILES


@pytest.fixture
def small_vectors():
    rng = np.random.default_rng(0)
    words = ["king", "queen", "man", "woman", "数据", "apple"]
    return Vectors.from_arrays(words, rng.normal(size=(6, 8)).astype(np.float32), counts=[60, 50, 40, 30, 20, 10])


@pytest.mark.parametrize("binary", [True, False])
def test_round_trip_through_gensim(tmp_path, small_vectors, binary):
    path = tmp_path / ("v.bin" if binary else "v.txt")
    save_vectors(small_vectors, path, binary=binary)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == small_vectors.words
    assert np.allclose(kv.vectors, small_vectors.matrix, atol=1e-6 if binary else 1e-5)
    again = embed.load(path)
    assert again.words == small_vectors.words
    assert np.allclose(again["数据"], small_vectors["数据"], atol=1e-5)


def test_model_dir_round_trip(tmp_path, small_vectors):
    out = save_model_dir(tmp_path / "m", small_vectors, {"params": {"dim": 8}})
    assert sorted(p.name for p in out.iterdir()) == MODEL_DIR_FILES
    meta = json.loads((out / "meta.json").read_text())
    assert meta["format"] == "embed-model" and meta["version"] == 2 and meta["params"] == {"dim": 8}
    loaded = embed.load(out)
    assert loaded.words == small_vectors.words
    assert loaded.count("king") == 60
    assert np.allclose(loaded.matrix, small_vectors.matrix)
    assert loaded.meta["params"] == {"dim": 8}
    # word2vec.c / gensim readers see the same file
    kv = KeyedVectors.load_word2vec_format(str(out / "vectors.bin"), binary=True)
    assert np.allclose(kv["queen"], small_vectors["queen"])


def test_glove_file_without_header(tmp_path):
    path = tmp_path / "glove.6B.3d.txt"
    path.write_text("the 0.1 0.2 0.3\ncat 0.4 0.5 0.6\n")
    v = embed.load(path)
    assert v.words == ["the", "cat"] and v.dim == 3
    assert np.allclose(v["cat"], [0.4, 0.5, 0.6])


def test_query_methods(small_vectors):
    v = small_vectors
    assert v["king"].shape == (8,)
    sims = v.most_similar("king", topn=3)
    kv = v.to_gensim()  # gensim answers the same queries on a copy
    assert [w for w, _ in sims] == [w for w, _ in kv.most_similar("king", topn=3)]
    dists = v.most_similar("king", topn=5, metric="euclidean")
    brute = sorted(((w, float(np.linalg.norm(v[w] - v["king"]))) for w in v.words if w != "king"), key=lambda t: t[1])
    assert [w for w, _ in dists] == [w for w, _ in brute]
    assert [d for _, d in dists] == pytest.approx([d for _, d in brute], rel=1e-4)
    assert v.similarity("man", "woman") == pytest.approx(float(kv.similarity("man", "woman")))
    assert (
        v.analogy("man", "king", "woman")[0][0]
        == kv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0]
    )
    cosmul = v.analogy("man", "king", "woman", topn=3, method="3cosmul")
    want = kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=3)
    assert [w for w, _ in cosmul] == [w for w, _ in want]
    assert [s for _, s in cosmul] == pytest.approx([s for _, s in want], rel=1e-5)
    assert v.most_similar(positive=[v["king"]], topn=2)[0][0] == "king"  # a raw vector is a query too, nothing excluded
    assert v.most_similar("king", topn=None).shape == (len(v),)
    assert v.n_similarity(["king", "man"], ["queen"]) == pytest.approx(
        float(kv.n_similarity(["king", "man"], ["queen"])), rel=1e-5
    )
    with pytest.raises(KeyError, match="'prince' is not in the vocabulary"):
        v["prince"]


def test_garbage_and_missing_files(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00\xff" * 300)
    with pytest.raises(FormatError, match="bad.bin: line 1 is neither a word2vec header"):
        load_vectors_file(bad)
    with pytest.raises(FormatError, match="no such file"):
        embed.load(tmp_path / "none.bin")
    (tmp_path / "dir").mkdir()
    with pytest.raises(FormatError, match="not a model directory"):
        embed.load(tmp_path / "dir")


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_replaces_only_on_success(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"] and target.read_text() == "old"
    with pytest.raises(OutputError, match=r"a.txt: could not be written \(no such file or directory; check the path\)"):
        with atomic_file(target):
            pass  # nothing written under the temporary name: the rename fails
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with atomic_file(target) as tmp:
        tmp.write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"] and target.read_text() == "new"


def test_existing_output_is_refused_without_overwrite(tmp_path, small_vectors):
    (tmp_path / "m").mkdir()
    with pytest.raises(OutputError, match="already exists; choose another --out or pass --overwrite"):
        save_model_dir(tmp_path / "m", small_vectors, {})
    save_model_dir(tmp_path / "m", small_vectors, {}, overwrite=True)
    assert (tmp_path / "m" / "vectors.bin").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_damaged_or_foreign_meta_is_refused(tmp_path, small_vectors):
    out = save_model_dir(tmp_path / "m", small_vectors, {})
    (out / "meta.json").write_text("{not json")
    with pytest.raises(FormatError, match=r"meta.json: not valid JSON .*the model is damaged, retrain or restore it"):
        embed.load(out)
    (out / "meta.json").write_text('{"format": "other", "version": 1}')
    with pytest.raises(FormatError, match=r"not an embed model \(format 'other', expected 'embed-model'\)"):
        embed.load(out)
    (out / "meta.json").write_text('{"format": "embed-model", "version": 99}')
    with pytest.raises(FormatError, match="version 99 is newer than this embed"):
        embed.load(out)
