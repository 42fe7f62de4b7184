"""embed.neighbours / embed.index / embed.search: exact tables and FAISS against brute-force numpy and gensim."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embed.errors import ConfigError, FormatError, NotInVocabError
from embed.index import INDEX_DIR, IndexConfig, build_index, load_index, save_index
from embed.io import load, save_model_dir
from embed.neighbours import exact_topk, normalise
from embed.search import Query, Searcher
from embed.vectors import Vectors


def clustered(n: int = 1500, dim: int = 24, seed: int = 0) -> Vectors:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim))
    m = centres[rng.integers(0, 40, n)] + 0.5 * rng.standard_normal((n, dim))
    return Vectors.from_arrays([f"w{i}" for i in range(n)], m.astype(np.float32))


def brute(matrix: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Full (n, n) score matrix in float64, self excluded, sorted best first."""
    m = matrix.astype(np.float64)
    if metric == "cosine":
        u = m / np.linalg.norm(m, axis=1, keepdims=True)
        s = u @ u.T
        np.fill_diagonal(s, -np.inf)
        order = np.argsort(-s, axis=1)[:, :k]
    else:
        s = np.sqrt(np.maximum(((m[:, None, :] - m[None, :, :]) ** 2).sum(-1), 0))
        np.fill_diagonal(s, np.inf)
        order = np.argsort(s, axis=1)[:, :k]
    return order, np.take_along_axis(s, order, axis=1)


@pytest.fixture(scope="module")
def vecs() -> Vectors:
    return clustered()


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_topk_equals_brute_force(vecs: Vectors, metric: str) -> None:
    k = 15
    ids, scores = exact_topk(vecs.matrix, k, metric, block=256)  # several blocks, last one partial
    want_ids, want_scores = brute(vecs.matrix, k, metric)
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(ids.tolist(), want_ids.tolist(), strict=False)])
    assert recall == 1.0
    np.testing.assert_allclose(scores, want_scores, rtol=1e-4, atol=1e-4)
    assert ids.dtype == np.int32 and scores.dtype == np.float32
    assert not (ids == np.arange(len(vecs))[:, None]).any()  # a word is never its own neighbour


def test_exact_topk_rejects_bad_k(vecs: Vectors) -> None:
    with pytest.raises(ConfigError, match="k must be between 1 and 1499"):
        exact_topk(vecs.matrix, 1500)


def test_normalise_keeps_zero_rows() -> None:
    out = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, vecs: Vectors) -> Path:
    out = tmp_path_factory.mktemp("idx") / "m"
    save_model_dir(out, vecs, {"params": {"dim": vecs.dim}})
    return out


@pytest.mark.parametrize("kind,metric", [("flat", "cosine"), ("hnsw", "cosine"), ("ivf", "euclidean")])
def test_save_load_round_trip(model_dir: Path, kind: str, metric: str) -> None:
    vectors = load(model_dir)
    built = build_index(vectors, IndexConfig(kind=kind, metric=metric, k_max=20))  # type: ignore[arg-type]
    save_index(built, model_dir)
    meta = json.loads((model_dir / INDEX_DIR / "index.json").read_text())
    assert meta["format"] == "embed-index" and meta["kind"] == kind and meta["k_max"] == 20
    loaded = load_index(model_dir, vectors)
    assert loaded is not None and loaded.config.kind == kind
    assert sorted(loaded.tables) == [metric] == meta["table_metrics"]  # only the metric asked for
    np.testing.assert_array_equal(loaded.tables[metric][0], built.tables[metric][0])
    np.testing.assert_array_equal(loaded.tables[metric][1], built.tables[metric][1])
    assert isinstance(loaded.tables[metric][0], np.memmap)
    assert (loaded.ann is None) == (kind == "flat")
    assert (
        sorted(p.name for p in (model_dir / INDEX_DIR).iterdir() if p.suffix not in (".npy", ".json", ".faiss")) == []
    )


def test_ann_recall_against_exact(model_dir: Path) -> None:
    vectors = load(model_dir)
    index = build_index(vectors, IndexConfig(kind="hnsw", k_max=10))
    queries = normalise(vectors.matrix[:200] + 0.1)
    exact_ids, _, m1 = index.search(queries, 10, "cosine", exact=True)
    ann_ids, _, m2 = index.search(queries, 10, "cosine", exact=False)
    assert (m1, m2) == ("flat", "hnsw")
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_ids.tolist(), ann_ids.tolist(), strict=False)])
    assert recall >= 0.9, recall
    # An ANN index for the other metric is never used: the query falls back to exact search.
    assert index.search(queries[:1], 10, "euclidean", exact=False)[2] == "flat"


