"""gensim's KeyedVectors API on embed.Vectors: every member answers as gensim 4.4 does on the same arrays.

gensim is the oracle: each test builds a ``KeyedVectors`` from the same words and matrix
and compares; no expected numbers are written down. Every test runs on in-memory vectors
and on a model directory written by ``Vectors.save`` and memory-mapped by ``embed.load``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

import embed
from embed.errors import NotInVocabError
from embed.vectors import Vectors

DIM = 20


def _named_words() -> list[str]:
    """Words of the first WordSim-353 pairs and analogy lines (so gensim's evaluations find some), then our own."""
    words: list[str] = ["king", "queen", "man", "woman", "prince"]
    with open(datapath("wordsim353.tsv"), encoding="utf-8") as fh:
        for line in [ln for ln in fh if not ln.startswith("#")][:60]:
            words += line.split("\t")[:2]
    with open(datapath("questions-words.txt"), encoding="utf-8") as fh:
        for line in [ln for ln in fh if not ln.startswith(":")][:40]:
            words += [w.lower() for w in line.split()]
    return list(dict.fromkeys(words))


@pytest.fixture(scope="module")
def arrays() -> tuple[list[str], np.ndarray, np.ndarray]:
    named = _named_words()
    words = named + [f"w{i}" for i in range(300 - len(named))]
    matrix = np.random.default_rng(7).normal(size=(len(words), DIM)).astype(np.float32)
    counts = np.arange(len(words), 0, -1, dtype=np.int64) * 10  # frequency order, as trained models keep it
    return words, matrix, counts


@pytest.fixture(scope="module")
def kv(arrays: tuple[list[str], np.ndarray, np.ndarray]) -> KeyedVectors:
    """The oracle, built with gensim's own API (not ``to_gensim``)."""
    words, matrix, counts = arrays
    out = KeyedVectors(DIM)
    out.add_vectors(words, matrix.copy())
    for w, c in zip(words, counts.tolist(), strict=False):
        out.set_vecattr(w, "count", c)
    return out


@pytest.fixture(scope="module")
def model_dir(arrays: tuple[list[str], np.ndarray, np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    words, matrix, counts = arrays
    return Path(Vectors.from_arrays(words, matrix, counts=counts).save(tmp_path_factory.mktemp("compat") / "model"))


@pytest.fixture(scope="module", params=["memory", "mapped"])
def v(request: pytest.FixtureRequest, arrays: tuple[list[str], np.ndarray, np.ndarray], model_dir: Path) -> Vectors:
    words, matrix, counts = arrays
    if request.param == "memory":
        return Vectors.from_arrays(words, matrix, counts=counts)
    loaded = embed.load(model_dir)
    assert isinstance(loaded.matrix, np.memmap)
    return loaded


def same(got: Any, want: Any, atol: float = 1e-5) -> None:
    """Equal structure, equal words and ints, floats and arrays within ``atol``."""
    if isinstance(want, (list, tuple)) and not isinstance(want, str):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), (got, want)
        for g, w in zip(got, want, strict=False):
            same(g, w, atol)
    elif isinstance(want, np.ndarray):
        assert np.asarray(got).shape == want.shape
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want.astype(np.float64), atol=atol, rtol=0)
    elif isinstance(want, (float, np.floating)):
        assert float(got) == pytest.approx(float(want), abs=atol)
    else:
        assert got == want


def test_vectors_and_lookups(v: Vectors, kv: KeyedVectors) -> None:
    same(v["king"], kv["king"])
    assert v["king"].ndim == 1
    same(v[["king", "queen", "w3"]], kv[["king", "queen", "w3"]])
    same(v[("king", "man")], kv[("king", "man")])
    same(v[5], kv[5])
    same(v.get_vector("queen", norm=True), kv.get_vector("queen", norm=True))
    assert v.index_to_key == kv.index_to_key and v.vector_size == kv.vector_size and len(v) == len(kv)
    assert v.vectors.shape == kv.vectors.shape
    assert all(v.key_to_index[w] == kv.key_to_index[w] for w in kv.index_to_key)
    for key in ("king", "nope", 3, 10_000):
        assert v.has_index_for(key) == kv.has_index_for(key) and (key in v) == (key in kv)
        assert v.get_index(key, -1) == kv.get_index(key, -1)
    with pytest.raises(KeyError):
        v.get_index("nope")
    same(v.norms, kv.norms if kv.norms is not None else np.linalg.norm(kv.vectors, axis=1))
    v.fill_norms()
    kv.fill_norms()
    same(v.norms, kv.norms)
    same(v.get_normed_vectors(), kv.get_normed_vectors())
    assert v.get_vecattr("queen", "count") == kv.get_vecattr("queen", "count")


MOST_SIMILAR = [
    ({"positive": "king"}),
    ({"positive": ["king", "woman"], "negative": ["man"], "topn": 7}),
    ({"positive": ["king"], "negative": "man", "topn": 3}),
    ({"negative": ["king"]}),
    ({"positive": [("king", 2.0), "woman"], "negative": [("man", 0.5)]}),
    ({"positive": ["king"], "restrict_vocab": 50}),
    ({"positive": ["king"], "clip_start": 20, "clip_end": 120}),
    ({"positive": ["king"], "topn": 0}),
    ({"positive": ["w7", "w8", "w9"], "topn": 300}),
]


def test_most_similar_with_vectors_and_all_scores(
    v: Vectors, kv: KeyedVectors, arrays: tuple[list[str], np.ndarray, np.ndarray]
) -> None:
    raw = arrays[1][10] * 3.0  # gensim adds a raw vector as given, words at unit length
    same(
        v.most_similar(positive=[raw, "king"], negative=["man"]),
        kv.most_similar(positive=[raw, "king"], negative=["man"]),
    )
    same(v.most_similar(positive=raw), kv.most_similar(positive=raw))
    same(v.most_similar("king", topn=None), kv.most_similar("king", topn=None))
    same(v.most_similar("king", topn=None, restrict_vocab=40), kv.most_similar("king", topn=None, restrict_vocab=40))
    same(v.similar_by_word("queen", topn=4), kv.similar_by_word("queen", topn=4))
    same(v.similar_by_key("queen", topn=4, restrict_vocab=90), kv.similar_by_key("queen", topn=4, restrict_vocab=90))
    same(v.similar_by_vector(raw, topn=4), kv.similar_by_vector(raw, topn=4))
    same(v.similar_by_vector(raw, topn=None), kv.similar_by_vector(raw, topn=None))


COSMUL = [
    ({"positive": ["king", "woman"], "negative": ["man"]}),
    ({"positive": "king", "negative": "man", "topn": 4}),
    ({"positive": ["king"]}),
    ({"positive": ["king", "queen", "prince"], "negative": ["man", "woman"], "topn": 299}),
]


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [("most_similar", kwargs) for kwargs in MOST_SIMILAR] + [("most_similar_cosmul", kwargs) for kwargs in COSMUL],
)
def test_most_similar_and_cosmul(v: Vectors, kv: KeyedVectors, method: str, kwargs: dict[str, Any]) -> None:
    same(getattr(v, method)(**kwargs), getattr(kv, method)(**kwargs))


