"""Why the old loss probe rose in the last epoch (issue 16): five probes over one gensim run.

    python -m bench.loss_probe [skipgram|cbow] [EPOCHS]

Trains gensim word2vec on the bundled Bible (dim 100, window 5, 5 negatives, sample 1e-3, seed 1,
2 workers) and after each epoch evaluates :class:`embed.train.loss.LossProbe` on examples drawn
from: the start of the corpus without subsampling (``start``: the old probe), the start with the
training's subsampling (``start_sub``), every 10th sentence without / with subsampling
(``spread`` / ``spread_sub``: the new probe's design) and the last 3,000 verses (``end``).
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main() -> None:
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    from bench.common import OUT, git_rev, machine, today
    from embed.corpus import Corpus, TokenSpool
    from embed.train.loss import LossProbe
    from embed.vocab import Vocab

    arch = sys.argv[1] if len(sys.argv) > 1 else "skipgram"
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    sample = 1e-3
    spool = TokenSpool(Corpus("corpora/kjv.txt"))
    vocab = Vocab.build(spool, min_count=5)
    keep = vocab.keep_probs(sample)
    sentences = list(spool)
    spool.close()

    def subsampled(src: list[list[str]]) -> list[list[str]]:
        rng = np.random.default_rng(3)
        out = []
        for tokens in src:
            ids = vocab.encode(tokens)
            out.append([vocab.words[i] for i in ids[rng.random(ids.size) < keep[ids]]])
        return out

    spread = [s for i, s in enumerate(sentences) if i % 10 == 3]
    # sample=0: these probes take their examples as given (subsampled or not, above)
    probes = {
        name: LossProbe(src, vocab, arch, 5, 5, 1)
        for name, src in (
            ("start", sentences),
            ("start_sub", subsampled(sentences)),
            ("spread", spread),
            ("spread_sub", subsampled(spread)),
            ("end", sentences[-3000:]),
        )
    }
    model = Word2Vec(
        vector_size=100,
        window=5,
        min_count=5,
        sample=sample,
        seed=1,
        workers=2,
        sg=int(arch == "skipgram"),
        negative=5,
        alpha=0.025 if arch == "skipgram" else 0.05,
        min_alpha=1e-4,
        epochs=epochs,
    )
    model.build_vocab_from_freq(
        dict(zip(vocab.words, vocab.counts.tolist(), strict=False)), corpus_count=vocab.sentences
    )
    perm = np.array([model.wv.key_to_index[w] for w in vocab.words])
    rows: list[dict[str, float]] = []

    class Hook(CallbackAny2Vec):  # type: ignore[misc]
        def on_epoch_end(self, m: Word2Vec) -> None:
            rows.append({k: round(p.loss(m.wv.vectors, m.syn1neg, order=perm), 4) for k, p in probes.items()})
            print(len(rows), rows[-1], flush=True)

    model.train(sentences, total_examples=vocab.sentences, epochs=epochs, callbacks=[Hook()])
    OUT.mkdir(exist_ok=True)
    record = {
        "date": today(),
        "machine": machine(),
        "git": git_rev(),
        "command": " ".join(sys.argv),
        "arch": arch,
        "epochs": rows,
    }
    (OUT / f"loss_probe_{arch}.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
