"""Hand-written SGD steps for negative sampling (no autograd), shared by CPU and CUDA.

For one example with hidden vector ``h`` (skip-gram: ``in[context]``; CBOW: the mean of
``in[contexts]``), target ``t`` and negatives ``n_1..n_k`` the loss is::

    L = -log s(h . out[t]) - sum_j log s(-h . out[n_j])          (s = sigmoid)

and its gradients are ``dL/d out[t] = -(1 - s(h . out[t])) h``,
``dL/d out[n_j] = s(h . out[n_j]) h`` and
``dL/dh = -(1 - s(h . out[t])) out[t] + sum_j s(h . out[n_j]) out[n_j]``.
word2vec.c writes this as ``g = (label - s(score)) * lr`` and adds ``g * h`` to the output
row and ``g * out[row]`` to ``h``'s input row(s); we do the same, batched, and the tests
check these formulas against autograd.

Deviations from word2vec.c, for speed, documented here:

* **Mini-batches, summed** (Hogwild-like): every example's gradient is computed from the
  weights at the start of its batch and all are added with ``index_add_`` (a sum, not a
  mean, so the per-example step size is word2vec's ``lr``). word2vec.c applies them one
  example at a time; with the default batch sizes a word rarely repeats enough within a
  batch to matter (frequent words are subsampled).
* **Repeated input rows are capped** (skip-gram): a word that occurs in bursts can be the
  context of 150-200 of a batch's 4,096 pairs, and 200 summed steps from the same stale
  weights overshoot: on the bundled KJV Bible (dim 50, 5 epochs) 3 of 10 seeds diverged in
  the first epoch. A row that occurs more than :data:`ROW_CAP` times in a batch takes each
  step scaled by ``ROW_CAP / count``, i.e. ``ROW_CAP`` times its mean step
  (:func:`cap_repeated_rows`); the 10 seeds then all train (BENCHMARKS.md, "torch skip-gram
  on bursty corpora"). Output rows are not capped: capping them too moved KJV's final loss
  by 0.001-0.002 only.
* **CBOW batches are interleaved** (:func:`embed.pairs.interleave_examples`): a batch holds
  every 3rd example of a block of 3 x batch rather than ``batch`` consecutive ones, whose
  windows overlap so that each context row would get ~2 x window summed stale updates.
* **Negatives shared by a group** of ``group`` consecutive examples (the group's examples
  mostly share one centre word, as in Ji et al. 2016, "Parallelizing word2vec in shared and
  distributed memory"): each example still sees ``k`` negatives drawn from unigram^0.75,
  but the ``k`` rows are gathered and scattered once per group, turning the negative scores
  into a small matrix product. A negative equal to the example's target is masked (its
  gradient is zero), as word2vec.c skips it. CBOW groups examples ``batch / group`` apart
  instead (see :func:`cbow_step`): neighbouring CBOW examples have nearly the same mean
  context, and sharing negatives among them cost 3-4 analogy points.
"""

from __future__ import annotations

import torch

# Skip-gram: the most examples' worth of summed step one input row takes from a batch (module docstring).
# On KJV, 64 and 128 both stopped the divergence; 64 gave the lower final probe loss (2.418 against 2.421
# for seed 2) and 32 a higher one (2.441). The rule, 1 / max(1, count / cap) per entry, is the one subword rows
# already had (torch_subwords.SHARED_CAP, applied by its numpy scatter_plan); here it is counted on the device.
ROW_CAP = 64


def _grouped(t: torch.Tensor, group: int, spread: bool) -> torch.Tensor:
    """A view of the rows of ``t`` (B, ...) as (B // group, group, ...): members adjacent, or ``B // group`` apart."""
    if spread:
        return t.view(group, -1, *t.shape[1:]).transpose(0, 1)
    return t.view(-1, group, *t.shape[1:])