def test_ef_search_per_call_widens_the_search_and_leaves_the_index_as_stored(model_dir: Path) -> None:
    """A per-call efSearch of at least the vocabulary visits every row: the exact answer; the stored value stays."""
    vectors = load(model_dir)
    index = build_index(vectors, IndexConfig(kind="hnsw", k_max=10, tables="off", ef_search=16))
    queries = normalise(vectors.matrix[:100] + 0.3)
    exact_ids, _, _ = index.search(queries, 10, "cosine", exact=True)
    narrow, _, _ = index.search(queries, 10, "cosine", exact=False)
    wide, _, method = index.search(queries, 10, "cosine", exact=False, ef_search=len(vectors))
    assert method == "hnsw" and index.ann is not None
    np.testing.assert_array_equal(wide, exact_ids)
    hits = sum(len(set(a) & set(b)) for a, b in zip(narrow.tolist(), exact_ids.tolist(), strict=True))
    assert hits < exact_ids.size  # efSearch 16 misses some: the wide search was not the stored breadth
    assert faiss_ef(index) == 16
    # An exact search ignores it; an IVF index refuses it, naming the field.
    assert index.search(queries, 10, "cosine", exact=True, ef_search=5)[2] == "flat"
    ivf = build_index(vectors, IndexConfig(kind="ivf", k_max=10, tables="off"))
    with pytest.raises(ConfigError, match="ef_search applies to an HNSW index; this model's index is ivf"):
        ivf.search(queries, 10, "cosine", exact=False, ef_search=64)


def test_ef_search_on_an_ivf_model_is_that_query_s_error(vecs: Vectors) -> None:
    """In a batch the IVF refusal stands in the query's place; the others, exact ones asking it too, are answered."""
    searcher = Searcher(vecs, build_index(vecs, IndexConfig(kind="ivf", k_max=10, tables="off")))
    w = vecs.index_to_key[:3]
    got = searcher.batch_or_errors(
        [Query(word=w[0], exact=False, ef_search=64), Query(word=w[1], exact=False), Query(word=w[2], ef_search=64)]
    )
    assert isinstance(got[0], ConfigError) and "this model's index is ivf" in str(got[0])
    assert got[1].method == "ivf" and got[2].method == "flat"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="ef_search applies to an HNSW index"):
        searcher.batch([Query(word=w[1], exact=False), Query(word=w[0], exact=False, ef_search=64)])


def faiss_ef(index: object) -> int:
    import faiss

    return int(faiss.downcast_index(index.ann).hnsw.efSearch)  # type: ignore[attr-defined]


def test_stale_index_is_refused(tmp_path: Path, vecs: Vectors) -> None:
    out = tmp_path / "m"
    save_model_dir(out, vecs, {"params": {}})
    save_index(build_index(load(out), IndexConfig(kind="flat", k_max=5)), out)
    other = clustered(seed=1)
    with pytest.raises(FormatError, match="built for other vectors.*embed index"):
        load_index(out, other)


def test_bad_config_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="index kind must be one of flat, hnsw, ivf"):
        IndexConfig(kind="lsh")  # type: ignore[arg-type]
    small = clustered(n=30)
    out = tmp_path / "m"
    save_model_dir(out, small, {"params": {}})
    with pytest.raises(ConfigError, match="k_max 100 must be below the vocabulary size"):
        build_index(load(out), IndexConfig(kind="flat"))
    assert not (out / INDEX_DIR).exists()


@pytest.fixture(scope="module")
def searcher(model_dir: Path) -> Searcher:
    vectors = load(model_dir)
    save_index(build_index(vectors, IndexConfig(kind="hnsw", k_max=20)), model_dir)
    return Searcher.open(model_dir)


