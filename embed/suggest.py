"""'Did you mean': vocabulary words close to an unknown one.

Candidates, best first: case variants of the word found in the vocabulary (``King`` ->
``king``), words one edit away, words that start with it (``photosynth`` -> ``photosynthesis``),
words two edits away; more frequent (lower row) first within each group. Edits are
optimal-string-alignment distances over characters (Levenshtein plus adjacent transpositions,
so ``teh`` -> ``the`` is one edit; Chinese works the same: ``曹躁`` -> ``曹操``), computed by
rapidfuzz. Words of up to three characters allow one edit, longer ones two.

The work is bounded: edit distances and prefixes are searched among the ``HEAD`` most frequent
words (looked up once per vocabulary and kept: about 0.3 s for a memory-mapped store), case
variants over the whole vocabulary (hash look-ups).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from embed.prefix import PrefixIndex
from embed.store import ListWords, MappedWords

if TYPE_CHECKING:
    from embed.vectors import Vectors

HEAD = 200_000
"""Most frequent rows searched by edit distance and prefix.

Measured 2026-12-01 (random 2-14 letter words, CPU): a call takes 2-7 ms once the head is
indexed; indexing it takes 0.13 s at 100k words, 0.26 s for a memory-mapped 2M-word store.
The whole 2M would cost ~150 ms a call in rapidfuzz alone.
"""

Source = Union["Vectors", ListWords, MappedWords, Sequence[str]]


@dataclass
class _Head:
    """The searched rows, grouped by length (an edit changes the length by at most one)."""

    by_length: dict[int, tuple[list[str], np.ndarray]]
    prefixes: PrefixIndex


_heads: weakref.WeakKeyDictionary[ListWords | MappedWords, _Head] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def suggest(source: Source, word: str, k: int = 5) -> list[str]:
    """Up to ``k`` vocabulary words the user may have meant by ``word``, best first.

    ``source`` is a :class:`~embed.vectors.Vectors` (its ``folds_case`` decides whether the
    word is lower-cased before the edit search), a vocabulary, or a list of words in row order.

    >>> suggest(["king", "kings", "queen", "ring"], "kingz")
    ['king', 'kings', 'ring']
    >>> suggest(["曹操", "刘备", "孙权"], "曹躁")
    ['曹操']
    """
    if not isinstance(word, str) or not word or k < 1:
        return []
    vocab, folds = _vocabulary(source)
    query = word.lower() if folds else word
    variants = [
        v for v in dict.fromkeys((word.lower(), word.capitalize(), word.upper(), word.title())) if vocab.get(v) >= 0
    ]
    head = _head(vocab)
    close = _within(head, query, 1 if len(query) <= 3 else 2)
    one = [w for d, _, w in close if d <= 1]
    two = [w for d, _, w in close if d == 2]
    starting = head.prefixes.complete(query, k + 1) if len(query) >= 2 else []
    out = [w for w in dict.fromkeys(variants + one + starting + two) if w != word]
    return out[:k]


def _vocabulary(source: Source) -> tuple[ListWords | MappedWords, bool]:
    if isinstance(source, (ListWords, MappedWords)):
        return source, False
    vocab = getattr(source, "vocab", None)
    if isinstance(vocab, (ListWords, MappedWords)):
        return vocab, bool(getattr(source, "folds_case", False))
    return ListWords(source), False


def _head(vocab: ListWords | MappedWords) -> _Head:
    """The first ``HEAD`` words of ``vocab``, indexed once and kept while the vocabulary lives."""
    with _lock:
        head = _heads.get(vocab)
        if head is None:
            n = min(len(vocab), HEAD)
            words = vocab.tolist()[:n] if isinstance(vocab, ListWords) else [vocab[i] for i in range(n)]
            lengths = np.fromiter(map(len, words), dtype=np.int64, count=n)
            by_length = {}
            for length in np.unique(lengths).tolist():
                rows = np.flatnonzero(lengths == length)
                by_length[length] = ([words[i] for i in rows.tolist()], rows)
            head = _heads[vocab] = _Head(by_length, PrefixIndex(words))
    return head


def _within(head: _Head, query: str, max_edits: int) -> list[tuple[int, int, str]]:
    """``(edits, row, word)`` of every searched word at most ``max_edits`` from ``query``, sorted."""
    found: list[tuple[int, int, str]] = []
    for length in range(max(1, len(query) - max_edits), len(query) + max_edits + 1):
        if length not in head.by_length:
            continue
        words, rows = head.by_length[length]
        dist = process.cdist([query], words, scorer=OSA.distance, score_cutoff=max_edits, dtype=np.int32)[0]
        hits = np.flatnonzero(dist <= max_edits)
        found.extend((int(dist[i]), int(rows[i]), words[i]) for i in hits.tolist())
    found.sort()
    return found
