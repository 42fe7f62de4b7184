"""Training subword models (issue 17): the torch step against autograd, both backends, CLI, fastText files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import embed
from embed.cli import main
from embed.config import TrainConfig
from embed.corpus import Corpus
from embed.train import train
from embed.train.torch_kernels import ns_loss
from embed.train.torch_subwords import (
    SHARED_CAP,
    Scatter,
    cbow_subword_step,
    expand,
    scatter_plan,
    strided_groups,
    subword_step,
)
from tests.cli_helpers import train_cli
from tests.conftest import KJV, needs_system


@pytest.fixture(scope="module")
def small_kjv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 6,000 verses of the KJV (~190k tokens)."""
    path = tmp_path_factory.mktemp("corpus") / "kjv_small.txt"
    with open(KJV, encoding="utf-8") as fh:
        path.write_text("".join(line for _, line in zip(range(6000), fh, strict=False)), encoding="utf-8")
    return path


def _bags() -> tuple[np.ndarray, np.ndarray]:
    """A CSR table of 4 words over an input matrix of 4 word rows + 6 n-gram rows (row 7 shared by words 0, 1, 2)."""
    return np.array([0, 3, 5, 8, 9]), np.array([0, 4, 7, 1, 7, 2, 7, 9, 3])


@pytest.mark.parametrize("layout", [None, "runs", "strided"])
def test_subword_step_is_fasttexts_update_checked_with_autograd(layout: str | None) -> None:
    """Every bag row gets -lr * dL/dh (fastText's Model::update for skip-gram/CBOW): autograd through a mean
    whose backward passes dh unscaled to each row. Without duplicate rows in the batch (scatter=None).
    ``runs``: pairs in runs of one bag, as skip-gram's centres; ``strided``: those pairs laid out by
    strided_groups, as SubwordState trains them (pair_rows tells where each pair went)."""
    gen = torch.Generator().manual_seed(0)
    d, lr, group = 5, 0.05, 2
    offsets, rows = _bags()
    w_in = torch.randn(10, d, generator=gen, dtype=torch.float64)
    w_out = torch.randn(4, d, generator=gen, dtype=torch.float64)
    words = np.array([0, 1, 2, 3])
    pair_bag = np.array([0, 0, 1, 2, 2, 3]) if layout else None
    targets = np.array([1, 2, 3, 0, 1, 2] if layout else [1, 2, 3, 0])
    negs = torch.tensor([[2, 3], [0, 1], [3, 1]] if layout else [[2, 3], [0, 1]])
    pair_starts = torch.tensor([0, 2, 3, 5]) if layout else None  # where each run of pair_bag begins
    pair_rows = None
    if layout == "strided":
        order, pos = strided_groups(targets.size, group)
        assert pair_bag is not None
        pair_bag, targets, pair_rows = pair_bag[order], targets[order], torch.from_numpy(pos)
    flat, owner, starts = (torch.from_numpy(a) for a in expand(offsets, rows, words))

    w = w_in.clone().requires_grad_(True)
    sums = torch.zeros(len(words), d, dtype=torch.float64).index_add(0, owner, w[flat])
    n = torch.bincount(owner).to(torch.float64)[:, None]
    h_bags = sums / n + sums * (1 - 1 / n) - (sums * (1 - 1 / n)).detach()  # value: the mean; gradient: as a sum
    h = h_bags if pair_bag is None else h_bags[torch.from_numpy(pair_bag)]
    ns_loss(h, torch.from_numpy(targets), negs, w_out, group).backward()

    w_in_step, w_out_step = w_in.clone(), w_out.clone()
    pb = None if pair_bag is None else torch.from_numpy(pair_bag)
    subword_step(
        w_in_step, w_out_step, flat, owner, starts, pb, torch.from_numpy(targets), negs, lr, group, False, None,
        pair_starts, pair_rows,
    )  # fmt: skip
    assert torch.allclose(w_in_step - w_in, -lr * w.grad, atol=1e-12)


