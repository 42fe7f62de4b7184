"""Training a sentence classifier: vocabulary, embedding init, bucketed batches, early stopping.

``fit`` follows Kim (2014): the embeddings of words found in the pre-trained vectors
start from them, the rest from uniform(-0.25, 0.25); mini-batches of 50; Adadelta;
max-norm on the output weights after every step; the epoch with the best accuracy on
the dev split (10% of train when none is given) is the one kept.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from embed.classify.classifier import PAD_TOKEN, UNK_TOKEN, Classifier, clip_tokens, pad_batch
from embed.classify.config import ClassifierConfig
from embed.classify.data import Dataset, dev_split, sorted_labels
from embed.classify.metrics import Metrics
from embed.classify.models import Model, build_model, padding
from embed.classify.optim import RowAdadelta
from embed.corpus import get_tokenizer
from embed.errors import ConfigError, FormatError
from embed.vectors import Vectors

logger = logging.getLogger(__name__)
UNKNOWN_RANGE = 0.25
"""Kim (2014): words missing from the pre-trained vectors start uniform(-0.25, 0.25)."""
BUCKET_BATCHES = 20
"""Batches are formed inside shuffled chunks of this many batches sorted by length."""


@dataclass
class EpochResult:
    epoch: int
    loss: float
    train_accuracy: float
    dev_accuracy: float
    seconds: float
    best: bool


def build_vocab(token_lists: Sequence[list[str]]) -> list[str]:
    """``<pad>``, ``<unk>``, then every token by falling count (ties alphabetical).

    >>> build_vocab([["b", "a"], ["b"]])
    ['<pad>', '<unk>', 'b', 'a']
    """
    counts = Counter(t for tokens in token_lists for t in tokens)
    return [PAD_TOKEN, UNK_TOKEN, *sorted(counts, key=lambda w: (-counts[w], w))]


def init_embeddings(
    vocab: list[str], config: ClassifierConfig, vectors: Vectors | None, gen: torch.Generator
) -> tuple[torch.Tensor, int]:
    """The initial embedding matrix ``(len(vocab), dim)`` and how many rows came from ``vectors``.

    Raises:
        ConfigError: ``vectors`` have another dimension than ``config.dim``, or a mode
            other than ``rand`` has no vectors.
        FormatError: a row of ``vectors`` for a word of ``vocab`` holds NaN or inf.
    """
    if config.mode != "rand" and vectors is None:
        raise ConfigError(f"mode {config.mode!r} needs pre-trained vectors; pass --vectors or use --mode rand")
    if vectors is not None and vectors.dim != config.dim:
        raise ConfigError(
            f"the vectors have {vectors.dim} dimensions but the classifier is configured for {config.dim}; drop "
            f"--dim (it defaults to the vectors') or pass vectors of dimension {config.dim}"
        )
    matrix = (torch.rand((len(vocab), config.dim), generator=gen) * 2 - 1) * UNKNOWN_RANGE
    matrix[0] = 0.0  # padding stays zero
    matrix[1] = 0.0  # <unk> never occurs in training: a neutral vector at prediction time
    found = 0
    if vectors is not None and config.mode != "rand":
        looked_up = ((i, vectors.vocab.get(w)) for i, w in enumerate(vocab[2:], start=2))
        rows = [(i, j) for i, j in looked_up if j >= 0]
        if rows:
            ours, theirs = zip(*rows, strict=False)
            found_rows = torch.from_numpy(np.array(vectors.matrix[list(theirs)], dtype=np.float32))
            _check_finite(vectors, found_rows, theirs)
            if config.normalize_vectors:  # length of a uniform(-a, a) vector: a * sqrt(dim / 3)
                norms = found_rows.norm(dim=1, keepdim=True).clamp(min=1e-12)
                found_rows = found_rows / norms * (UNKNOWN_RANGE * (config.dim / 3) ** 0.5)
            matrix[list(ours)] = found_rows
        found = len(rows)
    return matrix, found


def _check_finite(vectors: Vectors, rows: torch.Tensor, indices: Sequence[int]) -> None:
    """Refuse NaN/inf rows (of a diverged training, say): they would turn every loss NaN.

    Only the rows the classifier uses are read, so a memory-mapped model stays unread.
    """
    bad = (~torch.isfinite(rows).all(dim=1)).nonzero().flatten().tolist()
    if bad:
        first = min(indices[b] for b in bad)
        source = vectors.meta.get("path") or vectors.meta.get("source") or "the --vectors"
        others = f" (and {len(bad) - 1:,} other words of the data)" if len(bad) > 1 else ""
        raise FormatError(
            f"{source}: the vector of {vectors.words[first]!r}{others} holds NaN or inf; retrain those vectors with "
            "a lower --alpha or pass other --vectors"
        )


def training_batches(
    encoded: list[list[int]], y: np.ndarray, batch_size: int, pads: tuple[int, int, int], rng: np.random.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Shuffled batches ``(ids, lengths, targets)`` of similar lengths (bucketing).

    The data are shuffled, cut into chunks of ``BUCKET_BATCHES`` batches, each chunk is
    sorted by length and cut into batches, and the batches are shuffled again.
    """
    order = rng.permutation(len(encoded))
    chunk = batch_size * BUCKET_BATCHES
    groups = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(encoded[i]))
        groups += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    for g in rng.permutation(len(groups)):
        idx = groups[g]
        ids, lengths = pad_batch([encoded[i] for i in idx], *pads)
        yield ids, lengths, torch.as_tensor(y[idx], dtype=torch.long)


