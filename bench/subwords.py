"""Subword vectors (issue 17): embed's torch fastText vs gensim FastText vs fastText's C++, same run.

    python -m bench.subwords --tokens 2000000            # a subset: the first 2M tokens (quick)
    nice python -m bench.subwords                         # the full enwiki extract (16.2M tokens)
    python -m bench.subwords --parts main,heldout,zh      # choose parts (default: all three)

Corpus: the enwiki extract normalised like text8 (bench/common.py), cached in bench/out/.
Settings for every system: skip-gram, dim 100, window 5, 5 negatives, min-count 5, sample
1e-3, lr 0.025, 5 epochs, 2 threads, n-grams 3-6, 2,000,000 buckets. Each run is a child
process (its own peak RSS; fastText's is measured by the parent with RUSAGE_CHILDREN).
words/s = raw tokens x epochs / wall time (vocabulary pass included).

* main: words/s, peak RSS, Google analogies (restrict-vocab 30,000), WS353, SimLex-999.
* heldout: drop every token of ~3,000 mid-frequency words (ranks 2,000-30,000; all such words
  of WS353 and SimLex-999 first, then random ones) from the corpus, train on the rest, and
  score the WS353+SimLex pairs that hold a dropped word with its OOV (n-gram) vector.
* zh: jieba-tokenised bundled novels, torch skip-gram: no subwords vs n-grams 1-2 vs 3-6;
  CA8 and wordsim-240, and neighbours of a few names not in the vocabulary.
Results: bench/out/subwords-<tokens>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import ENWIKI, OUT, gensim_kwargs, machine, text8_normalise, today

P = {
    "dim": 100,
    "window": 5,
    "negative": 5,
    "min_count": 5,
    "sample": 1e-3,
    "alpha": 0.025,
    "epochs": 5,
    "workers": 2,
    "minn": 3,
    "maxn": 6,
    "bucket": 2_000_000,
}
# fastText's command-line flag for each of P's keys
FASTTEXT_FLAGS = {
    "dim": "-dim",
    "window": "-ws",
    "negative": "-neg",
    "min_count": "-minCount",
    "sample": "-t",
    "alpha": "-lr",
    "epochs": "-epoch",
    "workers": "-thread",
    "minn": "-minn",
    "maxn": "-maxn",
    "bucket": "-bucket",
}
ZH_OOV = ("曹孟德", "贾宝玉", "孙行者", "诸葛孔明")


def subset(src: Path, tokens: int | None, drop: set[str] | None = None) -> Path:
    """The first ``tokens`` tokens of ``src`` (all when None), lines kept, ``drop`` words removed."""
    name = f"enwiki-{tokens or 'all'}{'-heldout' if drop else ''}.txt"
    dst = OUT / name
    if dst.exists():
        return dst
    n = 0
    with open(src, encoding="ascii") as fin, open(dst.with_suffix(".tmp"), "w", encoding="ascii") as fout:
        for line in fin:
            words = line.split()
            n += len(words)
            if drop:
                words = [w for w in words if w not in drop]
            if words:
                fout.write(" ".join(words) + "\n")
            if tokens is not None and n >= tokens:
                break
    dst.with_suffix(".tmp").rename(dst)
    return dst


def _pairs() -> list[tuple[str, str, float]]:
    from embed.evaluate import NAMED_PAIRS, resolve_eval_file

    out = []
    for name in ("ws353", "simlex999"):
        _, path = resolve_eval_file(name, NAMED_PAIRS)
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if line.startswith("#") or len(parts) != 3:
                continue
            out.append((parts[0].lower(), parts[1].lower(), float(parts[2])))
    return out


def _heldout_words(corpus: Path, n: int = 3000, seed: int = 1) -> list[str]:
    counts: Counter[str] = Counter()
    with open(corpus, encoding="ascii") as fh:
        for line in fh:
            counts.update(line.split())
    ranked = [w for w, _ in counts.most_common()]
    mid = set(ranked[2000:30000])
    in_pairs = sorted({w for a, b, _ in _pairs() for w in (a, b)} & mid)
    rest = sorted(mid - set(in_pairs))
    random.Random(seed).shuffle(rest)
    return (in_pairs + rest)[:n]


def _vectors_of(system: str, model: Any) -> Any:
    """Vectors (with Subwords) from an embed result, a gensim FastText model, or a fastText .bin path."""
    import numpy as np

    from embed.subwords import Subwords, SubwordSpec
    from embed.vectors import Vectors

    if system == "embed-torch":
        return model.vectors
    kv = model.wv if system == "gensim" else model
    spec = SubwordSpec(kv.min_n, kv.max_n, kv.bucket)
    return Vectors.from_arrays(
        list(kv.index_to_key), kv.vectors, subwords=Subwords(spec, np.asarray(kv.vectors_ngrams, dtype=np.float32))
    )


def _train(system: str, corpus: Path, arch: str = "skipgram") -> tuple[Any, float, int]:
    """Train one system; returns vectors, seconds and raw tokens."""
    t0 = time.perf_counter()
    if system == "embed-torch":
        from embed.config import TrainConfig
        from embed.corpus import Corpus
        from embed.train import train

        config = TrainConfig(backend="torch", tokenizer="whitespace", subwords=True, arch=arch, **P)  # type: ignore[arg-type]
        result = train(Corpus(corpus, tokenizer="whitespace"), config)
        return _vectors_of(system, result), time.perf_counter() - t0, result.vocab.total_tokens
    if system == "gensim":
        from gensim.models import FastText
        from gensim.models.word2vec import LineSentence

        model = FastText(sentences=LineSentence(str(corpus)), **gensim_kwargs(P, arch), seed=1)
        return _vectors_of(system, model), time.perf_counter() - t0, model.corpus_total_words
    raise ValueError(system)


def _fasttext(corpus: Path, tmp: Path, arch: str = "skipgram") -> tuple[Any, float, int, float]:
    from gensim.models.fasttext import load_facebook_vectors

    cmd = ["fasttext", arch, "-input", str(corpus), "-output", str(tmp / "ft")]
    for key, flag in FASTTEXT_FLAGS.items():
        cmd += [flag, str(P[key])]
    cmd += ["-verbose", "0"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    tokens = sum(len(line.split()) for line in open(corpus, encoding="ascii"))
    return _vectors_of("fasttext", load_facebook_vectors(str(tmp / "ft.bin"))), seconds, tokens, rss


def _quality(vectors: Any) -> dict[str, float]:
    from embed.evaluate import evaluate

    return {
        k: round(v, 4)
        for k, v in evaluate(vectors, analogies=("google",), pairs=("ws353", "simlex999")).summary().items()
    }


def _oov_score(vectors: Any, heldout: set[str]) -> dict[str, Any]:
    """Spearman of the WS353+SimLex pairs holding a held-out word, scored with OOV vectors."""
    from scipy.stats import spearmanr

    gold, pred, oov = [], [], 0
    for a, b, score in _pairs():
        if a not in heldout and b not in heldout:
            continue
        if (a not in heldout and a not in vectors) or (b not in heldout and b not in vectors):
            continue
        oov += sum(w not in vectors for w in (a, b))
        gold.append(score)
        pred.append(vectors.similarity(a, b))
    return {
        "pairs": len(gold),
        "oov_words_in_pairs": oov,
        "spearman": round(float(spearmanr(gold, pred).correlation), 4) if gold else None,
    }


def child(spec: dict[str, Any]) -> None:
    from embed.runtime import configure_threads

    # as `embed train` does: OpenMP's spin before torch loads (embed.runtime); without it a busy machine collapses
    configure_threads(P["workers"], "train")
    corpus = Path(spec["corpus"])
    with tempfile.TemporaryDirectory() as tmp:
        if spec["system"] == "fasttext":
            vectors, seconds, tokens, rss = _fasttext(corpus, Path(tmp), spec.get("arch", "skipgram"))
        else:
            vectors, seconds, tokens = _train(spec["system"], corpus, spec.get("arch", "skipgram"))
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res: dict[str, Any] = {
        "seconds": round(seconds, 1),
        "tokens": tokens,
        "vocab": len(vectors),
        "peak_rss_mb": round(rss),
        "words_per_sec": round(tokens * P["epochs"] / seconds),
    }
    if spec.get("heldout"):
        held = set(spec["heldout"])
        res["in_vocab_heldout"] = sum(w in vectors for w in held)
        res["oov"] = _oov_score(vectors, held)
    else:
        res["quality"] = _quality(vectors)
    print(json.dumps(res))


def zh_child(spec: dict[str, Any]) -> None:
    from embed.config import TrainConfig
    from embed.evaluate import evaluate
    from embed.train import train

    extra = (
        {"subwords": True, "minn": spec["minn"], "maxn": spec["maxn"], "bucket": P["bucket"]} if spec["minn"] else {}
    )
    config = TrainConfig(backend="torch", tokenizer="jieba", dim=100, epochs=5, workers=2, **extra)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    result = train("corpora/zh_novels", config)
    v = result.vectors
    out = {
        "seconds": round(time.perf_counter() - t0, 1),
        "vocab": len(v),
        "quality": {k: round(x, 4) for k, x in evaluate(v).summary().items()},
        "coverage": {p.name: p.oov_percent for p in evaluate(v).pairs},
        "neighbours": {},
    }
    for w in ZH_OOV:
        out["neighbours"][w] = (
            [(x, round(s, 3)) for x, s in v.most_similar(w, topn=5)]
            if (w in v or v.is_oov(w))
            else "not in the vocabulary"
        )
    print(json.dumps(out, ensure_ascii=False))


def _run(fn: str, spec: dict[str, Any]) -> dict[str, Any]:
    code = f"import json,sys; from bench.subwords import {fn}; {fn}(json.loads(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=None, help="train on the first N tokens only (default: all 16.2M)")
    ap.add_argument("--parts", default="main,heldout,zh")
    ap.add_argument("--systems", default="embed-torch,gensim,fasttext")
    ap.add_argument("--tag", default="", help="suffix of the results file (runs side by side)")
    ap.add_argument("--arch", default="skipgram", choices=("skipgram", "cbow"), help="main and heldout parts")
    args = ap.parse_args()
    parts, systems = args.parts.split(","), args.systems.split(",")
    full = text8_normalise(ENWIKI, OUT / "enwiki_text8.txt")
    corpus = subset(full, args.tokens)
    report: dict[str, Any] = {
        "date": today(),
        "machine": machine(),
        "tokens": args.tokens or "all",
        "params": P | {"arch": args.arch},
        "command": " ".join(sys.argv),
    }
    path = OUT / f"subwords-{args.tokens or 'all'}{'-' + args.tag if args.tag else ''}.json"

    def save() -> None:
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    if "main" in parts:
        report["main"] = {}
        for s in systems:
            report["main"][s] = _run("child", {"system": s, "corpus": str(corpus), "arch": args.arch})
            print(s, report["main"][s], flush=True)
            save()
    if "heldout" in parts:
        held = _heldout_words(corpus)
        cut = subset(corpus, None, set(held)) if args.tokens is None else _subset_named(corpus, set(held), args.tokens)
        report["heldout"] = {"words": len(held), "sample": held[:20]}
        for s in systems:
            report["heldout"][s] = _run("child", {"system": s, "corpus": str(cut), "heldout": held, "arch": args.arch})
            print("heldout", s, report["heldout"][s], flush=True)
            save()
    if "zh" in parts:
        report["zh"] = {}
        for label, (mn, mx) in {"none": (0, 0), "1-2": (1, 2), "3-6": (3, 6)}.items():
            report["zh"][label] = _run("zh_child", {"minn": mn, "maxn": mx})
            print("zh", label, report["zh"][label], flush=True)
            save()
    print(f"wrote {path}")


def _subset_named(corpus: Path, drop: set[str], tokens: int) -> Path:
    dst = OUT / f"enwiki-{tokens}-heldout.txt"
    if not dst.exists():
        with open(corpus, encoding="ascii") as fin, open(dst, "w", encoding="ascii") as fout:
            for line in fin:
                words = [w for w in line.split() if w not in drop]
                if words:
                    fout.write(" ".join(words) + "\n")
    return dst


if __name__ == "__main__":
    main()
