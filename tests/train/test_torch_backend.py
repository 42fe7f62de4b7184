"""The PyTorch word2vec backend: gradients, sampling distributions, determinism, quality, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from embed.config import TrainConfig
from embed.corpus import Corpus
from embed.errors import ConfigError
from embed.pairs import chunk_cbow_examples, chunk_skipgram_pairs, skipgram_pairs_from_windows
from embed.train import train
from embed.train.torch_backend import _Sampler
from embed.train.torch_kernels import ROW_CAP, cap_repeated_rows, cbow_step, ns_loss, ns_step, skipgram_step
from embed.vocab import Vocab
from tests.cli_helpers import train_cli
from tests.conftest import KJV

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; torch here has none")


def test_ns_step_matches_hand_computed_example() -> None:
    """One example, worked by hand: h = (1, 0), out[t] = (2, 0), one negative out[n] = (0, 0)."""
    w_out = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    h = torch.tensor([[1.0, 0.0]])
    dh = ns_step(h, torch.tensor([0]), torch.tensor([[1]]), w_out, lr=0.1, group=1)
    g_pos = (1 - 1 / (1 + np.exp(-2.0))) * 0.1  # (label - sigmoid(2)) * lr = 0.01192
    g_neg = (0 - 0.5) * 0.1  # sigmoid(0) = 0.5
    assert dh.tolist()[0] == pytest.approx([g_pos * 2.0, 0.0], abs=1e-7)
    assert w_out.flatten().tolist() == pytest.approx([2.0 + g_pos, 0.0, g_neg, 0.0], abs=1e-7)


def test_ns_step_equals_minus_lr_times_autograd_gradient() -> None:
    gen = torch.Generator().manual_seed(0)
    v, d, b, group, lr = 7, 4, 6, 2, 0.05  # k = 3 negatives per group: the columns of negs
    w_out = torch.randn(v, d, generator=gen, dtype=torch.float64)
    h = torch.randn(b, d, generator=gen, dtype=torch.float64)
    targets = torch.tensor([0, 1, 2, 2, 5, 6])
    negs = torch.tensor([[1, 2, 3], [2, 2, 4], [6, 0, 5]])  # includes negatives equal to their target (masked)
    h_ad, w_ad = h.clone().requires_grad_(), w_out.clone().requires_grad_()
    ns_loss(h_ad, targets, negs, w_ad, group).backward()
    before = w_out.clone()
    dh = ns_step(h, targets, negs, w_out, lr, group)
    assert torch.allclose(dh, -lr * h_ad.grad, atol=1e-12)
    assert torch.allclose(w_out - before, -lr * w_ad.grad, atol=1e-12)


def test_a_row_repeated_beyond_the_cap_takes_cap_times_its_mean_step() -> None:
    gen = torch.Generator().manual_seed(2)
    rows = torch.tensor([0] * (2 * ROW_CAP) + [1] * ROW_CAP + [2, 3])  # row 0 twice the cap, row 1 at it
    dh = torch.randn(rows.numel(), 3, generator=gen, dtype=torch.float64)
    counts = torch.zeros(5, dtype=torch.float64)
    capped = dh.clone()
    cap_repeated_rows(capped, rows, counts)
    summed = torch.zeros(5, 3, dtype=torch.float64).index_add_(0, rows, capped)
    assert torch.allclose(summed[0], ROW_CAP * dh[rows == 0].mean(0), atol=1e-12)  # halved: cap x mean
    assert torch.equal(capped[rows != 0], dh[rows != 0])  # rows at or under the cap keep every step in full
    assert torch.equal(counts, torch.zeros(5, dtype=torch.float64))  # the buffer is left clean for the next batch


def test_skipgram_step_caps_only_the_input_rows_it_is_given_counts_for() -> None:
    gen = torch.Generator().manual_seed(3)
    w_in, w_out = (torch.randn(4, 2, generator=gen, dtype=torch.float64) for _ in range(2))
    contexts = torch.tensor([1] * (ROW_CAP + 8) + [2] * 8)
    centres = torch.tensor([0, 3] * ((ROW_CAP + 16) // 2))
    negs = torch.tensor([[3, 2]] * ((ROW_CAP + 16) // 8))
    runs = []
    for counts in (None, torch.zeros(4, dtype=torch.float64)):
        a, b = w_in.clone(), w_out.clone()
        skipgram_step(a, b, contexts, centres, negs, 0.05, 8, counts)
        runs.append((a - w_in, b))
    (free, out_free), (capped, out_capped) = runs
    assert torch.equal(out_free, out_capped)  # the output rows are not capped
    assert torch.allclose(capped[1], free[1] * ROW_CAP / (ROW_CAP + 8), atol=1e-12)  # same stale weights: scaled
    assert torch.equal(capped[2], free[2]) and torch.equal(capped[[0, 3]], torch.zeros(2, 2, dtype=torch.float64))


def test_skipgram_on_the_bundled_bible_trains_for_a_seed_that_once_diverged() -> None:
    """Seed 2 (and 4, 8 of 1-10) diverged in the first epoch before input rows were capped: "the ... begat"
    bursts put one row in ~200 of a batch's pairs (torch_kernels module docstring)."""
    config = TrainConfig(backend="torch", workers=1, dim=50, epochs=5, seed=2)
    result = train(str(KJV), config)
    losses = [e.loss for e in result.epochs]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0] < (config.negative + 1) * np.log(2)  # untrained: 4.16
    assert result.vectors.similarity("god", "lord") > result.vectors.similarity("god", "bread") + 0.1