class _Optimizers:
    """The dense parameters' optimizer plus a row-wise one for a trainable embedding table."""

    def __init__(self, model: Model, config: ClassifierConfig) -> None:
        embed = model.embedder.embed.weight
        dense = [p for p in model.parameters() if p.requires_grad and p is not embed]
        lr = config.resolved_lr
        self.parts: list[torch.optim.Optimizer | RowAdadelta] = []
        if config.resolved_optimizer == "adadelta":  # Kim: rho 0.95, eps 1e-6
            self.parts.append(torch.optim.Adadelta(dense, lr=lr, rho=0.95, eps=1e-6, foreach=True))
            if embed.requires_grad:
                self.parts.append(RowAdadelta(embed, lr=lr, rho=0.95, eps=1e-6))
        else:
            self.parts.append(torch.optim.Adam(dense, lr=lr))
            if embed.requires_grad:
                self.parts.append(torch.optim.SparseAdam([embed], lr=lr))

    def zero_grad(self) -> None:
        for p in self.parts:
            p.zero_grad()

    def step(self) -> None:
        for p in self.parts:
            p.step()


def check_labels(data: Dataset) -> list[str]:
    """The label names of training data, sorted.

    Raises:
        FormatError: no examples, or a single class.
    """
    if len(data) == 0:
        raise FormatError(f"{data.source}: holds no examples; pass labelled training data")
    labels = sorted_labels(data.labels)
    if len(labels) < 2:
        raise FormatError(
            f"{data.source}: every example has the label {labels[0]!r}; a classifier needs at least two classes"
        )
    return labels


def fit(
    train: Dataset,
    config: ClassifierConfig,
    vectors: Vectors | None = None,
    dev: Dataset | None = None,
    extra_texts: Sequence[str] = (),
    on_epoch: Callable[[EpochResult], None] | None = None,
) -> Classifier:
    """Train a classifier on ``train``; ``dev`` (default: 10% of ``train``) picks the epoch.

    ``extra_texts`` (e.g. the test sentences, as Kim's vocabulary covered the whole data
    set) only add vocabulary: with pre-trained vectors their words get those vectors.
    Sets ``torch.set_num_threads(config.threads)`` (2 by default, this project's
    machines) and seeds torch and numpy from ``config.seed``: seeded CPU runs repeat.

    With ``config.truncate`` train and dev texts over ``config.max_tokens`` keep their
    first tokens; ``info["truncated"]`` counts them (``{"train": n, "dev": m}``).

    Raises:
        FormatError: empty data, one class, dev labels unseen in train, a text too long
            (without ``config.truncate``).
        ConfigError: vectors missing for the mode or of the wrong dimension.
    """
    labels = check_labels(train)
    if dev is None:
        tr_idx, dev_idx = dev_split(len(train), config.dev_fraction, config.seed)
        train, dev = train.subset(tr_idx), train.subset(dev_idx)
    torch.set_num_threads(config.threads)
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    tokenize = get_tokenizer(config.tokenizer)
    tok_train, cut_train = clip_tokens(
        [tokenize(t) for t in train.texts], config.max_tokens, config.truncate, train.source
    )
    tok_dev, cut_dev = clip_tokens([tokenize(t) for t in dev.texts], config.max_tokens, config.truncate, dev.source)
    if cut_train or cut_dev:
        logger.info("truncated %d training and %d dev texts to %d tokens", cut_train, cut_dev, config.max_tokens)
    vocab = build_vocab([*tok_train, *tok_dev, *(tokenize(t) for t in extra_texts)])
    init, found = init_embeddings(vocab, config, vectors, gen)
    clf = Classifier(build_model(len(vocab), len(labels), config, init), vocab, labels, config)
    x_train, x_dev = clf.encode_tokens(tok_train, train.source), clf.encode_tokens(tok_dev, dev.source)
    label_ids = {lab: i for i, lab in enumerate(labels)}
    unseen = sorted(set(dev.labels) - set(label_ids))
    if unseen:
        raise FormatError(f"{dev.source}: dev labels {unseen[:5]} do not occur in the training data")
    y_train = np.array([label_ids[lab] for lab in train.labels])
    y_dev = np.array([label_ids[lab] for lab in dev.labels])
    history = _loop(clf, x_train, y_train, x_dev, y_dev, config, on_epoch)
    clf.frozen = True
    clf.info = {
        "vocab_size": len(clf.vocab),
        "pretrained_rows": found,
        "train_examples": len(x_train),
        "dev_examples": len(x_dev),
        "epochs": [vars(h) for h in history],
        "best_epoch": max(history, key=lambda h: (h.dev_accuracy, -h.epoch)).epoch,
        "truncated": {"train": cut_train, "dev": cut_dev},
    }
    return clf