def test_cosmul_with_vectors_scores_and_analogy(
    v: Vectors, kv: KeyedVectors, arrays: tuple[list[str], np.ndarray, np.ndarray]
) -> None:
    raw = arrays[1][11]
    same(v.most_similar_cosmul([raw, "king"], ["man"]), kv.most_similar_cosmul([raw, "king"], ["man"]))
    same(v.most_similar_cosmul("king", "man", topn=None), kv.most_similar_cosmul("king", "man", topn=None))
    same(
        v.analogy("man", "king", "woman", topn=5, method="3cosmul"),
        kv.most_similar_cosmul(["king", "woman"], ["man"], topn=5),
    )
    assert v.most_similar_cosmul("king", topn=0) == []


def test_cosmul_restrict_vocab_searches_the_first_rows(
    v: Vectors, arrays: tuple[list[str], np.ndarray, np.ndarray]
) -> None:
    """gensim 4.4 accepts restrict_vocab here but scans every row; embed does what gensim documents.

    The oracle is gensim on the first 60 rows only.
    """
    words, matrix, _ = arrays
    head = KeyedVectors(DIM)
    head.add_vectors(words[:60], matrix[:60].copy())
    same(
        v.most_similar_cosmul(["king", "woman"], ["man"], topn=8, restrict_vocab=60),
        head.most_similar_cosmul(["king", "woman"], ["man"], topn=8),
    )


