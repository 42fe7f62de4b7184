"""Training benchmark: plain gensim (the anchor) vs ``embed`` backends, same run, same corpus.

    python -m bench.train                                  # skip-gram + CBOW, plain gensim vs embed gensim
    python -m bench.train --backend gensim,torch --arch skipgram
    python -m bench.train --limit-tokens 2000000 --epochs 1   # a quick smoke run

Corpus: ../shared/data/en_corpus/enwiki_extract_2015, normalised like text8 (lower-case, a-z
only; ~16.2M tokens), cached in bench/out/. Parameters: dim 100, window 5, 5 negatives,
min-count 5, sample 1e-3, 5 epochs, 2 workers. Each run is a separate child process so that
peak RSS is its own. words/s = raw tokens x epochs / wall time, vocabulary pass included.
Quality: Google analogies (restrict-vocab 30,000), WS353 and SimLex-999 Spearman.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ENWIKI, OUT, gensim_kwargs, git_rev, machine, text8_normalise, today


def _quality(kv_or_vectors: Any) -> dict[str, float]:
    from embed.evaluate import evaluate
    from embed.vectors import Vectors

    vectors = (
        kv_or_vectors
        if isinstance(kv_or_vectors, Vectors)
        else Vectors.from_arrays(kv_or_vectors.index_to_key, kv_or_vectors.vectors)
    )
    return {k: round(v, 4) for k, v in evaluate(vectors).summary().items()}


def run_plain_gensim(corpus: Path, arch: str, p: dict[str, Any]) -> dict[str, Any]:
    """The anchor: gensim's own LineSentence iterable, exactly as a gensim user would run it.

    With the same learning rate as ``embed``: gensim's default ``alpha`` is 0.025 for both
    architectures, word2vec.c's (and ``embed``'s) is 0.05 for CBOW, which alone moves CBOW
    analogy accuracy by ~4 points on this corpus (31.0% vs 34.7%).
    """
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    t0 = time.perf_counter()
    model = Word2Vec(sentences=LineSentence(str(corpus)), **gensim_kwargs({"alpha": 0.025, **p}, arch))
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "tokens": model.corpus_total_words,
        "vocab": len(model.wv),
        "quality": _quality(model.wv),
    }


def run_embed(corpus: Path, arch: str, backend: str, p: dict[str, Any]) -> dict[str, Any]:
    from embed.config import TrainConfig
    from embed.corpus import Corpus
    from embed.train import train

    config = TrainConfig(arch=arch, backend=backend, tokenizer="whitespace", **p)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    result = train(Corpus(corpus, tokenizer="whitespace"), config)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "tokens": result.vocab.total_tokens,
        "vocab": len(result.vocab),
        "quality": _quality(result.vectors),
        "losses": [round(e.loss, 4) for e in result.epochs],
        "backend_info": result.backend_info,
    }


def child(spec: dict[str, Any]) -> None:
    from embed.runtime import configure_threads

    # as `embed train` does: OpenMP's spin before torch loads (embed.runtime); without it a busy machine collapses
    configure_threads(spec["params"]["workers"], "train")
    corpus = Path(spec["corpus"])
    if spec["system"] == "plain-gensim":
        res = run_plain_gensim(corpus, spec["arch"], spec["params"])
    else:
        res = run_embed(corpus, spec["arch"], spec["system"].removeprefix("embed-"), spec["params"])
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["words_per_sec"] = res["tokens"] * spec["params"]["epochs"] / res["seconds"]
    print("RESULT " + json.dumps(res))


def limit_corpus(src: Path, tokens: int) -> Path:
    dst = src.with_name(f"{src.stem}.{tokens}.txt")
    if dst.exists():
        return dst
    n = 0
    with open(src) as fin, open(dst, "w") as fout:
        for line in fin:
            fout.write(line)
            n += len(line.split())
            if n >= tokens:
                break
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ENWIKI, help="raw corpus (normalised text8-style first)")
    ap.add_argument("--backend", default="gensim", help="comma-separated embed backends to run beside plain gensim")
    ap.add_argument("--arch", default="skipgram,cbow")
    ap.add_argument("--no-plain", action="store_true", help="skip the plain-gensim anchor")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--limit-tokens", type=int, default=0, help="use only the first N tokens (smoke runs)")
    ap.add_argument("--device", default="cpu", help="torch backend device")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return

    corpus = text8_normalise(args.corpus, OUT / "enwiki_text8.txt")
    if args.limit_tokens:
        corpus = limit_corpus(corpus, args.limit_tokens)
    params = {
        "dim": 100,
        "window": 5,
        "negative": 5,
        "min_count": 5,
        "sample": 1e-3,
        "epochs": args.epochs,
        "workers": args.workers,
        "seed": 1,
    }
    alphas = {"skipgram": 0.025, "cbow": 0.05}  # word2vec.c's defaults, embed's too (TrainConfig.start_alpha)
    systems = ([] if args.no_plain else ["plain-gensim"]) + [f"embed-{b}" for b in args.backend.split(",") if b]
    rows: list[dict[str, Any]] = []
    for arch in args.arch.split(","):
        for rep in range(args.repeats):
            for system in systems:  # interleaved so drift on a shared machine hits every system alike
                p = dict(params, alpha=alphas[arch])
                if system == "embed-torch":
                    p["device"] = args.device
                spec = {"corpus": str(corpus), "arch": arch, "system": system, "params": p}
                proc = subprocess.run(
                    [sys.executable, "-m", "bench.train", "--child", json.dumps(spec)], capture_output=True, text=True
                )
                line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if line is None:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    raise SystemExit(f"{system} {arch} failed")
                res = json.loads(line[7:]) | {"system": system, "arch": arch, "repeat": rep}
                rows.append(res)
                print(
                    f"{arch:8s} {system:13s} rep {rep}: {res['words_per_sec']:,.0f} words/s  {res['quality']}  rss"
                    f" {res['peak_rss_mb']:.0f} MB",
                    flush=True,
                )
    report(rows, args, corpus)


def report(rows: list[dict[str, Any]], args: argparse.Namespace, corpus: Path) -> None:
    print(f"\n{today()}, {machine()}, git {git_rev()}, corpus {corpus.name}")
    print("| arch | system | words/s (median) | ratio to plain gensim | analogy | WS353 | SimLex | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for arch in args.arch.split(","):
        base = [r["words_per_sec"] for r in rows if r["arch"] == arch and r["system"] == "plain-gensim"]
        for system in dict.fromkeys(r["system"] for r in rows):
            rs = [r for r in rows if r["arch"] == arch and r["system"] == system]
            if not rs:
                continue
            wps = statistics.median(r["words_per_sec"] for r in rs)
            ratio = f"{wps / statistics.median(base):.3f}" if base else "n/a"
            q = {k: statistics.median(r["quality"][k] for r in rs) for k in rs[0]["quality"]}
            rss = max(r["peak_rss_mb"] for r in rs)
            print(
                f"| {arch} | {system} | {wps:,.0f} | {ratio} | {q['google']:.1%} | {q['ws353']:.3f} |"
                f" {q['simlex999']:.3f} | {rss:.0f} |"
            )
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"train-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"date": today(), "machine": machine(), "argv": sys.argv, "rows": rows}, indent=1))
    print(f"raw results: {out}")


if __name__ == "__main__":
    main()
