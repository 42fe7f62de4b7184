"""The per-epoch loss probe equals the negative-sampling loss written out example by example."""

from __future__ import annotations

import numpy as np
import pytest

from embed.train.loss import LossProbe
from embed.vocab import Vocab


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_probe_loss_equals_the_formula(arch: str) -> None:
    rng = np.random.default_rng(4)
    sentences = [[f"w{i}" for i in rng.integers(0, 40, rng.integers(1, 12))] for _ in range(300)]
    vocab = Vocab.build(sentences, min_count=1)
    probe = LossProbe(sentences, vocab, arch, window=3, negative=4, seed=2, n_examples=500)
    w_in = rng.normal(0, 0.5, (len(vocab), 8)).astype(np.float32)
    w_out = rng.normal(0, 0.5, (len(vocab), 8)).astype(np.float32)
    total = 0.0
    for centre, ctx, negs in zip(probe.centres, probe.contexts, probe.negatives, strict=False):
        h = w_in[ctx].astype(np.float64).mean(0)  # skip-gram: one context row
        out = w_out.astype(np.float64)
        total += np.logaddexp(0, -h @ out[centre]) + sum(np.logaddexp(0, h @ out[n]) for n in negs if n != centre)
    assert len(probe) == 500
    assert probe.loss(w_in, w_out) == pytest.approx(total / 500, rel=1e-12)
    # Rows stored in another order (gensim's): order[i] is vocabulary id i's row.
    order = rng.permutation(len(vocab))
    shuffled_in, shuffled_out = np.empty_like(w_in), np.empty_like(w_out)
    shuffled_in[order], shuffled_out[order] = w_in, w_out
    assert probe.loss(shuffled_in, shuffled_out, order=order) == pytest.approx(total / 500, rel=1e-12)


def test_probe_loss_falls_every_epoch(kjv_model_dir) -> None:
    """The probe spans the corpus and is subsampled like training, so it tracks the objective.

    The old probe (the first 20,000 examples, no subsampling) rose in the last epoch on this corpus.
    """
    import json

    losses = [e["loss"] for e in json.loads((kjv_model_dir / "meta.json").read_text())["epochs"]]
    assert len(losses) == 3 and all(b < a for a, b in zip(losses, losses[1:], strict=False)), losses


def test_probe_spans_the_corpus() -> None:
    sentences = [[f"s{i}", "a", "b", "c"] for i in range(5000)]  # word s<i> only in sentence i
    vocab = Vocab.build(sentences, min_count=1)
    probe = LossProbe(sentences, vocab, "skipgram", window=2, negative=2, seed=1, n_examples=2000)
    seen = {int(w[1:]) for w in (vocab.words[i] for i in probe.centres) if w.startswith("s")}
    assert max(seen) > 2500  # drawn from the second half too, not only the start