def _close(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [w for w, _ in got] == [w for w, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("k", [10, 50])  # 50 > k_max: served by exact FAISS instead of the table
def test_searcher_equals_most_similar(searcher: Searcher, metric: str, k: int) -> None:
    for word in ("w0", "w7", "w1499"):
        hits = searcher.by_word(word, k, metric)  # type: ignore[arg-type]
        # The index is built for cosine: its table answers k <= 20; everything else is an exact scan.
        assert hits.method == ("table" if k <= 20 and metric == "cosine" else "flat") and hits.exact
        _close(
            list(zip(hits.words, hits.scores, strict=False)), searcher.vectors.most_similar(word, topn=k, metric=metric)
        )  # type: ignore[arg-type]
    hits = searcher.by_words(["w1", "w2"], ["w3"], k, metric)  # type: ignore[arg-type]
    _close(
        list(zip(hits.words, hits.scores, strict=False)),
        searcher.vectors.most_similar(["w1", "w2"], ["w3"], topn=k, metric=metric),
    )  # type: ignore[arg-type]


def test_searcher_vector_and_analogy(searcher: Searcher) -> None:
    v = searcher.vectors
    query = v["w5"] * 2 + 0.3
    hits = searcher.by_vector(query, 10, "cosine")
    _close(list(zip(hits.words, hits.scores, strict=False)), v.nearest_to_vector(query, topn=10))
    for method in ("3cosadd", "3cosmul"):
        hits = searcher.analogy("w1", "w2", "w3", 5, method)
        _close(list(zip(hits.words, hits.scores, strict=False)), v.analogy("w1", "w2", "w3", topn=5, method=method))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="vector has 3 values, the model has 24 dimensions"):
        searcher.by_vector([1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="all zeros"):
        searcher.by_vector(np.zeros(24))
    with pytest.raises(NotInVocabError, match="'nope'"):
        searcher.by_word("nope")


def test_tables_off_gives_the_same_exact_answers(tmp_path: Path, vecs: Vectors) -> None:
    out = tmp_path / "m"
    save_model_dir(out, vecs, {"params": {}})
    on = Searcher(load(out), build_index(load(out), IndexConfig(kind="hnsw", k_max=20, tables="on")))
    off = Searcher(load(out), build_index(load(out), IndexConfig(kind="hnsw", k_max=20, tables="off")))
    assert off.index.tables == {} and "cosine" in on.index.tables
    for word in ("w0", "w3", "w999"):
        a, b = on.by_word(word, 10, exact=True), off.by_word(word, 10, exact=True)
        assert (a.method, b.method) == ("table", "flat")
        assert a.words == b.words
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-6)


def test_large_vocabularies_go_to_the_ann_index(model_dir: Path) -> None:
    """Above exact_max_words (lowered here) a by-word query without 'exact' is an HNSW search."""

    vectors = load(model_dir)
    searcher = Searcher(vectors, build_index(vectors, IndexConfig(kind="hnsw", k_max=10, tables="off")))
    searcher.exact_max_words = 100
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in rng.choice(len(vectors), 100, replace=False)]
    recall = []
    for word in words:
        approx, exact = searcher.by_word(word, 10), searcher.by_word(word, 10, exact=True)
        assert (approx.method, approx.exact, exact.method) == ("hnsw", False, "flat")
        assert word not in approx.words and len(approx.words) == 10
        recall.append(len(set(approx.words) & set(exact.words)) / 10)
    assert np.mean(recall) >= 0.95, np.mean(recall)
    assert searcher.by_word("w5", 10, exact=False).method == "hnsw"


def test_batch_equals_single_queries(searcher: Searcher) -> None:
    from embed.search import Query

    queries = [
        Query(word="w1", k=5),
        Query(word="w2", k=50, metric="euclidean"),
        Query(positive=["w1", "w2"], negative=["w3"], k=7),
        Query(vector=searcher.vectors["w9"] + 1.0, k=3),
        Query(word="w4", k=40),
    ]
    got = searcher.batch(queries)
    want = [
        searcher.by_word("w1", 5),
        searcher.by_word("w2", 50, "euclidean"),
        searcher.by_words(["w1", "w2"], ["w3"], 7),
        searcher.by_vector(searcher.vectors["w9"] + 1.0, 3),
        searcher.by_word("w4", 40),
    ]
    for g, w in zip(got, want, strict=False):
        assert g.words == w.words and g.method == w.method
        np.testing.assert_allclose(g.scores, w.scores, rtol=1e-5, atol=1e-6)


def test_exact_search_equals_brute_force(vecs: Vectors) -> None:
    from embed.neighbours import exact_search

    rng = np.random.default_rng(1)
    queries = normalise(rng.standard_normal((7, vecs.dim)))
    for metric in ("cosine", "euclidean"):
        ids, scores = exact_search(vecs.matrix, vecs.norms, queries, 12, metric, block=100)  # type: ignore[arg-type]
        m = vecs.matrix.astype(np.float64)
        if metric == "cosine":
            full = (m / np.linalg.norm(m, axis=1, keepdims=True)) @ queries.T.astype(np.float64)
            want = np.argsort(-full, axis=0)[:12].T
        else:
            full = np.linalg.norm(m[:, None, :] - queries[None, :, :], axis=2)
            want = np.argsort(full, axis=0)[:12].T
        np.testing.assert_array_equal(ids, want)
        np.testing.assert_allclose(scores, np.take_along_axis(full.T, want, axis=1), rtol=1e-5, atol=1e-5)