def test_skipgram_groups_sharing_negatives_take_pairs_of_different_centres() -> None:
    """A batch of skip-gram pairs comes in runs of one centre; laid out by strided_groups, each group of 8
    (one draw of negatives) holds pairs 512 apart, so a centre's ~6 pairs meet different negatives."""
    centres = np.repeat(np.arange(700), np.random.default_rng(0).integers(2, 11, 700))[:4096]
    order, pos = strided_groups(centres.size, 8)
    assert np.array_equal(order[pos], np.arange(centres.size)) and np.array_equal(np.sort(order), np.arange(4096))
    groups = centres[order].reshape(-1, 8)
    assert all(len(set(g)) == 8 for g in groups.tolist())
    assert np.array_equal(groups[3], centres[3::512])


def test_shared_rows_steps_are_divided_by_their_scale() -> None:
    """With a Scatter, a row shared by several bags has its summed step divided by its scale.

    Here the scale is its count: the mean.
    """
    gen = torch.Generator().manual_seed(1)
    offsets, rows = _bags()
    w_in, w_out = torch.randn(10, 3, generator=gen), torch.randn(4, 3, generator=gen)
    flat_np, owner_np, starts_np = expand(offsets, rows, np.array([0, 1, 2, 3]))
    flat, owner, starts = (torch.from_numpy(a) for a in (flat_np, owner_np, starts_np))
    targets, negs = torch.tensor([1, 2, 3, 0]), torch.tensor([[2], [3], [0], [1]])
    summed_in, summed_out = w_in.clone(), w_out.clone()
    subword_step(summed_in, summed_out, flat, owner, starts, None, targets, negs, 0.1, 1, False)
    plan = scatter_plan(flat_np, owner_np)
    _, counts = np.unique(flat_np, return_counts=True)  # per distinct row, ascending as plan["rows"]
    plan["weight"] = np.repeat(1.0 / counts, counts).astype(np.float32)  # scale = count: the mean
    mean_in, mean_out = w_in.clone(), w_out.clone()
    scatter = Scatter(**{k: torch.from_numpy(a) for k, a in plan.items()})
    subword_step(mean_in, mean_out, flat, owner, starts, None, targets, negs, 0.1, 1, False, scatter)
    assert torch.allclose(mean_in[7] - w_in[7], (summed_in[7] - w_in[7]) / 3, atol=1e-6)  # row 7 is in 3 bags
    assert torch.allclose(mean_in[4], summed_in[4]) and torch.allclose(mean_out, summed_out)


def _scatter(flat: np.ndarray, owner: np.ndarray, weights: np.ndarray | None = None) -> Scatter:
    """The :class:`Scatter` SubwordState builds (``weights``: bags per entry)."""
    return Scatter(**{k: torch.from_numpy(a) for k, a in scatter_plan(flat, owner, weights).items()})


@pytest.mark.parametrize("weighted", [False, True])
def test_scatter_sums_each_rows_steps_capped_at_shared_cap_bags(weighted: bool) -> None:
    """Scatter.add equals adding every entry's step, each row's sum divided by max(1, bags / SHARED_CAP)."""
    rng = np.random.default_rng(3)
    flat = np.concatenate([rng.integers(0, 30, 400), np.arange(30, 40)])  # rows 0-29 over the cap, 30-39 once
    owner = rng.integers(0, 50, flat.size)
    weights = rng.integers(1, 4, flat.size) if weighted else None
    steps = torch.randn(50, 4, dtype=torch.float64)
    w_in = torch.randn(40, 4, dtype=torch.float64)
    bags = np.bincount(flat, weights=weights, minlength=40)
    want = torch.zeros_like(w_in).index_add_(0, torch.from_numpy(flat), steps[torch.from_numpy(owner)])
    want /= torch.from_numpy(np.maximum(bags / SHARED_CAP, 1.0))[:, None]
    got = w_in.clone()
    _scatter(flat, owner, weights).add(got, steps)
    assert bags.max() > SHARED_CAP and bags.min() < SHARED_CAP
    assert torch.allclose(got - w_in, want, atol=1e-6)


