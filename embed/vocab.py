"""Vocabulary: counting, min-count, max-vocab, subsampling and the noise distribution."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embed.errors import VocabError

logger = logging.getLogger(__name__)


@dataclass
class Vocab:
    """Words sorted by descending count (ties broken alphabetically), with their counts.

    Attributes:
        words: the kept words, most frequent first.
        counts: int64 array, ``counts[i]`` is the corpus count of ``words[i]``.
        total_tokens: all tokens seen in the corpus, kept or not.
        sentences: number of token lists seen.
        pruned: words dropped by min-count or max-vocab.
        count_pruned_words / count_pruned_tokens / count_floor: what bounded counting
            (``count_limit``) discarded while streaming, gensim ``max_vocab_size``-style: each
            time more than ``count_limit`` distinct words are held, words seen at most
            ``count_floor`` times so far are dropped and the floor rises by one. Counts of
            surviving words can then be underestimates, as in gensim.
    """

    words: list[str]
    counts: np.ndarray
    total_tokens: int = 0
    sentences: int = 0
    pruned: int = 0
    count_pruned_words: int = 0
    count_pruned_tokens: int = 0
    count_floor: int = 0
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if len(self.words) != len(self.counts):
            raise VocabError(f"{len(self.words)} words but {len(self.counts)} counts")
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    @property
    def retained_tokens(self) -> int:
        """Tokens of the corpus whose word is in the vocabulary."""
        return int(self.counts.sum())

    @classmethod
    def from_counts(
        cls,
        counts: dict[str, int] | Counter[str],
        min_count: int = 5,
        max_vocab: int | None = None,
        total_tokens: int | None = None,
        sentences: int = 0,
    ) -> Vocab:
        """Keep words with ``count >= min_count``, then the ``max_vocab`` most frequent.

        >>> v = Vocab.from_counts({"a": 5, "b": 7, "c": 1, "d": 5}, min_count=2)
        >>> v.words, v.counts.tolist(), v.pruned
        (['b', 'a', 'd'], [7, 5, 5], 1)
        """
        kept = sorted(((w, c) for w, c in counts.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
        if max_vocab is not None:
            kept = kept[:max_vocab]
        total = sum(counts.values()) if total_tokens is None else total_tokens
        return cls(
            words=[w for w, _ in kept],
            counts=np.array([c for _, c in kept], dtype=np.int64),
            total_tokens=int(total),
            sentences=sentences,
            pruned=len(counts) - len(kept),
        )

    @classmethod
    def build(
        cls,
        sentences: Iterable[list[str]],
        min_count: int = 5,
        max_vocab: int | None = None,
        source: str = "corpus",
        count_limit: int | None = None,
    ) -> Vocab:
        """Count words in one streaming pass and apply min-count / max-vocab.

        ``count_limit`` bounds the memory of counting: at most about that many distinct words
        are held at once (see the class docstring for the pruning rule).

        Raises:
            VocabError: the corpus is empty, or no word reaches ``min_count``.
        """
        counts = WordCounts().add(sentences, count_limit)
        return cls.from_word_counts(counts, min_count, max_vocab, source, count_limit)

    @classmethod
    def from_word_counts(
        cls,
        counts: WordCounts,
        min_count: int = 5,
        max_vocab: int | None = None,
        source: str = "corpus",
        count_limit: int | None = None,
    ) -> Vocab:
        """The vocabulary of a finished count (:meth:`build` after its pass; a data-parallel run after merging).

        Raises:
            VocabError: nothing was counted, or no word reaches ``min_count``.
        """
        counter = counts.counter
        if not counter:
            raise VocabError(f"{source}: the corpus holds no tokens; pass a non-empty text file")
        total = sum(counter.values()) + counts.pruned_tokens
        vocab = cls.from_counts(
            counter, min_count=min_count, max_vocab=max_vocab, total_tokens=total, sentences=counts.sentences
        )
        if counts.pruned_words:
            vocab.count_pruned_words, vocab.count_pruned_tokens, vocab.count_floor = (
                counts.pruned_words,
                counts.pruned_tokens,
                counts.floor - 1,
            )
            logger.warning(
                "%s: bounded counting (count_limit=%d) pruned %d word occurrences of %d distinct rare words; "
                "words seen up to %d times may be missing or undercounted",
                source,
                count_limit,
                counts.pruned_tokens,
                counts.pruned_words,
                counts.floor - 1,
            )
        if not vocab.words:
            top = max(counter.values())
            raise VocabError(
                f"{source}: no word occurs at least min_count={min_count} times "
                f"(the most frequent occurs {top} times); lower --min-count or use a larger corpus"
            )
        logger.info("vocabulary: %d words kept, %d pruned, %d tokens", len(vocab), vocab.pruned, vocab.total_tokens)
        return vocab

    def keep_probs(self, sample: float) -> np.ndarray:
        """Probability of keeping each occurrence of each word (word2vec.c / gensim rule).

        With ``t = sample * retained_tokens`` and count ``c``:
        ``p_keep = min(1, (sqrt(c / t) + 1) * t / c)``; ``sample == 0`` keeps everything.
        """
        return keep_probabilities(self.counts, sample)

    def noise_distribution(self, power: float = 0.75) -> np.ndarray:
        """The negative-sampling distribution ``count**power / sum(count**power)`` (float64)."""
        return noise_distribution(self.counts, power)

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Token ids (int64) of the in-vocabulary tokens, out-of-vocabulary ones dropped."""
        idx = self.index
        return np.fromiter((idx[t] for t in tokens if t in idx), dtype=np.int64)


