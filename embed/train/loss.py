"""A correct per-epoch loss, the same for every backend.

gensim's running loss is known to be wrong (gensim#2617, #2735, #2743: it accumulates
across epochs, loses float32 precision and is not comparable between sg and CBOW), so
we never report it. Instead, a fixed *probe* of training examples is drawn once, with
fixed negatives, from the start of the corpus (no subsampling, dynamic window as in
training). After each epoch the mean negative-sampling loss over the probe is computed
in float64 from the model's current input and output weights::

    loss(h, o, N) = -log sigmoid(h . out[o]) - sum_{n in N} log sigmoid(-h . out[n])

with ``h = in[centre]`` for skip-gram and ``h = mean(in[contexts])`` for CBOW.
Negatives equal to the target are masked, as in word2vec.c.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from embed.pairs import reduced_windows
from embed.vocab import Vocab

PROBE_EXAMPLES = 20_000


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


class LossProbe:
    """Fixed examples + negatives; ``loss(w_in, w_out)`` evaluates them."""

    def __init__(self, corpus: Iterable[list[str]], vocab: Vocab, arch: str, window: int, negative: int, seed: int, n_examples: int = PROBE_EXAMPLES) -> None:
        rng = np.random.default_rng(seed + 7919)
        self.arch = arch
        centres: list[int] = []
        contexts: list[np.ndarray] = []
        for tokens in corpus:
            ids = vocab.encode(tokens)
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
        # Flat contexts and per-example starts: the CBOW mean as one np.add.reduceat.
        sizes = np.array([c.size for c in self.contexts], dtype=np.int64)
        self._flat = np.concatenate(self.contexts) if self.contexts else np.zeros(0, dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes.size else sizes
        self._sizes = sizes
        noise = vocab.noise_distribution()
        self.negatives = rng.choice(len(vocab), size=(self.centres.size, negative), p=noise)

    def __len__(self) -> int:
        return int(self.centres.size)

    def loss(self, w_in: np.ndarray, w_out: np.ndarray) -> float:
        """Mean loss per example (float64), or NaN when the probe is empty."""
        if not len(self):
            return float("nan")
        w_in = np.asarray(w_in, dtype=np.float64)
        w_out = np.asarray(w_out, dtype=np.float64)
        if self.arch == "skipgram":
            # Skip-gram: the context word's input vector predicts the centre (word2vec.c order).
            h = w_in[self._flat]
        else:
            h = np.add.reduceat(w_in[self._flat], self._starts, axis=0) / self._sizes[:, None]
        pos = np.einsum("ij,ij->i", h, w_out[self.centres])
        neg = np.einsum("ij,ikj->ik", h, w_out[self.negatives])
        mask = self.negatives != self.centres[:, None]
        total = -_log_sigmoid(pos) - (_log_sigmoid(-neg) * mask).sum(1)
        return float(total.mean())