def test_cbow_step_averages_contexts_and_updates_each_context() -> None:
    gen = torch.Generator().manual_seed(1)
    w_in = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    w_out = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    contexts, example = torch.tensor([1, 2, 3]), torch.tensor([0, 0, 1])
    centres, negs = torch.tensor([0, 4]), torch.tensor([[3], [2]])
    w_in_ad, w_out_ad = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    h = torch.stack([w_in_ad[[1, 2]].mean(0), w_in_ad[3]])
    ns_loss(h, centres, negs, w_out_ad, 1).backward()
    h_grad = torch.stack([w_in_ad.grad[1] * 2, w_in_ad.grad[3]])  # dL/dh (the mean divides by 2)
    before = w_in.clone()
    cbow_step(w_in, w_out, contexts, example, torch.tensor([0, 2]), centres, negs, 0.1, 1)
    delta = w_in - before
    # word2vec.c adds the full step for the mean to every context word.
    assert torch.allclose(delta[1], -0.1 * h_grad[0]) and torch.allclose(delta[2], -0.1 * h_grad[0])
    assert torch.allclose(delta[3], -0.1 * h_grad[1])
    assert torch.allclose(w_out, w_out_ad.detach() - 0.1 * w_out_ad.grad)


def test_cbow_step_shares_negatives_between_examples_batch_over_group_apart() -> None:
    """Group 2 over 4 examples: examples 0 and 2 share ``negs[0]``, 1 and 3 share ``negs[1]``."""
    gen = torch.Generator().manual_seed(2)
    w_in = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    w_out = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    contexts, example = torch.tensor([1, 2, 2, 3, 4, 5, 6]), torch.tensor([0, 0, 1, 1, 2, 3, 3])
    starts, centres = torch.tensor([0, 2, 4, 5]), torch.tensor([0, 7, 3, 1])
    negs = torch.tensor([[3, 4], [7, 5]])  # 3 equals example 2's target: masked there
    w_in_ad, w_out_ad = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    h = torch.stack([w_in_ad[[1, 2]].mean(0), w_in_ad[[2, 3]].mean(0), w_in_ad[4], w_in_ad[[5, 6]].mean(0)])
    loss = sum(ns_loss(h[j : j + 1], centres[j : j + 1], negs[j % 2 : j % 2 + 1], w_out_ad, 1) for j in range(4))
    loss.backward()
    before = w_in.clone()
    cbow_step(w_in, w_out, contexts, example, starts, centres, negs, 0.1, 2)
    assert torch.allclose(w_out, w_out_ad.detach() - 0.1 * w_out_ad.grad)
    # Every context word gets the full step for its example's mean (word2vec.c), from the old weights.
    h0 = h.detach().clone().requires_grad_()
    sum(
        ns_loss(h0[j : j + 1], centres[j : j + 1], negs[j % 2 : j % 2 + 1], w_out_ad.detach(), 1) for j in range(4)
    ).backward()
    expected = torch.zeros_like(w_in)
    for c, e in zip(contexts.tolist(), example.tolist(), strict=False):
        expected[c] -= 0.1 * h0.grad[e]
    assert torch.allclose(w_in - before, expected)


def test_chunk_pairs_equal_sentence_by_sentence_pairs() -> None:
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 50, 300)
    sent = np.repeat(np.arange(6), 50)
    c, x = chunk_skipgram_pairs(ids, sent, 4, np.random.default_rng(9))
    eff = 4 - np.random.default_rng(9).integers(0, 4, 300)
    parts = [skipgram_pairs_from_windows(ids[s * 50 : (s + 1) * 50], eff[s * 50 : (s + 1) * 50]) for s in range(6)]
    assert c.tolist() == np.concatenate([p[0] for p in parts]).tolist()
    assert x.tolist() == np.concatenate([p[1] for p in parts]).tolist()
    centres, contexts, example = chunk_cbow_examples(ids, sent, 4, np.random.default_rng(9))
    assert np.bincount(example).sum() == c.size and centres.size == 300


