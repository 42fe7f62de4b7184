"""fastText's subword model in PyTorch: skip-gram and CBOW whose input vectors are bags of n-gram rows.

The input matrix holds ``V`` word rows then ``bucket`` n-gram rows (``(V + bucket, dim)``,
all ~ U(-1/dim, 1/dim) as fastText initialises them). Each vocabulary word's bag - its own
row and its n-grams' rows - is computed once per vocabulary (:func:`embed.subwords.word_ngram_table`,
a CSR table), never per token; a batch expands the bags of its words with a few numpy
gathers. The hidden vector is the mean of the bag (``embedding_bag``), as fastText's
``Model::computeHidden``.

Update rule (fastText's ``Model::update`` for skip-gram/CBOW, gensim's
``fasttext_fast_sentence_*_neg``): every row of the bag receives the full step for the hidden
vector, ``lr * -dL/dh``, not ``lr * -dL/dh / n`` as the mean's true gradient would give
(fastText divides only for supervised models). The tests check this against autograd. One
deviation, for mini-batches: a row in more than :data:`SHARED_CAP` bags of one batch has its
summed step scaled down to ``SHARED_CAP`` bags' worth (see the note at the constant).

Skip-gram runs in fastText's direction: the centre word's bag predicts each context word.
Consecutive pairs share their centre (:func:`embed.pairs.chunk_skipgram_pairs` orders them
by centre), so a batch computes each run of equal centres' bag once, sums the run's steps and
scatters them once - a bag of ~20 rows is gathered and scattered per centre, not per pair.
The pairs that share one draw of negatives have different centres (:func:`strided_groups`),
so each of a centre's pairs meets its own negatives, as in fastText. Everything else (corpus,
token cache, subsampling, windows, negatives, learning-rate schedule, device, checkpoints) is
:mod:`embed.train.torch_backend`'s.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from embed.config import TrainConfig
from embed.pairs import chunk_cbow_examples, chunk_skipgram_pairs, interleave_examples
from embed.subwords import Subwords, SubwordSpec, word_ngram_table
from embed.train.torch_backend import CBOW_SPACING, NEG_GROUP, _State
from embed.train.torch_kernels import ns_step
from embed.vocab import Vocab

# Summed stale steps of a batch (torch_kernels' Hogwild-like rule) are fine for word rows, but a
# common n-gram ("he>", "<th") sits in ~100 bags of a 4,096-pair batch, and the sum of ~100 stale
# steps diverged (KJV, dim 50: probe loss 1e8 after one epoch). Its mean collapsed the space
# instead (mean cosine of random words 0.99, CBOW neighbours all > 0.999). Capping the sum at 8
# bags' worth trained best (KJV, dim 50, 2 epochs, 2026-12-01: probe loss 2.556 vs gensim's 2.635,
# mean cosine 0.51). With negatives drawn per centre's pair (strided_groups), 16 did better on the
# first 2M enwiki tokens (Google 48.4% vs 46.9% at 8 and 44.6% at 4; 32 and 64: 48.4%, 48.9%, with
# WS353 falling to 0.448 / 0.444 from 0.460), and the full extract came within fastText's C++ on all
# three scores (BENCHMARKS.md, issue 17). Rows in at most SHARED_CAP bags get exactly fastText's update.
SHARED_CAP = 16


def spec_of(config: TrainConfig) -> SubwordSpec:
    return SubwordSpec(config.minn, config.maxn, config.bucket)


def init_input(v: int, config: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """``(V + bucket, dim)`` input weights ~ U(-1/dim, 1/dim) (fastText's ``wi_->uniform(1.0 / dim)``)."""
    d = config.dim
    return torch.rand(v + config.bucket, d, generator=gen).mul_(2).sub_(1).div_(d)  # in place: one (V + bucket, d) copy


def expand(offsets: np.ndarray, rows: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bags of ``words`` laid end to end: ``flat`` rows, ``owner`` (which word each is from) and ``starts``.

    >>> off, rows = np.array([0, 2, 5]), np.array([0, 7, 1, 8, 9])
    >>> [a.tolist() for a in expand(off, rows, np.array([1, 0, 1]))]
    [[1, 8, 9, 0, 7, 1, 8, 9], [0, 0, 0, 1, 1, 2, 2, 2], [0, 3, 5]]
    """
    lens = offsets[words + 1] - offsets[words]
    starts = np.zeros(words.size, dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    owner = np.repeat(np.arange(words.size, dtype=np.int64), lens)
    flat = rows[offsets[words][owner] + np.arange(owner.size, dtype=np.int64) - starts[owner]]
    return flat, owner, starts


def runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal neighbours in ``values`` (sorted, or grouped): each run's first position and each entry's run.

    >>> [a.tolist() for a in runs(np.array([4, 4, 7, 9, 9, 9]))]
    [[0, 2, 3], [0, 0, 1, 2, 2, 2]]
    """
    new = np.empty(values.size, dtype=bool)
    new[:1] = True
    np.not_equal(values[1:], values[:-1], out=new[1:])
    return np.flatnonzero(new), np.cumsum(new) - 1


class Scatter(NamedTuple):
    """How a batch's input-row steps are summed per distinct row and added to ``w_in`` (:func:`scatter_plan`).

    ``source`` (F,) is, for each entry sorted by its row, the row of the step matrix it adds; ``starts``
    (U,) where each distinct row's entries begin; ``rows`` (U,) the distinct rows, ascending; ``weight``
    (F,) each entry's factor: ``1 / max(1, bags / SHARED_CAP)`` for its row.
    """

    source: torch.Tensor
    starts: torch.Tensor
    rows: torch.Tensor
    weight: torch.Tensor

    def add(self, w_in: torch.Tensor, steps: torch.Tensor) -> None:
        """``w_in[rows] += `` each row's weighted sum of ``steps[source]``.

        The sum is one ``embedding_bag`` over the small step matrix (fused and vectorised), and each
        distinct row of ``w_in`` is touched once, in ascending order. Per entry ``index_add_`` on CPU is a
        serial loop; on ~15,000 entries of 2M buckets this halved the scatter's time (1 thread).
        """
        du = torch.nn.functional.embedding_bag(
            self.source, steps, self.starts, mode="sum", per_sample_weights=self.weight.to(steps.dtype)
        )
        w_in.index_add_(0, self.rows, du)


def scatter_plan(flat: np.ndarray, owner: np.ndarray, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The numpy arrays of a :class:`Scatter`: entries ``flat`` (input rows) sorted, with their owners (``owner``).

    ``weights``: how many bags each entry stands for (1 each by default); a row's bags are the sum of
    its entries' weights, and a row in more than :data:`SHARED_CAP` bags gets its summed step scaled to
    ``SHARED_CAP`` bags' worth.
    """
    order = np.argsort(flat)
    sorted_rows = flat[order]
    starts, seg = runs(sorted_rows)
    bags = np.bincount(seg, weights=None if weights is None else weights[order], minlength=starts.size)
    scale = 1.0 / np.maximum(bags.astype(np.float32) / SHARED_CAP, 1.0)
    return {"source": owner[order], "starts": starts, "rows": sorted_rows[starts], "weight": scale[seg]}


def strided_groups(n: int, group: int) -> tuple[np.ndarray, np.ndarray]:
    """A layout of ``n`` examples in which consecutive groups of ``group`` take examples ``n / group`` apart.

    ``order[k]`` is the example at position ``k``; ``pos[i]`` the position of example ``i`` (its inverse).

    >>> [a.tolist() for a in strided_groups(6, 2)]
    [[0, 3, 1, 4, 2, 5], [0, 2, 4, 1, 3, 5]]
    """
    order = np.arange(n).reshape(group, -1).T.ravel()
    pos = np.arange(n).reshape(-1, group).T.ravel()
    return order, pos


def subword_step(
    w_in: torch.Tensor,
    w_out: torch.Tensor,
    flat: torch.Tensor,
    owner: torch.Tensor,
    starts: torch.Tensor,
    pair_bag: torch.Tensor | None,
    targets: torch.Tensor,
    negs: torch.Tensor,
    lr: float,
    group: int,
    spread: bool,
    scatter: Scatter | None = None,
    pair_starts: torch.Tensor | None = None,
    pair_rows: torch.Tensor | None = None,
) -> None:
    """One batched SGD step with bag-of-rows inputs; updates ``w_in`` and ``w_out`` in place.

    Args:
        flat: (F,) int64 input rows of the bags, end to end; ``owner`` (F,) the bag of each;
            ``starts`` (R,) each bag's first position in ``flat``.
        pair_bag: (B,) the bag that is each example's input (skip-gram: a run of equal
            centres), or None when bag ``i`` is example ``i`` (CBOW, R == B).
        targets: (B,) rows of ``w_out`` to predict; ``negs`` (B // group, k) shared negatives.
        scatter: the batch's :class:`Scatter` (its sources are bags), which applies :data:`SHARED_CAP`;
            None adds every row's full summed step (fastText's rule, no cap).
        pair_starts: (R,) with ``pair_bag``: where each bag's examples begin in ``pair_rows`` (B,), the
            examples of bag 0, then of bag 1, ... (default: ``pair_bag`` is sorted, examples in order); their
            steps are summed by one ``embedding_bag`` (2x faster than ``index_add_`` on CPU).
    """
    h_bags = torch.nn.functional.embedding_bag(flat, w_in, starts, mode="mean")  # (R, d)
    h = h_bags if pair_bag is None else h_bags.index_select(0, pair_bag)
    dh = ns_step(h, targets, negs, w_out, lr, group, spread=spread)
    if pair_bag is not None:
        assert pair_starts is not None, "pair_bag comes with pair_starts"
        if pair_rows is None:
            pair_rows = torch.arange(dh.shape[0], device=dh.device)
        dh = torch.nn.functional.embedding_bag(pair_rows, dh, pair_starts, mode="sum")
    if scatter is None:
        w_in.index_add_(0, flat, dh.index_select(0, owner))
    else:
        scatter.add(w_in, dh)


def cbow_subword_step(
    w_in: torch.Tensor,
    w_out: torch.Tensor,
    flat: torch.Tensor,
    word_starts: torch.Tensor,
    slot_word: torch.Tensor,
    slot_example: torch.Tensor,
    bag_sizes: torch.Tensor,
    targets: torch.Tensor,
    negs: torch.Tensor,
    lr: float,
    group: int,
    scatter: Scatter,
) -> None:
    """One batched CBOW step whose input bag is every row of every context word's bag (fastText's CBOW).

    The bags of the batch's *distinct* context words are gathered once, not once per context slot:
    an example's hidden vector is the sum of its slots' bag sums over its total bag size (the mean of
    all its rows), and a word's rows get the summed steps of the examples it is a context of. The
    same arithmetic as :func:`subword_step` on the expanded bags (tested), on ~1/3 of the rows.

    Args:
        flat: (F,) rows of the distinct context words' bags, end to end; ``word_starts`` (W,) each
            bag's first position.
        slot_word, slot_example: (C,) each context slot's word (in 0..W) and example (in 0..B).
        bag_sizes: (B,) float, each example's total bag size (rows over all its slots).
        scatter: as :func:`subword_step`'s, its sources the distinct words, each row counted once per slot.
    """
    sums = torch.nn.functional.embedding_bag(flat, w_in, word_starts, mode="sum")  # (W, d)
    b, d = targets.shape[0], w_in.shape[1]
    h = torch.zeros(b, d, dtype=w_in.dtype, device=w_in.device).index_add_(0, slot_example, sums[slot_word])
    h.div_(bag_sizes[:, None])
    dh = ns_step(h, targets, negs, w_out, lr, group, spread=True)
    scatter.add(w_in, torch.zeros_like(sums).index_add_(0, slot_word, dh.index_select(0, slot_example)))


class SubwordState(_State):
    """The torch backend's epoch loop with subword bags as inputs, skip-gram and CBOW."""

    def __init__(self, config: TrainConfig, vocab: Vocab, *args: Any) -> None:
        super().__init__(config, vocab, *args)
        self.offsets, self.rows = word_ngram_table(vocab.words, spec_of(config))

    def _scatter(self, flat: np.ndarray, owner: np.ndarray, weights: np.ndarray | None = None) -> Scatter:
        """The batch's :class:`Scatter` (:func:`scatter_plan`) as tensors on the device."""
        return Scatter(**{k: self._tensor(a) for k, a in scatter_plan(flat, owner, weights).items()})

    def _skipgram_chunk(self, ids: np.ndarray, sent: np.ndarray, n: int, w_in: Any, w_out: Any) -> None:
        """Skip-gram in fastText's direction; the examples sharing negatives have different centres.

        Consecutive pairs share their centre, so the word-only rule (a group of consecutive pairs
        shares one draw of negatives) would show a centre's bag the same ``negative`` rows for all its
        ~2 x window contexts. Here a batch's pairs are laid out so that group ``j`` holds pairs
        ``j, j + G, j + 2G, ...`` (``G`` groups): each pair of a centre meets its own negatives, as in
        fastText. Full enwiki: +3.9 Google points, +0.027 SimLex (BENCHMARKS.md, issue 17).
        """
        centres, contexts = chunk_skipgram_pairs(ids, sent, self.config.window, self.rng)
        m = centres.size
        negs = self.sampler.draw((-(-m // NEG_GROUP) + 1, self.config.negative))
        tn = self._tensor(negs)
        for start, stop, group in self._batches(m):
            c = centres[start:stop]
            run_starts, run = runs(c)
            order, pos = strided_groups(c.size, group)
            flat, owner, starts = expand(self.offsets, self.rows, c[run_starts])
            g0 = start // NEG_GROUP
            g1 = g0 + (stop - start) // group
            lr = self.lr(start / max(m, 1), n)
            subword_step(
                w_in,
                w_out,
                self._tensor(flat),
                self._tensor(owner),
                self._tensor(starts),
                self._tensor(run[order]),
                self._tensor(contexts[start:stop][order]),
                tn[g0:g1],
                lr,
                group,
                False,
                self._scatter(flat, owner),
                self._tensor(run_starts),
                self._tensor(pos),
            )

    def _cbow_chunk(self, ids: np.ndarray, sent: np.ndarray, n: int, w_in: Any, w_out: Any) -> None:
        """CBOW as fastText's: an example's input is one bag, every row of every context word's bag.

        Its hidden vector is the mean of those rows and each of them gets the full step (fastText's
        ``Model::update``), under the batch's :data:`SHARED_CAP`. Examples are interleaved as the
        word-only CBOW's (``CBOW_SPACING``), so a batch's bags overlap less.
        """
        centres, contexts, example = chunk_cbow_examples(ids, sent, self.config.window, self.rng)
        centres, contexts, example = interleave_examples(
            centres, contexts, example, self._batch_examples(), CBOW_SPACING
        )
        m = centres.size
        offsets = np.concatenate([[0], np.cumsum(np.bincount(example, minlength=m))])
        negs = self.sampler.draw((-(-m // NEG_GROUP) + 1, self.config.negative))
        tc, tn = self._tensor(centres), self._tensor(negs)
        for start, stop, group in self._batches(m):
            a, b = int(offsets[start]), int(offsets[stop])
            words, slot_word, slots = np.unique(contexts[a:b], return_inverse=True, return_counts=True)
            flat, owner, word_starts = expand(self.offsets, self.rows, words)
            slot_example = example[a:b] - start
            sizes = (self.offsets[words + 1] - self.offsets[words])[slot_word]
            bag_sizes = np.bincount(slot_example, weights=sizes, minlength=stop - start).astype(np.float32)
            g0 = start // NEG_GROUP
            g1 = g0 + (stop - start) // group
            cbow_subword_step(
                w_in,
                w_out,
                self._tensor(flat),
                self._tensor(word_starts),
                self._tensor(slot_word),
                self._tensor(slot_example),
                self._tensor(bag_sizes),
                tc[start:stop],
                tn[g0:g1],
                self.lr(start / max(m, 1), n),
                group,
                self._scatter(flat, owner, weights=slots[owner]),
            )

    def input_vectors(self, w_in: torch.Tensor) -> torch.Tensor:
        """Each vocabulary word's input vector (the mean of its bag), ``(V, dim)`` - what the store keeps."""
        off = torch.from_numpy(self.offsets[:-1]).to(w_in.device)
        return torch.nn.functional.embedding_bag(torch.from_numpy(self.rows).to(w_in.device), w_in, off, mode="mean")

    def subwords(self, w_in: torch.Tensor, v: int) -> Subwords:
        return Subwords(spec_of(self.config), np.ascontiguousarray(w_in[v:].cpu().numpy()))
