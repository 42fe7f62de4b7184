"""Chinese training on the bundled novels: tokenizing once vs re-tokenizing every pass (issue 16).

    python -m bench.zh_train                    # gensim backend, both modes, one after the other
    python -m bench.zh_train --modes spool --backend torch

``retokenize`` is the path before issue 16: the vocabulary pass, the loss probe and every
epoch run jieba over ``corpora/zh_novels`` again. ``spool`` is :func:`embed.train.train`,
which tokenizes once (:class:`embed.corpus.TokenSpool`). Same seed, same parameters
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
    corpus = Corpus(CORPUS, tokenizer="jieba")
    t0 = time.perf_counter()
    if mode == "spool":
        result = train(corpus, config)
    else:
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
        "neighbours": {w: [(n, round(s, 3)) for n, s in vectors.most_similar(w, topn=8)] for w in WORDS if w in vectors},
        "analogies": [{k: a[k] for k in ("name", "accuracy", "correct", "total", "questions", "skipped")} for a in report["analogies"]],
        "pairs": [{k: p[k] for k in ("name", "spearman", "oov_percent", "pairs", "skipped")} for p in report["pairs"]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="retokenize,spool")
    ap.add_argument("--backend", default="gensim")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.backend), ensure_ascii=False))
        return
    rows = []
    for mode in args.modes.split(","):
        out = subprocess.run([sys.executable, "-m", "bench.zh_train", "--child", mode, "--backend", args.backend], check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False, indent=1), flush=True)
    if len(rows) == 2:
        print(f"speed-up {rows[0]['seconds'] / rows[1]['seconds']:.2f}x ({rows[0]['seconds']} s -> {rows[1]['seconds']} s)")
    OUT.mkdir(exist_ok=True)
    record = {"date": today(), "machine": machine(), "git": git_rev(), "command": " ".join(sys.argv), "rows": rows}
    (OUT / f"zh_train_{args.backend}.json").write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