def test_window_distances_follow_the_dynamic_window() -> None:
    """P(context at distance d) is proportional to (window - d + 1) / window (chi-square, fixed seed)."""
    window, n = 5, 200_000
    ids = np.arange(n)
    c, x = chunk_skipgram_pairs(ids, np.zeros(n, dtype=np.int64), window, np.random.default_rng(0))
    dist = np.abs(x - c)
    observed = np.bincount(dist, minlength=window + 1)[1:]
    expected = np.array([window - d + 1 for d in range(1, window + 1)], dtype=float)
    expected *= observed.sum() / expected.sum()
    assert stats.chisquare(observed, expected).pvalue > 0.001
    assert dist.min() >= 1 and dist.max() == window


def test_negatives_follow_unigram_to_the_075() -> None:
    vocab = Vocab(words=[f"w{i}" for i in range(6)], counts=np.array([1000, 300, 100, 40, 10, 5]))
    draws = _Sampler(vocab, np.random.default_rng(0)).draw((100_000,))
    observed = np.bincount(draws, minlength=6)
    expected = vocab.noise_distribution() * draws.size
    assert stats.chisquare(observed, expected).pvalue > 0.001
    # and not the plain unigram distribution
    plain = vocab.counts / vocab.counts.sum() * draws.size
    assert stats.chisquare(observed, plain).pvalue < 1e-6


def _planted_corpus(path: Path, seed: int = 0, sentences: int = 1500) -> Path:
    """Two groups of 12 words; a sentence draws words from one group only."""
    rng = np.random.default_rng(seed)
    groups = [[f"a{i}" for i in range(12)], [f"b{i}" for i in range(12)]]
    lines = [" ".join(rng.choice(groups[rng.integers(2)], 10)) for _ in range(sentences)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
@pytest.mark.parametrize("backend", ["gensim", "torch"])
def test_planted_structure_is_learned_by_both_backends(tmp_path: Path, backend: str, arch: str) -> None:
    corpus = _planted_corpus(tmp_path / "planted.txt")
    # 24 words only: a batch of B examples touches each row ~B/24 times, so keep B small
    # here (summed stale gradients of one row are what batching trades for speed).
    config = TrainConfig(arch=arch, backend=backend, dim=20, epochs=5, min_count=1, sample=0, workers=1, batch_size=32)  # type: ignore[arg-type]
    vectors = train(Corpus(corpus), config).vectors
    for word in ("a0", "a5", "b3", "b11"):
        neighbours = [w for w, _ in vectors.most_similar(positive=[word], topn=5)]
        assert all(w[0] == word[0] for w in neighbours), (word, neighbours)


@pytest.mark.parametrize("workers", [1, 2])
def test_torch_is_deterministic_for_seed_device_and_threads(tmp_path: Path, workers: int) -> None:
    corpus = Corpus(_planted_corpus(tmp_path / "c.txt", sentences=800))
    config = TrainConfig(backend="torch", dim=16, epochs=2, min_count=1, workers=workers, seed=7, batch_size=128)
    a = train(corpus, config).vectors.matrix
    b = train(corpus, config).vectors.matrix
    c = train(
        corpus, TrainConfig(backend="torch", dim=16, epochs=2, min_count=1, workers=workers, seed=8, batch_size=128)
    ).vectors.matrix
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_cuda_requested_without_cuda_is_refused(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present; the refusal only applies without one")
    corpus = _planted_corpus(tmp_path / "c.txt", sentences=50)
    out = tmp_path / "model"
    res = train_cli(corpus, out, "--backend torch --device cuda -q --no-eval --min-count 1")
    assert res.exit_code == 1
    assert "no CUDA device" in res.output and "--device cpu" in res.output
    assert not out.exists()


def test_gensim_refuses_a_device(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="torch backend only"):
        TrainConfig(backend="gensim", device="cuda")


@CUDA
@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_cuda_learns_planted_structure(tmp_path: Path, arch: str) -> None:
    corpus = _planted_corpus(tmp_path / "planted.txt")
    config = TrainConfig(
        arch=arch, backend="torch", device="cuda", dim=20, epochs=5, min_count=1, sample=0, batch_size=256
    )  # type: ignore[arg-type]
    result = train(Corpus(corpus), config)
    assert result.backend_info["device"] == "cuda"
    neighbours = [w for w, _ in result.vectors.most_similar(positive=["a0"], topn=5)]
    assert all(w.startswith("a") for w in neighbours)


@CUDA
def test_cuda_is_deterministic(tmp_path: Path) -> None:
    corpus = Corpus(_planted_corpus(tmp_path / "c.txt", sentences=800))
    config = TrainConfig(backend="torch", device="cuda", dim=16, epochs=1, min_count=1, batch_size=128)
    # index_add_ on CUDA uses atomics: equal up to float rounding, not bit for bit.
    assert np.allclose(train(corpus, config).vectors.matrix, train(corpus, config).vectors.matrix, atol=1e-5)
