"""Chinese training on the bundled novels: tokenizing once vs re-tokenizing every pass (issue 16).

    python -m bench.zh_train                    # gensim backend, both modes, one after the other
    python -m bench.zh_train --modes spool --backend torch

``retokenize`` is the path before issue 16: the vocabulary pass, the loss probe and every
epoch run jieba over ``corpora/zh_novels`` again. ``spool`` is :func:`embed.train.train`,
which tokenizes once (:class:`embed.corpus.TokenSpool`), jieba in ``workers`` processes, and
feeds gensim the spooled tokens as an iterable. ``corpus_file`` is the alternative: the same
spool handed to gensim's ``corpus_file`` mode. Same seed, same parameters
(skip-gram, dim 100, window 5, 5 epochs, 2 workers). Quality: the neighbours of 曹操 and 宝玉,
CA8 (morphological, semantic) and wordsim-240 with their coverage. Each mode runs in its
own child process. Results go to bench/out/zh_train.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from bench.common import OUT, git_rev, machine, today

CORPUS = "corpora/zh_novels"
WORDS = ("曹操", "宝玉", "孙悟空")


def run(mode: str, backend: str) -> dict[str, Any]:
    from embed.config import TrainConfig
    from embed.corpus import Corpus
    from embed.evaluate import evaluate
    from embed.train import get_trainer, train
    from embed.train.base import Callbacks
    from embed.vocab import Vocab

    config = TrainConfig(tokenizer="jieba", backend=backend)
    t0 = time.perf_counter()
    if mode == "spool":
        result = train(Corpus(CORPUS, tokenizer="jieba", workers=config.workers), config)
    elif mode == "corpus_file":
        result = _corpus_file(config)
    else:
        corpus = Corpus(CORPUS, tokenizer="jieba")
        vocab = Vocab.build(corpus, min_count=config.min_count, source=CORPUS)
        result = get_trainer(backend).fit(corpus, vocab, config, Callbacks())
    seconds = time.perf_counter() - t0
    vectors = result.vectors
    vectors.meta["tokenizer"] = "jieba"
    report = evaluate(vectors).to_dict()
    return {
        "mode": mode,
        "backend": backend,
        "seconds": round(seconds, 1),
        "tokens": result.vocab.total_tokens,
        "words_per_sec": round(result.vocab.total_tokens * config.epochs / seconds),
        "vocab": len(vectors),
        "loss": [round(e.loss, 4) for e in result.epochs],
        "neighbours": {
            w: [(n, round(s, 3)) for n, s in vectors.most_similar(w, topn=8)] for w in WORDS if w in vectors
        },
        "analogies": [
            {k: a[k] for k in ("name", "accuracy", "correct", "total", "questions", "skipped")}
            for a in report["analogies"]
        ],
        "pairs": [{k: p[k] for k in ("name", "spearman", "oov_percent", "pairs", "skipped")} for p in report["pairs"]],
    }


def _corpus_file(config: Any) -> Any:
    """gensim's ``corpus_file`` mode over the spooled tokens (its workers read byte ranges of the file)."""
    from embed.corpus import Corpus, TokenSpool
    from embed.train.base import EpochStats, TrainResult
    from embed.train.gensim_backend import build_model
    from embed.train.loss import LossProbe
    from embed.vectors import Vectors
    from embed.vocab import Vocab

    spool = TokenSpool(Corpus(CORPUS, tokenizer="jieba", workers=config.workers))
    vocab = Vocab.build(spool, min_count=config.min_count, source=CORPUS)
    probe = LossProbe(spool, vocab, config.arch, config.window, config.negative, config.seed, sample=config.sample)
    model, perm = build_model(config, vocab)  # the model embed's gensim backend builds, rows in vocab order
    model.train(corpus_file=str(spool._path), total_words=vocab.total_tokens, epochs=config.epochs)
    loss = probe.loss(model.wv.vectors, model.syn1neg, order=perm)
    spool.close()
    vectors = Vectors.from_arrays(vocab.words, model.wv.vectors[perm], counts=vocab.counts.tolist())
    return TrainResult(
        vectors=vectors, vocab=vocab, epochs=[EpochStats(config.epochs - 1, loss, vocab.total_tokens, 0.0, 0.0)]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="retokenize,spool,corpus_file")
    ap.add_argument("--backend", default="gensim")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    from embed.runtime import configure_threads

    # as `embed train` does: OpenMP's spin before torch loads (embed.runtime); without it a busy machine collapses
    configure_threads(2, "train")
    if args.child:
        print(json.dumps(run(args.child, args.backend), ensure_ascii=False))
        return
    rows = []
    for mode in args.modes.split(","):
        out = subprocess.run(
            [sys.executable, "-m", "bench.zh_train", "--child", mode, "--backend", args.backend],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False, indent=1), flush=True)
    for row in rows[1:]:
        print(
            f"{row['mode']}: speed-up {rows[0]['seconds'] / row['seconds']:.2f}x over {rows[0]['mode']}"
            f" ({rows[0]['seconds']} s -> {row['seconds']} s)"
        )
    OUT.mkdir(exist_ok=True)
    record = {"date": today(), "machine": machine(), "git": git_rev(), "command": " ".join(sys.argv), "rows": rows}
    (OUT / f"zh_train_{args.backend}.json").write_text(
        json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
