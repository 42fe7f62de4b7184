"""Vocabulary prefix look-up for autocomplete: case-insensitive, most frequent words first."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np


class PrefixIndex:
    """Words sorted by their case-folded form, each remembering its frequency rank.

    ``words`` must be in vocabulary order (most frequent first, as :class:`embed.vectors.Vectors`
    keeps them), so a lower rank means a more frequent word. Building sorts the vocabulary once
    (about 2 s and a few hundred MB for 3 million words); each look-up is two binary searches
    plus a partial sort of the matches.

    >>> PrefixIndex(["the", "king", "kings", "King", "queen"]).complete("kin", 10)
    ['king', 'kings', 'King']
    """

    def __init__(self, words: Sequence[str]) -> None:
        folded = [w.casefold() for w in words]
        order = sorted(range(len(words)), key=folded.__getitem__)
        self._keys = [folded[i] for i in order]
        self._ranks = np.asarray(order, dtype=np.int64)
        self._words = words

    def __len__(self) -> int:
        return len(self._keys)

    def complete(self, prefix: str, limit: int = 10) -> list[str]:
        """Up to ``limit`` words starting with ``prefix`` (ignoring case), most frequent first."""
        key = prefix.casefold()
        if limit < 1:
            return []
        lo = bisect.bisect_left(self._keys, key)
        # Every key starting with ``key`` sorts before key + the highest code point.
        hi = bisect.bisect_left(self._keys, key + "\U0010ffff", lo)
        ranks = self._ranks[lo:hi]
        if ranks.size > limit:
            ranks = np.partition(ranks, limit - 1)[:limit]
        return [self._words[int(r)] for r in np.sort(ranks)]