def test_distances_rank_and_neighbours(
    v: Vectors, kv: KeyedVectors, arrays: tuple[list[str], np.ndarray, np.ndarray]
) -> None:
    same(v.distance("king", "queen"), kv.distance("king", "queen"))
    same(v.similarity("king", "queen"), kv.similarity("king", "queen"))
    same(v.distances("king"), kv.distances("king"))
    same(v.distances("king", ["queen", "w4", "king"]), kv.distances("king", ["queen", "w4", "king"]))
    same(v.distances(arrays[1][3]), kv.distances(arrays[1][3]))
    same(
        Vectors.cosine_similarities(arrays[1][0], arrays[1][:9]),
        KeyedVectors.cosine_similarities(arrays[1][0], arrays[1][:9]),
    )
    for a, b in [("king", "queen"), ("king", "w100"), ("w5", "man"), ("king", "king")]:
        assert v.closer_than(a, b) == kv.closer_than(a, b)
        assert v.rank(a, b) == kv.rank(a, b)
    assert v.words_closer_than("man", "woman") == kv.closer_than("man", "woman")
    assert v.most_similar_to_given("king", ["w1", "queen", "man"]) == kv.most_similar_to_given(
        "king", ["w1", "queen", "man"]
    )
    same(v.relative_cosine_similarity("king", "queen"), kv.relative_cosine_similarity("king", "queen"))
    same(v.relative_cosine_similarity("king", "w9", topn=3), kv.relative_cosine_similarity("king", "w9", topn=3))
    same(v.n_similarity(["king", "man"], ["queen", "woman"]), kv.n_similarity(["king", "man"], ["queen", "woman"]))


def test_doesnt_match_leaves_unknown_words_out_and_says_so(
    v: Vectors, kv: KeyedVectors, caplog: pytest.LogCaptureFixture
) -> None:
    words = ["king", "queen", "man", "w42", "fjfjfj"]
    with caplog.at_level(logging.WARNING):
        got = v.doesnt_match(words)
    assert got == kv.doesnt_match(words)
    assert any(
        "fjfjfj" in r.getMessage() and "ignoring" in r.getMessage() for r in caplog.records if r.name == "embed.vectors"
    )
    same(v.rank_by_centrality(words), kv.rank_by_centrality(words))
    same(v.rank_by_centrality(words, use_norm=False), kv.rank_by_centrality(words, use_norm=False))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"weights": [1.0, 2.0, -1.0]},
        {"pre_normalize": False},
        {"post_normalize": True},
        {"weights": np.array([0.5, 0.5, 3.0], dtype=np.float32), "pre_normalize": False, "post_normalize": True},
    ],
)
def test_get_mean_vector(
    v: Vectors, kv: KeyedVectors, arrays: tuple[list[str], np.ndarray, np.ndarray], kwargs: dict[str, Any]
) -> None:
    keys = ["king", arrays[1][12], "nope"]  # a word, a raw vector, an unknown word (left out)
    same(v.get_mean_vector(keys, **kwargs), kv.get_mean_vector(keys, **kwargs))
    same(v.get_mean_vector(["king", 4, "w2"], **kwargs), kv.get_mean_vector(["king", 4, "w2"], **kwargs))
    with pytest.raises(KeyError):
        kv.get_mean_vector(keys, ignore_missing=False)
    with pytest.raises(NotInVocabError, match="'nope'"):
        v.get_mean_vector(keys, ignore_missing=False)


def test_evaluations_are_gensims(v: Vectors, kv: KeyedVectors) -> None:
    pairs = datapath("wordsim353.tsv")
    for kwargs in ({}, {"restrict_vocab": 100}, {"dummy4unknown": True}, {"case_insensitive": False}):
        got, want = v.evaluate_word_pairs(pairs, **kwargs), kv.evaluate_word_pairs(pairs, **kwargs)
        same([tuple(got[0]), tuple(got[1]), got[2]], [tuple(want[0]), tuple(want[1]), want[2]])
    analogies = datapath("questions-words.txt")
    for kwargs in ({}, {"restrict_vocab": 150, "dummy4unknown": True}):
        got_score, got_sections = v.evaluate_word_analogies(analogies, **kwargs)
        want_score, want_sections = kv.evaluate_word_analogies(analogies, **kwargs)
        assert got_score == want_score and got_sections == want_sections
    assert (
        len(want_sections[-1]["correct"]) + len(want_sections[-1]["incorrect"]) > 0
    )  # the analogy lines were in the vocabulary