@dataclass
class WordCounts:
    """A streaming count in progress: what :meth:`Vocab.build` holds between sentences.

    It can be continued on more sentences (:meth:`add`), sent to another process as JSON
    (:meth:`to_json` / :meth:`from_json`) and merged with counts of other sentences
    (:meth:`merge`), so that the ranks of a data-parallel run build the vocabulary one
    process would (:mod:`embed.train.distributed`).

    Attributes:
        counter: word -> count so far (insertion order: first occurrence).
        sentences: token lists counted.
        floor: bounded counting's next pruning threshold (1 until it first prunes).
        pruned_words / pruned_tokens: what bounded counting dropped so far.

    >>> a = WordCounts().add([["a", "b"], ["a"]])
    >>> b = WordCounts.from_json(WordCounts().add([["b", "c"]]).to_json())
    >>> m = WordCounts.merge([a, b])
    >>> dict(m.counter), m.sentences
    ({'a': 2, 'b': 2, 'c': 1}, 3)
    """

    counter: Counter[str] = field(default_factory=Counter)
    sentences: int = 0
    floor: int = 1
    pruned_words: int = 0
    pruned_tokens: int = 0

    def add(self, sentences: Iterable[list[str]], count_limit: int | None = None) -> WordCounts:
        """Count ``sentences`` on top of what is held; with ``count_limit``, prune as :class:`Vocab` describes."""
        counter = self.counter
        n_sent, floor, pruned_words, pruned_tokens = self.sentences, self.floor, self.pruned_words, self.pruned_tokens
        for tokens in sentences:
            counter.update(tokens)
            n_sent += 1
            if count_limit is not None and len(counter) > count_limit:
                rare = [w for w, c in counter.items() if c <= floor]
                pruned_words += len(rare)
                pruned_tokens += sum(counter.pop(w) for w in rare)
                floor += 1
        self.sentences, self.floor, self.pruned_words, self.pruned_tokens = n_sent, floor, pruned_words, pruned_tokens
        return self

    @classmethod
    def merge(cls, parts: Iterable[WordCounts]) -> WordCounts:
        """The counts of all ``parts`` together (counts without pruning: pruning depends on the order).

        Raises:
            VocabError: a part was pruned by bounded counting.
        """
        merged = cls()
        for part in parts:
            if part.pruned_words:
                raise VocabError("counts pruned by count_limit cannot be merged; continue them in corpus order")
            merged.counter.update(part.counter)
            merged.sentences += part.sentences
        return merged

    def to_json(self) -> dict[str, object]:
        return {
            "counts": list(self.counter.items()),
            "sentences": self.sentences,
            "floor": self.floor,
            "pruned_words": self.pruned_words,
            "pruned_tokens": self.pruned_tokens,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WordCounts:
        counter: Counter[str] = Counter()
        for word, count in data["counts"]:
            counter[str(word)] = int(count)
        return cls(
            counter=counter,
            sentences=int(data["sentences"]),
            floor=int(data["floor"]),
            pruned_words=int(data["pruned_words"]),
            pruned_tokens=int(data["pruned_tokens"]),
        )


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec's subsampling rule as a vector of keep probabilities.

    ``t = sample * sum(counts)``; ``p_keep(c) = min(1, (sqrt(c / t) + 1) * t / c)``.

    >>> keep_probabilities(np.array([1000, 10, 1]), 1e-2).round(4).tolist()
    [0.1107, 1.0, 1.0]

    (t = 0.01 * 1011 = 10.11; for c = 1000: (sqrt(98.91) + 1) * 10.11 / 1000 = 10.945 * 0.01011 = 0.1107;
    for c = 10 the formula gives 2.1 and is capped at 1.)
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    probs = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    capped: np.ndarray = np.minimum(probs, 1.0)
    return capped


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Unigram counts raised to ``power`` and normalised.

    >>> noise_distribution(np.array([16, 1]), 0.75).round(4).tolist()
    [0.8889, 0.1111]

    (16**0.75 = 8, 1**0.75 = 1, so 8/9 and 1/9.)
    """
    weights = np.asarray(counts, dtype=np.float64) ** power
    probs: np.ndarray = weights / weights.sum()
    return probs