def _neg_scores(hg: torch.Tensor, negs: torch.Tensor, w_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Grouped ``hg`` (B/g, g, d), ``negs`` (B/g, k) -> negative rows (B/g, k, d) and scores (B/g, g, k)."""
    n_rows = w_out.index_select(0, negs.reshape(-1)).view(*negs.shape, hg.shape[2])
    return n_rows, torch.bmm(hg, n_rows.transpose(1, 2))


def ns_step(
    h: torch.Tensor,
    targets: torch.Tensor,
    negs: torch.Tensor,
    w_out: torch.Tensor,
    lr: float,
    group: int,
    spread: bool = False,
) -> torch.Tensor:
    """One batched SGD step on the output weights; returns the step for ``h``.

    Args:
        h: (B, d) hidden vectors, B a multiple of ``group``.
        targets: (B,) int64 target rows of ``w_out``.
        negs: (B // group, k) int64 negative rows, shared by each group of examples.
        w_out: (V, d) output weights, updated in place with ``index_add_``.
        lr: the learning rate of this batch.
        spread: the examples sharing ``negs[i]`` are ``i, i + B/group, i + 2B/group, ...``
            (CBOW) instead of ``group * i ... group * i + group - 1`` (skip-gram). Either
            way the groups are strided views, not copies.

    Returns:
        ``dh`` (B, d): ``lr`` times the negative gradient of the loss w.r.t. ``h`` (add it to
        the input rows); all gradients use the weights from before the step.
    """
    d = h.shape[1]
    hg = _grouped(h, group, spread)  # (B/g, g, d)
    o = w_out.index_select(0, targets)
    pos = (h * o).sum(1)
    n_rows, neg = _neg_scores(hg, negs, w_out)
    # word2vec.c skips a negative equal to the target: mask it.
    keep = (negs.unsqueeze(1) != _grouped(targets, group, spread).unsqueeze(2)).to(h.dtype)
    g_pos = torch.sigmoid(pos.neg_()).mul_(lr)  # (1 - s(x)) lr = s(-x) lr, (B,)
    g_neg = torch.sigmoid(neg).mul_(keep).mul_(-lr)  # (B/g, g, k)
    d_out_t = h * g_pos[:, None]
    d_out_n = torch.bmm(g_neg.transpose(1, 2), hg).view(-1, d)
    dh = o.mul_(g_pos[:, None])
    if spread:  # baddbmm_ into a strided view measured ~10x slower than this on CPU
        _grouped(dh, group, spread).add_(torch.bmm(g_neg, n_rows))
    else:
        _grouped(dh, group, spread).baddbmm_(g_neg, n_rows)
    w_out.index_add_(0, targets, d_out_t)
    w_out.index_add_(0, negs.reshape(-1), d_out_n)
    return dh


def ns_loss(
    h: torch.Tensor, targets: torch.Tensor, negs: torch.Tensor, w_out: torch.Tensor, group: int
) -> torch.Tensor:
    """The summed negative-sampling loss of a batch (differentiable; the tests use it with autograd)."""
    o = w_out.index_select(0, targets)
    pos = (h * o).sum(1)
    _, neg = _neg_scores(_grouped(h, group, False), negs, w_out)
    keep = (negs.unsqueeze(1) != targets.view(-1, group, 1)).to(h.dtype)
    return -torch.nn.functional.logsigmoid(pos).sum() - (torch.nn.functional.logsigmoid(-neg) * keep).sum()


def cap_repeated_rows(dh: torch.Tensor, rows: torch.Tensor, counts: torch.Tensor, cap: int = ROW_CAP) -> None:
    """Scale in place the steps ``dh`` (B, d) of the rows that occur more than ``cap`` times in ``rows`` (B,) by
    ``cap / count``, so that such a row's summed step is ``cap`` times its mean step.

    ``counts``: a (V,) buffer of zeros in ``dh``'s dtype and device, zeros again on return (clearing only the
    rows used keeps the cost per batch independent of V).
    """
    counts.index_add_(0, rows, torch.ones_like(rows, dtype=counts.dtype))
    seen = counts.index_select(0, rows)
    counts.index_fill_(0, rows, 0.0)
    if dh.device.type == "cpu" and float(seen.max()) <= cap:  # the common batch: nothing to scale (no GPU sync)
        return
    dh.mul_(seen.reciprocal_().mul_(cap).clamp_(max=1.0).unsqueeze(1))


def skipgram_step(
    w_in: torch.Tensor,
    w_out: torch.Tensor,
    contexts: torch.Tensor,
    centres: torch.Tensor,
    negs: torch.Tensor,
    lr: float,
    group: int,
    counts: torch.Tensor | None = None,
) -> None:
    """Skip-gram: ``in[context]`` predicts the centre (word2vec.c's order); updates both matrices in place.

    ``counts``: a zero (V,) buffer for :func:`cap_repeated_rows` (None: input rows uncapped, as the formula tests
    need)."""
    h = w_in.index_select(0, contexts)
    dh = ns_step(h, centres, negs, w_out, lr, group)
    if counts is not None:
        cap_repeated_rows(dh, contexts, counts)
    w_in.index_add_(0, contexts, dh)


def cbow_step(
    w_in: torch.Tensor,
    w_out: torch.Tensor,
    contexts: torch.Tensor,
    example: torch.Tensor,
    starts: torch.Tensor,
    centres: torch.Tensor,
    negs: torch.Tensor,
    lr: float,
    group: int,
) -> None:
    """CBOW: the mean of the context input vectors predicts the centre.

    Args:
        contexts: (C,) flat context ids, grouped by example; ``example`` (C,) the batch row
            each belongs to.
        starts: (B,) int64 offset in ``contexts`` of each example's first context (every
            example has at least one).
        centres: (B,) targets.

    The mean is one ``embedding_bag`` (a fused gather-and-average; ``index_add_`` into a
    zero matrix and a division cost twice as much on CPU). As in word2vec.c (and gensim
    with ``cbow_mean=1``), the full step for the mean is added to every context word's
    input vector (not divided by the count).
    """
    h = torch.nn.functional.embedding_bag(contexts, w_in, starts, mode="mean")
    # Neighbouring CBOW examples share most of their contexts, so their ``h`` are nearly
    # equal: sharing negatives among them pushed the same rows with ~group identical
    # updates (analogy 6.6% vs 9.6% unshared, 3M tokens). Group examples b/group apart.
    dh = ns_step(h, centres, negs, w_out, lr, group, spread=True)
    w_in.index_add_(0, contexts, dh.index_select(0, example))
