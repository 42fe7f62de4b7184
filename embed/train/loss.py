"""A correct per-epoch loss, the same for every backend.

gensim's running loss is known to be wrong (gensim#2617, #2735, #2743: it accumulates
across epochs, loses float32 precision and is not comparable between sg and CBOW), so
we never report it. Instead, a fixed *probe* of training examples is drawn once, with
fixed negatives, from sentences spread evenly over the whole corpus (every k-th
sentence), with the training's subsampling and dynamic window, so that it estimates the
objective training minimises. After each epoch the mean negative-sampling loss over
the probe is computed in float64 from the model's current input and output weights::

    loss(h, o, N) = -log sigmoid(h . out[o]) - sum_{n in N} log sigmoid(-h . out[n])

with ``h = in[centre]`` for skip-gram and ``h = mean(in[contexts])`` for CBOW.
Negatives equal to the target are masked, as in word2vec.c.

An earlier probe took the first 20,000 examples of the corpus without subsampling. On the
bundled Bible it sometimes *rose* in the last epoch (2.5614 -> 2.6004 when reported; 2.6007 ->
2.6106 in one of four runs of ``python -m bench.loss_probe``), and a probe of the last 3,000
verses without subsampling rose in the last epoch in all three quiet runs (2.46 -> 2.53),
while the same loss over every 10th sentence, subsampled as in training, fell every epoch in
every run (2.78 -> 2.38). Training minimises the *subsampled* objective, which under-weights
frequent-word pairs, so an unsubsampled slice of one place in the corpus can get worse while
training improves. The probe is now what training optimises, spread over the corpus: its curve
falls every epoch and flattens as the learning rate decays to ``min_alpha``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import sparse

from embed.pairs import reduced_windows
from embed.vocab import Vocab

PROBE_EXAMPLES = 20_000


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):  # NaN weights give a NaN loss, reported as divergence
        out: np.ndarray = -np.logaddexp(0.0, -x)
    return out


def _stride(vocab: Vocab, keep: np.ndarray, arch: str, window: int, n_examples: int) -> int:
    """Take every k-th sentence so that the probe's examples span the whole corpus (margin 2x)."""
    if not vocab.sentences or not vocab.retained_tokens:
        return 1
    kept = float(np.dot(vocab.counts, keep))  # expected tokens kept by subsampling, per epoch
    per_token = (window + 1) if arch == "skipgram" else 1  # mean contexts of the dynamic window
    expected = kept * per_token
    return max(1, int(expected / (2 * n_examples)))


class LossProbe:
    """Fixed examples + negatives; ``loss(w_in, w_out)`` evaluates them."""

    def __init__(
        self,
        corpus: Iterable[list[str]],
        vocab: Vocab,
        arch: str,
        window: int,
        negative: int,
        seed: int,
        n_examples: int = PROBE_EXAMPLES,
        sample: float = 0.0,
    ) -> None:
        rng = np.random.default_rng(seed + 7919)
        self.arch = arch
        keep = vocab.keep_probs(sample)
        stride = _stride(vocab, keep, arch, window, n_examples)
        centres: list[int] = []
        contexts: list[np.ndarray] = []
        for number, tokens in enumerate(corpus):
            if number % stride:
                continue
            ids = vocab.encode(tokens)
            if sample > 0:
                ids = ids[rng.random(ids.size) < keep[ids]]
            if ids.size < 2:
                continue
            eff = reduced_windows(ids.size, window, rng)
            for i in range(ids.size):
                e = int(eff[i])
                ctx = np.concatenate([ids[max(0, i - e) : i], ids[i + 1 : i + 1 + e]])
                if arch == "skipgram":
                    centres.extend([int(ids[i])] * ctx.size)
                    contexts.extend(ctx.reshape(-1, 1))
                else:
                    centres.append(int(ids[i]))
                    contexts.append(ctx)
            if len(centres) >= n_examples:
                break
        self.centres = np.array(centres[:n_examples], dtype=np.int64)
        self.contexts = contexts[:n_examples]
        # Flat contexts, and the CBOW mean as a sparse (examples x vocabulary) averaging matrix.
        sizes = np.array([c.size for c in self.contexts], dtype=np.int64)
        self._flat = np.concatenate(self.contexts).astype(np.int64) if self.contexts else np.zeros(0, dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        noise = vocab.noise_distribution()
        self.negatives = rng.choice(len(vocab), size=(self.centres.size, negative), p=noise)
        self._rows, local = np.unique(self._flat, return_inverse=True)  # the distinct context rows
        self._mean = sparse.csr_matrix(
            (np.repeat(1.0 / np.maximum(sizes, 1), sizes), local.ravel(), indptr), shape=(sizes.size, self._rows.size)
        )

    def __len__(self) -> int:
        return int(self.centres.size)

    def loss(self, w_in: np.ndarray, w_out: np.ndarray, order: np.ndarray | None = None) -> float:
        """Mean loss per example (float64), or NaN when the probe is empty.

        ``order[i]`` is the row of vocabulary id ``i`` in ``w_in``/``w_out`` when the
        backend stores words in another order (gensim); default: the same order.
        """
        if not len(self):
            return float("nan")
        # Only the probe's rows are gathered and widened to float64: converting whole
        # (vocabulary x dim) matrices, or gathering (examples x negatives x dim) at once,
        # cost ~1 s per call in page faults on these machines.
        w_in, w_out = np.asarray(w_in), np.asarray(w_out)
        at = (lambda ids: ids) if order is None else (lambda ids: order[ids])
        if self.arch == "skipgram":
            # Skip-gram: the context word's input vector predicts the centre (word2vec.c order).
            h = w_in[at(self._flat)].astype(np.float64)
        else:
            h = np.asarray(self._mean @ w_in[at(self._rows)].astype(np.float64))
        pos = np.einsum("ij,ij->i", h, w_out[at(self.centres)].astype(np.float64))
        neg = np.empty(self.negatives.shape)
        rows = np.empty((len(self), w_out.shape[1]), dtype=w_out.dtype)
        for j in range(self.negatives.shape[1]):
            np.take(w_out, at(self.negatives[:, j]), axis=0, out=rows)
            neg[:, j] = np.einsum("ij,ij->i", h, rows.astype(np.float64))
        mask = self.negatives != self.centres[:, None]
        total = -_log_sigmoid(pos) - (_log_sigmoid(-neg) * mask).sum(1)
        return float(total.mean())