def test_cbow_step_on_distinct_context_words_equals_the_step_on_every_slots_bag() -> None:
    """cbow_subword_step gathers each distinct context word's bag once; subword_step on the bags expanded
    slot by slot (one bag per example: all rows of all its context words) is the definition. Words repeat
    across and within examples, and n-gram rows are shared by more than SHARED_CAP slots."""
    rng = np.random.default_rng(0)
    v, bucket, d, b, group = 40, 12, 6, 16, 8
    lens = rng.integers(1, 6, v)
    offsets = np.concatenate([[0], np.cumsum(lens)])
    rows = np.concatenate([[i, *rng.integers(v, v + bucket, n - 1)] for i, n in enumerate(lens)])
    slots = rng.integers(1, 6, b)
    example = np.repeat(np.arange(b), slots)
    contexts = rng.integers(0, 8, example.size)  # 8 words for ~50 slots: many repeats
    targets, negs = torch.from_numpy(rng.integers(0, v, b)), torch.from_numpy(rng.integers(0, v, (b // group, 3)))
    w_in, w_out = torch.randn(v + bucket, d, dtype=torch.float64), torch.randn(v, d, dtype=torch.float64)

    flat, owner, ctx_starts = expand(offsets, rows, contexts)
    first = np.concatenate([[0], np.cumsum(slots)])[:-1]
    want_in, want_out = w_in.clone(), w_out.clone()
    t = torch.from_numpy
    subword_step(
        want_in, want_out, t(flat), t(example[owner]), t(ctx_starts[first]), None, targets, negs, 0.1, group, True,
        _scatter(flat, example[owner]),
    )  # fmt: skip
    words, slot_word, per_word = np.unique(contexts, return_inverse=True, return_counts=True)
    wflat, wowner, wstarts = expand(offsets, rows, words)
    sizes = np.bincount(example, weights=(offsets[words + 1] - offsets[words])[slot_word], minlength=b)
    got_in, got_out = w_in.clone(), w_out.clone()
    cbow_subword_step(
        got_in, got_out, t(wflat), t(wstarts), t(slot_word), t(example), t(sizes), targets, negs, 0.1,
        group, _scatter(wflat, wowner, per_word[wowner]),
    )  # fmt: skip
    assert _scatter(flat, example[owner]).weight.min() < 1  # the cap is exercised
    assert torch.allclose(got_in, want_in, atol=1e-12) and torch.allclose(got_out, want_out, atol=1e-12)
    assert not torch.equal(got_in, w_in)


def test_torch_cbow_subwords_give_misspellings_their_words_without_collapsing(small_kjv: Path) -> None:
    config = TrainConfig(
        backend="torch", arch="cbow", subwords=True, bucket=50_000, dim=32, epochs=10, workers=1, min_count=3
    )  # 10 epochs: at 3, on these 190k tokens, both backends' random words are still crowded (cosine 0.8-0.99)
    v = train(Corpus(small_kjv), config).vectors
    assert "king" in [w for w, _ in v.most_similar("kingz", topn=5)]
    unit = np.asarray(v.matrix) / np.linalg.norm(v.matrix, axis=1, keepdims=True)
    pairs = np.random.default_rng(0).integers(len(v), size=(2, 2000))
    # Random words stay apart (a torch CBOW rule that collapsed every vector gave ~0.99; 10 epochs here: ~0.3).
    assert float((unit[pairs[0]] * unit[pairs[1]]).sum(1).mean()) < 0.5


@pytest.mark.parametrize("backend", ["torch", "gensim"])
def test_subword_training_gives_misspellings_their_words(small_kjv: Path, backend: str) -> None:
    config = TrainConfig(
        backend=backend, subwords=True, bucket=50_000, dim=32, epochs=3, workers=1, min_count=3
    )  # 1 worker: deterministic
    v = train(Corpus(small_kjv), config).vectors
    assert v.has_subwords and "kingz" not in v
    assert v.similarity("kingz", "king") > 0.7
    assert "king" in [w for w, _ in v.most_similar("kingz", topn=5)]


def test_torch_subwords_are_deterministic(small_kjv: Path) -> None:
    config = TrainConfig(backend="torch", subwords=True, bucket=20_000, dim=16, epochs=1, workers=1)
    a, b = (train(Corpus(small_kjv), config).vectors for _ in range(2))
    assert np.array_equal(a.matrix, b.matrix) and np.array_equal(a.subwords.ngrams, b.subwords.ngrams)  # type: ignore[union-attr]


def _fasttext_print_word_vectors(model: Path, words: str) -> str:
    """What ``fasttext print-word-vectors MODEL`` prints for ``words`` (one a line) on its stdin."""
    import subprocess

    return subprocess.run(
        ["fasttext", "print-word-vectors", str(model)], input=words, capture_output=True, text=True, check=True
    ).stdout


def test_cli_trains_queries_exports_and_imports(small_kjv: Path, tmp_path: Path) -> None:
    from gensim.models.fasttext import load_facebook_vectors

    runner = CliRunner()
    out = tmp_path / "sw"
    res = train_cli(
        small_kjv, out, "--backend torch --subwords --bucket 20000 --dim 16 --epochs 1 --workers 1 -q --no-eval"
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["similar", str(out), "kingz", "-k", "3"])
    assert res.exit_code == 0 and len(res.stdout.strip().splitlines()) == 4 and "character n-grams" in res.stderr
    res = runner.invoke(main, ["similar", str(out), "kingz", "king", "-k", "3", "--json"])
    oov, known = (json.loads(line) for line in res.stdout.splitlines())
    assert res.exit_code == 0 and oov["oov"] is True and oov["oov_words"] == ["kingz"] and len(oov["results"]) == 3
    assert "oov" not in known and known["query"] == "king"  # marked as the HTTP answers mark it, only when built
    res = runner.invoke(main, ["vectors", str(out), "kingz"])
    assert res.exit_code == 0 and len(res.stdout.split()) == 17
    res = runner.invoke(main, ["export", str(out), "--format", "fasttext-bin", "--out", str(tmp_path / "sw.bin")])
    assert res.exit_code == 0, res.output
    kv = load_facebook_vectors(str(tmp_path / "sw.bin"))
    model = embed.load(out)
    assert np.allclose(kv["kingz"], model["kingz"], atol=1e-5) and np.allclose(kv["king"], model["king"], atol=1e-5)
    res = runner.invoke(main, ["import", str(tmp_path / "sw.bin"), "--out", str(tmp_path / "imported"), "-q"])
    assert res.exit_code == 0, res.output
    assert np.allclose(embed.load(tmp_path / "imported")["kingz"], model["kingz"], atol=1e-5)
    if shutil.which("fasttext"):
        got = _fasttext_print_word_vectors(tmp_path / "sw.bin", "kingz\n")
        assert np.allclose(np.array(got.split()[1:], dtype=np.float32), model["kingz"], atol=1e-4)


def test_fasttexts_cli_reads_what_embed_writes(small_kjv: Path, tmp_path: Path) -> None:
    needs_system(shutil.which("fasttext") is not None, "fastText's command line", "fasttext")
    from embed.subwords_io import write_fasttext_bin
    from tests.test_subwords import toy

    v = toy()
    write_fasttext_bin(v, tmp_path / "toy.bin")
    got = _fasttext_print_word_vectors(tmp_path / "toy.bin", "king\nkingz\n曹孟德\n")
    lines = got.strip().splitlines()
    for line, word in zip(lines, ["king", "kingz", "曹孟德"], strict=False):
        assert np.allclose(np.array(line.split()[1:], dtype=np.float32), v[word], atol=1e-4), word


@pytest.mark.parametrize(
    "args,flag",
    [
        (["--subwords", "--minn", "5", "--maxn", "3"], "--maxn"),
        (["--subwords", "--bucket", "0"], "--bucket"),
        (["--minn", "2"], "--minn"),
    ],
)
def test_cli_refuses_bad_subword_options_and_writes_nothing(
    small_kjv: Path, tmp_path: Path, args: list[str], flag: str
) -> None:
    res = train_cli(small_kjv, tmp_path / "m", args)
    assert res.exit_code == 1 and flag in res.output and "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []
