"""Time of one "did you mean" look-up (:func:`embed.suggest.suggest`) at 100k and 2M words.

    python -m bench.suggest

Vocabularies of random lower-case words (2-14 letters, seed 0) held as :class:`embed.store.ListWords`;
queries are vocabulary words with one random letter changed (misses). Reports the first call
(which builds the searched head once per vocabulary) and the median / max of 200 later calls.
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def main() -> None:
    from bench.common import machine, today
    from embed.store import ListWords
    from embed.suggest import suggest

    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    print(today(), machine())
    for n in (100_000, 2_000_000):
        words = list(dict.fromkeys("".join(rng.choice(letters, rng.integers(2, 15))) for _ in range(int(n * 1.05))))[:n]
        n = len(words)
        vocab = ListWords(words)
        known = set(words)
        queries = []
        while len(queries) < 201:
            w = list(words[int(rng.integers(0, n))])
            w[int(rng.integers(0, len(w)))] = str(rng.choice(letters))
            if (q := "".join(w)) not in known:
                queries.append(q)
        t0 = time.perf_counter()
        suggest(vocab, queries[0])
        first = time.perf_counter() - t0
        times = []
        for q in queries[1:]:
            t0 = time.perf_counter()
            suggest(vocab, q)
            times.append(time.perf_counter() - t0)
        print(
            f"{n:>9,} words: first call {first:.2f} s, then median {statistics.median(times) * 1e3:.1f} ms, max"
            f" {max(times) * 1e3:.1f} ms"
        )


if __name__ == "__main__":
    main()