def _loop(
    clf: Classifier,
    x_train: list[list[int]],
    y_train: np.ndarray,
    x_dev: list[list[int]],
    y_dev: np.ndarray,
    config: ClassifierConfig,
    on_epoch: Callable[[EpochResult], None] | None,
) -> list[EpochResult]:
    model, rng = clf.model, np.random.default_rng(config.seed)
    optimizer = _Optimizers(model, config)
    loss_fn = torch.nn.CrossEntropyLoss()
    pads = padding(config)
    best_acc, best_state, since_best, history = -1.0, None, 0, []
    for epoch in range(1, config.epochs + 1):
        started, total_loss, correct = time.perf_counter(), 0.0, 0
        model.train()
        for ids, lengths, target in training_batches(x_train, y_train, config.batch_size, pads, rng):
            optimizer.zero_grad()
            logits = model(ids, lengths)
            loss = loss_fn(logits, target)
            loss.backward()
            optimizer.step()
            if config.max_norm is not None:
                with torch.no_grad():  # Kim: rescale each class's weight vector to norm <= 3
                    model.out.weight.copy_(torch.renorm(model.out.weight, 2, 0, config.max_norm))
            total_loss += float(loss.detach()) * len(target)
            correct += int((logits.argmax(1) == target).sum())
        dev_acc = float((clf.logits(x_dev).argmax(1).numpy() == y_dev).mean())
        improved = dev_acc > best_acc
        if improved:
            best_acc, best_state, since_best = dev_acc, copy.deepcopy(model.state_dict()), 0
        else:
            since_best += 1
        result = EpochResult(
            epoch, total_loss / len(y_train), correct / len(y_train), dev_acc, time.perf_counter() - started, improved
        )
        history.append(result)
        logger.info(
            "epoch %d loss %.4f train %.4f dev %.4f (%.1f s)",
            epoch,
            result.loss,
            result.train_accuracy,
            dev_acc,
            result.seconds,
        )
        if on_epoch is not None:
            on_epoch(result)
        if config.patience is not None and since_best >= config.patience:
            break
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return history


def cross_validate(
    data: Dataset,
    config: ClassifierConfig,
    k: int,
    vectors: Vectors | None = None,
    folds: Sequence[int] | None = None,
    on_fold: Callable[[int, Metrics], None] | None = None,
) -> list[Metrics]:
    """Stratified ``k``-fold cross-validation: train on k-1 folds (10% of them as dev),
    score the held-out fold. ``folds`` picks a subset of the fold numbers (0-based).

    As in Kim (2014), the held-out fold's words join the vocabulary (they get their
    pre-trained vectors; their labels are never seen).

    Raises:
        ConfigError: ``k`` < 2 or more than the examples of the rarest class.
    """
    from embed.classify.data import cv_folds

    labels = check_labels(data)
    rarest = min(data.labels.count(lab) for lab in labels)
    if not 2 <= k <= rarest:
        raise ConfigError(f"--cv {k}: needs 2 <= k <= {rarest} (the size of the rarest class)")
    results = []
    for n, (tr, te) in enumerate(cv_folds(data.labels, k, config.seed)):
        if folds is not None and n not in folds:
            continue
        test = data.subset(te)
        clf = fit(data.subset(tr), config, vectors, extra_texts=test.texts)
        results.append(clf.evaluate(test, truncate=config.truncate))
        if on_fold is not None:
            on_fold(n, results[-1])
    return results