@pytest.mark.parametrize("binary", [False, True])
def test_save_word2vec_format_writes_gensims_bytes(v: Vectors, kv: KeyedVectors, tmp_path: Path, binary: bool) -> None:
    v.save_word2vec_format(tmp_path / "embed.w2v", fvocab=tmp_path / "embed.vocab", binary=binary)
    kv.save_word2vec_format(str(tmp_path / "gensim.w2v"), fvocab=str(tmp_path / "gensim.vocab"), binary=binary)
    assert (tmp_path / "embed.w2v").read_bytes() == (tmp_path / "gensim.w2v").read_bytes()
    assert (tmp_path / "embed.vocab").read_bytes() == (tmp_path / "gensim.vocab").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "embed.vocab",
        "embed.w2v",
        "gensim.vocab",
        "gensim.w2v",
    ]  # no temporary files left
    back = Vectors.load_word2vec_format(tmp_path / "embed.w2v", binary=binary, limit=50)
    assert back.index_to_key == kv.index_to_key[:50]
    same(back.vectors, kv.vectors[:50])
    with_counts = Vectors.load_word2vec_format(tmp_path / "embed.w2v", fvocab=tmp_path / "embed.vocab", binary=binary)
    assert with_counts.get_vecattr("w9", "count") == kv.get_vecattr("w9", "count")


def test_save_writes_a_model_directory_that_loads(v: Vectors, tmp_path: Path) -> None:
    v.meta["tokenizer"] = "whitespace"
    try:
        out = v.save(tmp_path / "again", word2vec=True)
    finally:
        v.meta.pop("tokenizer")
    back = embed.load(out)
    assert back.words == v.words and np.array_equal(back.matrix, v.matrix) and np.array_equal(back.counts, v.counts)
    assert back.meta["tokenizer"] == "whitespace" and back.meta["format"] == "embed-model"
    assert KeyedVectors.load_word2vec_format(str(out / "vectors.bin"), binary=True).index_to_key == v.words
    assert Vectors.load(out).words == v.words


USER_SCRIPT = """
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

out.append(kv.most_similar(positive=['woman', 'king'], negative=['man'], topn=5))
out.append(kv.most_similar('king'))
out.append(kv.similarity('king', 'queen'))
out.append(kv.doesnt_match(['king', 'queen', 'man', 'notaword']))
out.append(kv['king'])
out.append(kv[['king', 'queen']])
for w in kv.index_to_key[:5]:
    out.append((w, kv.key_to_index[w], w in kv))
out.append(kv.key_to_index['king'])
out.append(kv.vectors.shape)
out.append(kv.vector_size)
out.append(len(kv))
out.append(kv.most_similar_cosmul(positive=['woman', 'king'], negative=['man']))
out.append(kv.n_similarity(['king', 'man'], ['queen', 'woman']))
out.append(kv.distance('king', 'queen'))
out.append(kv.rank('king', 'queen'))
pearson, spearman, oov_ratio = kv.evaluate_word_pairs(datapath('wordsim353.tsv'))
out.append((pearson[0], spearman[0], oov_ratio))
try:
    kv['notaword']
except KeyError:
    out.append('missing')
kv.save_word2vec_format(path, binary=True)
back = KeyedVectors.load_word2vec_format(path, binary=True)
out.append(back.index_to_key[:10])
out.append(back['queen'])
"""


def test_a_gensim_script_runs_unchanged(kv: KeyedVectors, model_dir: Path, tmp_path: Path) -> None:
    results = {}
    for name, target in (("gensim", kv), ("embed", embed.load(model_dir))):
        namespace: dict[str, Any] = {"kv": target, "out": [], "path": str(tmp_path / f"{name}.bin")}
        exec(compile(USER_SCRIPT, f"<{name} user script>", "exec"), namespace)  # noqa: S102 - the test's own script
        results[name] = namespace["out"]
    same(results["embed"], results["gensim"])
    assert (tmp_path / "embed.bin").read_bytes() == (tmp_path / "gensim.bin").read_bytes()
