"""Speed of the TextCNN on MR (part of ``python -m bench.classify speed``).

* one training epoch (9,596 sentences, Kim's settings), static and non-static, with
  length bucketing, row-sparse Adadelta and the convolutions as window sums of
  per-batch projected rows (``TextCNN.features``); anchor in the same run: the plain
  reimplementation (``Conv1d``, dense embedding gradient, ``torch.optim.Adadelta`` over
  every parameter, every sentence padded to the longest, as Kim's code does); between
  them, embed's batches and optimizer with ``Conv1d`` (what the window sums add).
  Each system runs ``repeats`` epochs (default 3) from the same start; the median is
  recorded.
* batched CPU inference on the 10,662 MR sentences (tokenise + encode + predict),
  through the projection table; anchors: the same model through per-batch window sums
  (no table) and through ``Conv1d``. Median of 7 passes after a first pass (recorded
  too) that builds the table.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

# ClassifierConfig's default (the machines' 2 cores). Not read from the config: importing
# embed.classify loads torch, and the OpenMP wait policy must be set before that.
THREADS = 2


def _setup(mode: str) -> tuple[Any, Any, np.ndarray]:
    import torch

    from bench.classify_common import KIM, vectors
    from embed.classify import ClassifierConfig, read_dataset
    from embed.classify.classifier import Classifier
    from embed.classify.models import build_model
    from embed.classify.train import build_vocab, init_embeddings

    data = read_dataset(KIM / "rt-polarity.all", "kim")
    config = ClassifierConfig(mode=mode, tokenizer="whitespace")
    torch.set_num_threads(config.threads)
    clf = Classifier(torch.nn.Identity(), build_vocab([t.split() for t in data.texts]), ["0", "1"], config)
    init, _ = init_embeddings(clf.vocab, config, vectors("en"), torch.Generator().manual_seed(1))
    clf.model = build_model(len(clf.vocab), 2, config, init)
    return clf, data, np.array([int(lab) for lab in data.labels])


def _conv1d(model: Any) -> None:
    """Make ``model`` compute its convolutions with ``Conv1d`` (the textbook form)."""
    model.features = model.conv_features


def _epoch(clf: Any, x: list[list[int]], y: np.ndarray, plain: bool) -> float:
    """Seconds for one training epoch over 90% of MR (Kim's train part of a fold)."""
    import torch

    from embed.classify.classifier import pad_batch, padding
    from embed.classify.train import _Optimizers, training_batches

    model, config = clf.model, clf.config
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(1)
    if plain:
        dense = torch.nn.Embedding(len(clf.vocab), config.dim, padding_idx=0)
        dense.weight.data.copy_(model.embedder.embed.weight.data)
        dense.weight.requires_grad_(config.mode != "static")
        model.embedder.embed = dense
        _conv1d(model)
        opt: Any = torch.optim.Adadelta([p for p in model.parameters() if p.requires_grad], lr=1.0, rho=0.95, eps=1e-6)
        width = max(len(s) for s in x) + 4
        order = rng.permutation(len(x))
        batches = (
            pad_batch([x[i] for i in order[s : s + 50]], width, 4, padding(config)[2])
            + (torch.as_tensor(y[order[s : s + 50]]),)
            for s in range(0, len(x), 50)
        )
    else:
        opt = _Optimizers(model, config)
        batches = training_batches(x, y, 50, padding(config), rng)
    model.train()
    started = time.perf_counter()
    for ids, lengths, target in batches:
        opt.zero_grad()
        loss_fn(model(ids, lengths), target).backward()
        opt.step()
        with torch.no_grad():
            model.out.weight.copy_(torch.renorm(model.out.weight, 2, 0, 3.0))
    return time.perf_counter() - started


def _inference(clf: Any, texts: list[str], table: bool, repeats: int = 7) -> tuple[float, float]:
    """(first pass, median of the next ``repeats`` passes) in sentences/s. The first pass
    builds the projection table (a served model builds it on its first request)."""
    clf.frozen, clf._table = table, None
    started = time.perf_counter()
    clf.predict_proba(texts)
    first = len(texts) / (time.perf_counter() - started)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        clf.predict_proba(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    return first, float(np.median(rates))


SYSTEMS = {
    "embed": "embed (window sums of projected rows, bucketed, row Adadelta)",
    "embed-conv1d": "embed with Conv1d (bucketed, row Adadelta)",
    "plain": "plain (Conv1d, dense Adadelta, padded to max)",
}


def speed(what: str = "all", repeats: int = 3) -> None:
    """``what``: ``all``, ``epoch`` or ``infer``; ``repeats``: epochs timed per system (median recorded)."""
    from embed.runtime import configure_threads

    configure_threads(THREADS, "classify")  # first: OpenMP reads its wait policy when torch loads
    import torch

    from bench.classify_common import record

    for mode in ("static", "non-static") if what in ("all", "epoch") else ():
        times: dict[str, list[float]] = {name: [] for name in SYSTEMS}
        for _ in range(int(repeats)):  # interleaved, so a slow spell of the machine hits every system
            for name in SYSTEMS:
                clf, data, y = _setup(mode)
                if name == "embed-conv1d":
                    _conv1d(clf.model)
                x = clf.encode(data.texts)
                n = int(len(x) * 0.9)
                times[name].append(round(_epoch(clf, x[:n], y[:n], name == "plain"), 2))
        for name, secs in times.items():
            record(
                {
                    "bench": "mr_epoch",
                    "mode": mode,
                    "system": SYSTEMS[name],
                    "sentences": n,
                    "seconds": float(np.median(secs)),
                    "repeats": secs,
                    "ratio_to_plain": round(float(np.median(secs) / np.median(times["plain"])), 3),
                    "threads": torch.get_num_threads(),
                }
            )
    if what not in ("all", "infer"):
        return
    clf, data, _ = _setup("non-static")
    clf.model.eval()
    for path in ("projection table", "window sums, no table", "Conv1d"):
        if path == "Conv1d":
            _conv1d(clf.model)
        first, rate = _inference(clf, data.texts, path == "projection table")
        record(
            {
                "bench": "mr_inference",
                "path": path,
                "sentences": len(data.texts),
                "sentences_per_s": round(rate),
                "first_pass_sentences_per_s": round(first),
                "repeats": 7,
                "batch": 256,
                "threads": torch.get_num_threads(),
            }
        )
