"""A trained classifier: vocabulary, label names, config and torch model, ready to predict."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain, repeat
from typing import Any

import numpy as np
import torch

from embed.classify.config import ClassifierConfig
from embed.classify.data import Dataset
from embed.classify.metrics import Metrics, score
from embed.classify.models import UNK, Model, TextCNN, padding
from embed.corpus import get_tokenizer
from embed.errors import ConfigError, FormatError

PAD_TOKEN, UNK_TOKEN = "<pad>", "<unk>"
PREDICT_BATCH = 256
TABLE_LIMIT_BYTES = 512 * 2**20
"""The CNN's inference lookup table (vocab x 1,200 floats by default) is built up to this size."""


def pad_batch(
    seqs: Sequence[list[int]], min_length: int, extra: int, left: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad id lists -> ids ``(batch, time)`` and true lengths ``(batch,)``.

    Every sequence starts after ``left`` zeros; ``time`` is ``left`` plus the longest
    sequence plus ``extra``, and at least ``left + min_length``, so that a sentence shorter
    than the widest filter still yields one window per token. Kim (2014) pads
    ``widest - 1`` zeros on both sides, so edge words fall in as many windows as inner ones.

    >>> ids, lens = pad_batch([[5, 6], [7]], min_length=5, extra=2)
    >>> ids.tolist(), lens.tolist()
    ([[5, 6, 0, 0, 0], [7, 0, 0, 0, 0]], [2, 1])
    >>> pad_batch([[5, 6], [7]], min_length=3, extra=2, left=2)[0].tolist()
    [[0, 0, 5, 6, 0, 0], [0, 0, 7, 0, 0, 0]]
    """
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    width = left + max(int(lengths.max(initial=0)) + extra, min_length)
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    # one vectorised fill instead of a tensor per sentence: row i gets slots left .. left + lengths[i]
    cols = np.arange(width)[None, :] - left
    ids[(cols >= 0) & (cols < lengths[:, None])] = np.fromiter(
        chain.from_iterable(seqs), dtype=np.int64, count=int(lengths.sum())
    )
    return torch.from_numpy(ids), torch.from_numpy(lengths)


def clip_tokens(
    token_lists: Sequence[list[str]], limit: int, truncate: bool, source: str = "input"
) -> tuple[list[list[str]], int]:
    """The token lists with those over ``limit`` cut to their first ``limit`` tokens, and
    how many were cut; without ``truncate`` a list over the limit is an error.

    >>> clip_tokens([["a", "b", "c"], ["d"]], 2, truncate=True)
    ([['a', 'b'], ['d']], 1)

    Raises:
        FormatError: a list is longer than ``limit`` and ``truncate`` is false.
    """
    over = [i for i, tokens in enumerate(token_lists) if len(tokens) > limit]
    if over and not truncate:
        i = over[0]
        raise FormatError(
            f"{source}: text {i + 1} has {len(token_lists[i])} tokens, more than the limit of {limit}; shorten it, "
            f"pass --truncate (keeps the first {limit} tokens) or train with a larger --max-tokens"
        )
    return [tokens[:limit] for tokens in token_lists] if over else list(token_lists), len(over)


class Classifier:
    """Predicts labels for raw texts.

    Args:
        model: a :class:`~embed.classify.models.TextCNN` or ``TextRNN``.
        vocab: token strings by id; ``vocab[0]`` is padding, ``vocab[1]`` unknown.
        labels: label names by class id.
        config: the configuration it was trained with.
    """

    def __init__(self, model: Model, vocab: list[str], labels: list[str], config: ClassifierConfig) -> None:
        self.model = model
        self.vocab = vocab
        self.index = {w: i for i, w in enumerate(vocab)}
        self.labels = labels
        self.config = config
        self._tokenize = get_tokenizer(config.tokenizer)
        self.info: dict[str, Any] = {}  # what training recorded (saved in config.json)
        self.frozen = False
        """True once trained or loaded: the weights no longer change, so the CNN may
        predict through its projection table (see :meth:`TextCNN.projection_table`)."""
        self._table: list[torch.Tensor] | None = None

    def tokenize(self, texts: Sequence[str], source: str = "input") -> list[list[str]]:
        """Tokens per text with the classifier's tokenizer.

        Raises:
            FormatError: an item is not a string.
        """
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise FormatError(f"{source}: text {i + 1} is {type(text).__name__}, not a string")
        return [self._tokenize(t) for t in texts]

    def encode_tokens(
        self, token_lists: Sequence[list[str]], source: str = "input", truncate: bool = False
    ) -> list[list[int]]:
        """Token ids per token list (unknown words -> ``<unk>``); with ``truncate`` a list
        over ``config.max_tokens`` keeps its first ``max_tokens`` tokens.

        Raises:
            FormatError: a text has more than ``config.max_tokens`` tokens (without ``truncate``).
        """
        token_lists, _ = clip_tokens(token_lists, self.config.max_tokens, truncate, source)
        get = self.index.get
        return [list(map(get, tokens, repeat(UNK, len(tokens)))) for tokens in token_lists]

    def encode(self, texts: Sequence[str], source: str = "input", truncate: bool = False) -> list[list[int]]:
        """Token ids per text; see :meth:`tokenize` and :meth:`encode_tokens`."""
        return self.encode_tokens(self.tokenize(texts, source), source, truncate)

    def count_over_limit(self, texts: Sequence[str], source: str = "input") -> int:
        """How many of ``texts`` have more than ``config.max_tokens`` tokens (what
        ``truncate=True`` cuts)."""
        return sum(len(tokens) > self.config.max_tokens for tokens in self.tokenize(texts, source))

    def batches(
        self, encoded: list[list[int]], batch_size: int
    ) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
        """Length-sorted batches (positions, ids, lengths): similar lengths waste little padding."""
        order = np.argsort([len(s) for s in encoded], kind="stable")
        pads = padding(self.config)
        for start in range(0, len(order), batch_size):
            pos = order[start : start + batch_size]
            ids, lengths = pad_batch([encoded[i] for i in pos], *pads)
            yield pos, ids, lengths

    def logits(self, encoded: list[list[int]], batch_size: int = PREDICT_BATCH) -> torch.Tensor:
        """Logits ``(len(encoded), num_classes)`` in input order, in eval mode."""
        was_training = self.model.training
        self.model.eval()
        out = torch.empty((len(encoded), len(self.labels)))
        try:
            with torch.inference_mode():
                model, table = self.model, self._projection_table()
                for pos, ids, lengths in self.batches(encoded, batch_size):
                    if table is not None and isinstance(model, TextCNN):
                        out[torch.as_tensor(pos)] = model.logits_from_table(table, ids, lengths)
                    else:
                        out[torch.as_tensor(pos)] = model(ids, lengths)
        finally:
            self.model.train(was_training)
        return out

    def _projection_table(self) -> list[torch.Tensor] | None:
        if not self.frozen or not isinstance(self.model, TextCNN):
            return None
        if self._table is None:
            width = sum(self.config.filter_sizes) * self.config.num_filters
            if len(self.vocab) * width * 4 > TABLE_LIMIT_BYTES:
                return None
            self._table = self.model.projection_table()
        return self._table

    def predict_proba(self, texts: Sequence[str], source: str = "input", truncate: bool = False) -> np.ndarray:
        """Class probabilities ``(len(texts), num_classes)``, columns in ``labels`` order."""
        return torch.softmax(self.logits(self.encode(texts, source, truncate)), dim=1).numpy()

    def predict(
        self, texts: Sequence[str], k: int = 1, source: str = "input", truncate: bool = False
    ) -> list[list[tuple[str, float]]]:
        """The top ``k`` ``(label, probability)`` pairs per text, most probable first.
        ``truncate``: a text over ``config.max_tokens`` is cut to its first tokens instead
        of being an error.

        Raises:
            ConfigError: ``k`` < 1.
            FormatError: a text is too long (see :meth:`encode`).
        """
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        k = min(k, len(self.labels))
        probs = self.predict_proba(texts, source, truncate)
        top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return [[(self.labels[j], float(probs[i, j])) for j in row] for i, row in enumerate(top)]

    def evaluate(self, data: Dataset, truncate: bool = False) -> Metrics:
        """Scores on labelled ``data``; ``truncate`` as in :meth:`predict`.

        Raises:
            FormatError: ``data`` holds a label the classifier was not trained on, or a
                text over ``config.max_tokens`` (without ``truncate``).
        """
        label_ids = {lab: i for i, lab in enumerate(self.labels)}
        unknown = sorted(set(data.labels) - set(label_ids))
        if unknown:
            raise FormatError(
                f"{data.source}: labels {unknown[:5]} were not in the training data (known: {self.labels[:10]})"
            )
        gold = np.array([label_ids[lab] for lab in data.labels])
        pred = self.logits(self.encode(data.texts, data.source, truncate)).argmax(dim=1).numpy()
        return score(gold, pred, self.labels)
