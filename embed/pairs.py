"""Sliding-window training examples with word2vec's dynamic window.

For every centre position ``i`` word2vec draws ``b`` uniformly from ``[0, window - 1]``
and uses the effective window ``window - b``: contexts are the positions ``j`` with
``0 < |i - j| <= window - b``. Nearer words are therefore sampled more often.
Subsampling (dropping frequent words) happens before the window is applied.

Worked example, window 2, sentence ids ``[10, 11, 12, 13]`` and reduced windows
``b = [0, 1, 0, 1]`` (effective windows ``[2, 1, 2, 1]``)::

    centre 10 (eff 2): contexts 11, 12
    centre 11 (eff 1): contexts 10, 12
    centre 12 (eff 2): contexts 10, 11, 13
    centre 13 (eff 1): contexts 12

All functions are pure given their ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np


def reduced_windows(n: int, window: int, rng: np.random.Generator) -> np.ndarray:
    """Effective window per position: ``window - b`` with ``b ~ U{0, ..., window - 1}``."""
    return window - rng.integers(0, window, size=n)


def subsample(ids: np.ndarray, keep_probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drop each occurrence of word ``w`` with probability ``1 - keep_probs[w]``."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size == 0:
        return ids
    kept: np.ndarray = ids[rng.random(ids.size) < keep_probs[ids]]
    return kept


def skipgram_pairs_from_windows(ids: np.ndarray, eff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) id arrays in word2vec order, given the effective window per position.

    >>> c, x = skipgram_pairs_from_windows(np.array([10, 11, 12, 13]), np.array([2, 1, 2, 1]))
    >>> list(zip(c.tolist(), x.tolist()))
    [(10, 11), (10, 12), (11, 10), (11, 12), (12, 10), (12, 11), (12, 13), (13, 12)]
    """
    ids = np.asarray(ids, dtype=np.int64)
    n = ids.size
    window = int(eff.max()) if n else 0
    centres, contexts = [], []
    for d in range(-window, window + 1):
        if d == 0:
            continue
        pos = np.arange(max(0, -d), min(n, n - d))
        pos = pos[eff[pos] >= abs(d)]
        centres.append(pos)
        contexts.append(pos + d)
    if not centres:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    cpos = np.concatenate(centres)
    xpos = np.concatenate(contexts)
    order = np.lexsort((xpos, cpos))
    return ids[cpos[order]], ids[xpos[order]]


def skipgram_pairs(ids: np.ndarray, window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (centre, context) pairs of one sentence of ids (already subsampled)."""
    ids = np.asarray(ids, dtype=np.int64)
    return skipgram_pairs_from_windows(ids, reduced_windows(ids.size, window, rng))


def cbow_examples_from_windows(ids: np.ndarray, eff: np.ndarray) -> list[tuple[list[int], int]]:
    """(contexts, centre) examples in word2vec order; centres without any context are skipped.

    >>> cbow_examples_from_windows(np.array([10, 11, 12, 13]), np.array([2, 1, 2, 1]))
    [([11, 12], 10), ([10, 12], 11), ([10, 11, 13], 12), ([12], 13)]
    """
    ids = np.asarray(ids, dtype=np.int64).tolist()
    n = len(ids)
    out = []
    for i in range(n):
        e = int(eff[i])
        ctx = ids[max(0, i - e) : i] + ids[i + 1 : i + 1 + e]
        if ctx:
            out.append((ctx, ids[i]))
    return out


def cbow_examples(ids: np.ndarray, window: int, rng: np.random.Generator) -> list[tuple[list[int], int]]:
    """Seeded (contexts, centre) examples of one sentence of ids (already subsampled)."""
    ids = np.asarray(ids, dtype=np.int64)
    return cbow_examples_from_windows(ids, reduced_windows(ids.size, window, rng))


def window_matrix(sent: np.ndarray, eff: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Context positions and validity for every position of a chunk of many sentences.

    Vectorised over the whole chunk (no Python loop per token): ``sent[i]`` is the sentence
    number of position ``i``; a context must lie in the same sentence and within ``eff[i]``.

    Returns:
        ``pos`` int64 (n, 2 * window): the candidate context positions, offsets
        ``-window..-1, 1..window`` (clipped into range where invalid), and ``valid`` bool
        (n, 2 * window).

    >>> pos, ok = window_matrix(np.array([0, 0, 0, 1]), np.array([2, 1, 2, 1]), 2)
    >>> [pos[i][ok[i]].tolist() for i in range(4)]
    [[1, 2], [0, 2], [0, 1], []]
    """
    n = sent.size
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])
    pos = np.arange(n)[:, None] + offsets[None, :]
    inside = (pos >= 0) & (pos < n)
    pos = np.clip(pos, 0, max(n - 1, 0))
    valid = inside & (sent[pos] == sent[:, None]) & (np.abs(offsets)[None, :] <= eff[:, None])
    return pos, valid


