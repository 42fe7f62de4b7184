import numpy as np
from scipy import stats

from embed.pairs import (
    cbow_examples,
    cbow_examples_from_windows,
    chunk_cbow_examples,
    interleave_examples,
    reduced_windows,
    skipgram_pairs,
    skipgram_pairs_from_windows,
    subsample,
)


def test_skipgram_window_by_hand():
    # "the quick brown fox jumps" with effective windows [2, 1, 2, 1, 2]
    ids = np.array([0, 1, 2, 3, 4])
    eff = np.array([2, 1, 2, 1, 2])
    c, x = skipgram_pairs_from_windows(ids, eff)
    assert list(zip(c.tolist(), x.tolist(), strict=False)) == [
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 2),
        (2, 0),
        (2, 1),
        (2, 3),
        (2, 4),
        (3, 2),
        (3, 4),
        (4, 2),
        (4, 3),
    ]


def test_cbow_window_by_hand():
    ids = np.array([7, 8, 9])
    eff = np.array([1, 2, 1])
    assert cbow_examples_from_windows(ids, eff) == [([8], 7), ([7, 9], 8), ([8], 9)]


def test_window_never_crosses_sentence_edges_and_single_word_gives_nothing():
    c, x = skipgram_pairs_from_windows(np.array([5]), np.array([3]))
    assert c.size == 0 and x.size == 0
    assert cbow_examples_from_windows(np.array([5]), np.array([3])) == []


def test_full_window_matches_brute_force():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 50, size=40)
    eff = reduced_windows(40, 5, rng)
    c, x = skipgram_pairs_from_windows(ids, eff)
    brute = [(ids[i], ids[j]) for i in range(40) for j in range(40) if i != j and abs(i - j) <= eff[i]]
    assert list(zip(c.tolist(), x.tolist(), strict=False)) == [(int(a), int(b)) for a, b in brute]


def test_reduced_window_is_uniform():
    rng = np.random.default_rng(0)
    eff = reduced_windows(50_000, 5, rng)
    observed = np.bincount(eff, minlength=6)[1:]
    assert eff.min() == 1 and eff.max() == 5
    assert stats.chisquare(observed).pvalue > 0.001


def test_pairs_are_seeded():
    ids = np.arange(30)
    a = skipgram_pairs(ids, 4, np.random.default_rng(11))
    b = skipgram_pairs(ids, 4, np.random.default_rng(11))
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=False))
    assert cbow_examples(ids, 4, np.random.default_rng(5)) == cbow_examples(ids, 4, np.random.default_rng(5))


def test_expected_pairs_per_token():
    # With window w, an interior token has on average 2 * (w + 1) / 2 = w + 1 contexts.
    rng = np.random.default_rng(1)
    c, _ = skipgram_pairs(np.arange(100_000), 5, rng)
    assert abs(c.size / 100_000 - 6.0) < 0.05


def test_subsample_keeps_with_the_given_probability():
    rng = np.random.default_rng(2)
    ids = np.repeat([0, 1], 20_000)
    kept = subsample(ids, np.array([0.25, 1.0]), rng)
    assert (kept == 1).sum() == 20_000
    assert abs((kept == 0).sum() / 20_000 - 0.25) < 0.02


def test_interleave_keeps_every_example_and_spreads_each_batch():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 50, 3000)
    sent = np.repeat(np.arange(30), 100)
    centres, contexts, example = chunk_cbow_examples(ids, sent, 5, rng)
    batch, spacing = 64, 3
    c2, x2, e2 = interleave_examples(centres, contexts, example, batch, spacing)

    def bags(c, x, e):
        return sorted((int(c[i]), tuple(sorted(x[e == i].tolist()))) for i in range(c.size))

    assert bags(c2, x2, e2) == bags(centres, contexts, example)
    assert np.all(np.diff(e2) >= 0)  # contexts still grouped by example, in the new order
    # Where each new example came from: within a batch, consecutive examples are `spacing` apart.
    m = centres.size
    source = {}
    for i in range(m):
        source.setdefault((int(c2[i]), tuple(x2[e2 == i].tolist())), []).append(i)
    order = np.array([source[(int(centres[j]), tuple(contexts[example == j].tolist()))].pop(0) for j in range(m)])
    new_to_old = np.argsort(order)
    first_batch = new_to_old[:batch]
    assert np.all(np.diff(first_batch) == spacing)
    assert sorted(new_to_old.tolist()) == list(range(m))
