import math

import numpy as np
import pytest

from embed.errors import VocabError
from embed.vocab import Vocab, keep_probabilities, noise_distribution


def test_counts_min_count_and_order():
    sents = [["b", "a", "b"], ["c", "b", "a"], ["d"]]
    v = Vocab.build(sents, min_count=2)
    assert v.words == ["b", "a"]
    assert v.counts.tolist() == [3, 2]
    assert v.total_tokens == 7 and v.retained_tokens == 5 and v.sentences == 3 and v.pruned == 2


def test_ties_are_broken_alphabetically_and_max_vocab_keeps_most_frequent():
    v = Vocab.from_counts({"z": 4, "y": 4, "x": 9, "w": 1}, min_count=1, max_vocab=2)
    assert v.words == ["x", "y"]
    assert v.pruned == 2


def test_encode_drops_unknown_words():
    v = Vocab.from_counts({"a": 3, "b": 2}, min_count=1)
    assert v.encode(["b", "zz", "a", "b"]).tolist() == [1, 0, 1]


def test_empty_corpus_and_nothing_above_min_count():
    with pytest.raises(VocabError, match="holds no tokens"):
        Vocab.build([[], []], source="empty.txt")
    with pytest.raises(VocabError, match=r"min_count=5 .*most frequent occurs 2 times.*lower --min-count"):
        Vocab.build([["a", "a", "b"]], min_count=5)


def test_keep_probability_formula_by_hand():
    counts = np.array([1000, 10, 1])
    t = 1e-2 * 1011
    expected = [min(1.0, (math.sqrt(c / t) + 1) * t / c) for c in counts]
    assert keep_probabilities(counts, 1e-2) == pytest.approx(expected)
    assert keep_probabilities(counts, 1e-2)[0] == pytest.approx(0.11068, abs=1e-4)
    assert keep_probabilities(counts, 0).tolist() == [1.0, 1.0, 1.0]


def test_keep_probabilities_match_gensim():
    from gensim.models import Word2Vec

    rng = np.random.default_rng(0)
    counts = {f"w{i}": int(c) for i, c in enumerate(rng.zipf(1.3, 2000) + 5)}
    v = Vocab.from_counts(counts, min_count=5)
    model = Word2Vec(min_count=5, sample=1e-3)
    model.build_vocab_from_freq(counts)
    ours = v.keep_probs(1e-3)
    theirs = np.array([model.wv.get_vecattr(w, "sample_int") / 2**32 for w in v.words])
    assert np.allclose(ours, theirs, atol=1e-6)


def test_noise_distribution_by_hand():
    p = noise_distribution(np.array([16, 1, 81]))
    assert p == pytest.approx(np.array([8, 1, 27]) / 36)
    assert p.sum() == pytest.approx(1.0)


def test_bounded_counting_prunes_rare_words_and_says_so(caplog):
    import logging

    frequent = [f"f{i}" for i in range(20)]
    sentences = [frequent + [f"rare{s}_{j}" for j in range(50)] for s in range(100)]
    with caplog.at_level(logging.WARNING, logger="embed.vocab"):
        v = Vocab.build(sentences, min_count=1, count_limit=1000)
    assert set(frequent) <= set(v.words)
    assert v.counts[: len(frequent)].tolist() == [100] * 20
    assert v.count_pruned_words > 0 and v.count_pruned_tokens == v.count_pruned_words
    assert len(v) <= 1000 + 70
    assert v.total_tokens == 100 * 70
    assert any("bounded counting" in r.getMessage() for r in caplog.records)
    unbounded = Vocab.build(sentences, min_count=1)
    assert len(unbounded) == 20 + 5000 and unbounded.count_pruned_words == 0