def chunk_skipgram_pairs(
    ids: np.ndarray, sent: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) ids of a chunk of sentences, in word2vec order (by centre, then position).

    Same pairs as :func:`skipgram_pairs_from_windows` applied sentence by sentence with the
    same ``eff``; ``ids`` must already be subsampled.

    >>> rng = np.random.default_rng(0)
    >>> c, x = chunk_skipgram_pairs(np.array([10, 11, 12, 13]), np.array([0, 0, 0, 1]), 1, rng)
    >>> list(zip(c.tolist(), x.tolist()))
    [(10, 11), (11, 10), (11, 12), (12, 11)]
    """
    eff = reduced_windows(ids.size, window, rng)
    pos, valid = window_matrix(sent, eff, window)
    rows, cols = np.nonzero(valid)
    return ids[rows], ids[pos[rows, cols]]


def chunk_cbow_examples(
    ids: np.ndarray, sent: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CBOW examples of a chunk: ``centres`` (m,), flat ``contexts`` and ``example`` (which centre each
    context belongs to).

    Centres without any context are skipped, as in word2vec.c.

    >>> rng = np.random.default_rng(0)
    >>> c, x, e = chunk_cbow_examples(np.array([10, 11, 12, 13]), np.array([0, 0, 0, 1]), 1, rng)
    >>> c.tolist(), x.tolist(), e.tolist()
    ([10, 11, 12], [11, 10, 12, 11], [0, 1, 1, 2])
    """
    eff = reduced_windows(ids.size, window, rng)
    pos, valid = window_matrix(sent, eff, window)
    has = valid.any(1)
    valid = valid[has]
    pos = pos[has]
    rows, cols = np.nonzero(valid)
    return ids[has], ids[pos[rows, cols]], rows


def interleave_examples(
    centres: np.ndarray, contexts: np.ndarray, example: np.ndarray, batch: int, spacing: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorder CBOW examples so that ``batch`` consecutive ones lie ``spacing`` apart in the text.

    Within each block of ``spacing * batch`` examples the new order is ``0, s, 2s, ...``, then
    ``1, s + 1, ...``, and so on (``s = spacing``); each example keeps its centre and its
    contexts (``example`` is renumbered).

    >>> c, x, e = interleave_examples(np.array([10, 11, 12]), np.array([11, 10, 12, 11]), np.array([0, 1, 1, 2]), 2, 2)
    >>> c.tolist(), x.tolist(), e.tolist()
    ([10, 12, 11], [11, 11, 10, 12], [0, 1, 2, 2])
    """
    m = centres.size
    spacing, batch = max(spacing, 1), max(batch, 1)
    idx = np.arange(m)
    order = np.argsort((idx // (spacing * batch)) * spacing + idx % spacing, kind="stable")
    counts = np.bincount(example, minlength=m)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    lens = counts[order]
    new_starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    flat = np.repeat(starts[order] - new_starts, lens) + np.arange(int(lens.sum()))
    return centres[order], contexts[flat], np.repeat(np.arange(m), lens)
