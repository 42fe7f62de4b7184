"""OOV look-ups over HTTP (issue 17): ``/similar`` for words a subword model never saw, against known words.

    python -m bench.subwords_http [--duration 15] [--rounds 3] [--model-dir /tmp/embed-bench/kjv-sub]

Trains (once) the README's subword model of the bundled Bible (``embed train corpora/kjv.txt --subwords
--bucket 200000 --epochs 3``) and indexes it (``embed index``), serves it with 2 workers (1 compute thread
each), and drives ``POST /v1/models/kjv-sub/similar`` with wrk (1 thread, 16 connections) from two body
files, alternating for ``--rounds`` rounds, medians reported:

* known: ``{"word": W, "k": 10}`` for 2,000 random vocabulary words (the anchor, same server, same run);
* OOV: the same words misspelt (one letter doubled, or ``z`` appended) so that none is in the vocabulary;
  each answer's vector is built from the word's n-grams (checked: every sampled answer says ``"oov": true``).

Bar: OOV >= 1,000 req/s. Writes ``bench/out/subwords_http.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.common import OUT, ROOT, embed_command, machine, today
from bench.serving import server, wrk

MODEL = "kjv-sub"


def ensure_model(model_dir: Path) -> Path:
    if not (model_dir / "meta.json").exists():
        cmd = [str(ROOT / "corpora" / "kjv.txt"), "--subwords", "--bucket", "200000", "--epochs", "3"]
        subprocess.run(embed_command("train", *cmd, "--out", str(model_dir), "--quiet", "--no-eval"), check=True)
    if not (model_dir / "index" / "index.json").exists():  # served as the README serves it: indexed first
        subprocess.run(embed_command("index", str(model_dir), "--threads", "2"), check=True)
    return model_dir


def misspell(word: str, rng: random.Random, vocab: set[str]) -> str | None:
    """``word`` with one letter doubled (or ``z`` appended when that is taken); None if both are words."""
    i = rng.randrange(len(word))
    for candidate in (word[: i + 1] + word[i:], word + "z"):
        if candidate not in vocab:
            return candidate
    return None


def bodies(model_dir: Path, folder: Path, n: int = 2000) -> tuple[Path, Path, list[str]]:
    words = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
    vocab = {line.split(" ")[0] for line in words if line}
    rng = random.Random(1)
    known = rng.sample(sorted(w for w in vocab if len(w) >= 4 and w.isalpha()), n)
    oov = [m for w in known if (m := misspell(w, rng, vocab)) is not None]
    paths = []
    for name, group in (("known", known), ("oov", oov)):
        path = folder / f"{name}.txt"
        path.write_text("".join(json.dumps({"word": w, "k": 10}) + "\n" for w in group), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1], oov


def check_marked(url: str, oov: list[str]) -> int:
    """How many of 50 OOV queries came back 200 and marked ``"oov": true``."""
    with httpx.Client(base_url=url, timeout=30) as c:
        answers = [c.post(f"/v1/models/{MODEL}/similar", json={"word": w, "k": 10}) for w in oov[:50]]
    return sum(r.status_code == 200 and r.json().get("oov") is True for r in answers)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=Path("/tmp/embed-bench/kjv-sub"))
    p.add_argument("--duration", type=int, default=15)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    model = ensure_model(args.model_dir)
    runs: dict[str, list[dict[str, Any]]] = {"known": [], "oov": []}
    with tempfile.TemporaryDirectory() as tmp:
        known, oov_bodies, oov = bodies(model, Path(tmp))
        env = {"EMBED_MODELS": json.dumps({MODEL: str(model)})}
        with server("service.app:create_app", env, workers=2) as (url, _):
            marked = check_marked(url, oov)
            target = f"/v1/models/{MODEL}/similar"
            for _ in range(args.rounds):
                for name, path in (("known", known), ("oov", oov_bodies)):
                    runs[name].append(wrk(url, target, path, duration=args.duration))
    rows = {
        name: {
            "rps": statistics.median(r["rps"] for r in rs),
            "p50_ms": statistics.median(r["p50_ms"] for r in rs),
            "p99_ms": statistics.median(r["p99_ms"] for r in rs),
            "errors": sum(sum(r["errors"].values()) for r in rs),
            "rounds": [round(r["rps"], 1) for r in rs],
        }
        for name, rs in runs.items()
    }
    report = {"date": today(), "machine": machine(), "oov_words": len(oov), "marked_of_50": marked, "rows": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "subwords_http.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\n{today()}, {machine()}; {len(oov)} OOV words, {marked} of 50 sampled answers marked oov")
    print(f"`python -m bench.subwords_http --duration {args.duration} --rounds {args.rounds}`\n")
    print("| queries | req/s (median) | p50 ms | p99 ms | errors | rounds |\n|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | {r['rounds']} |")


if __name__ == "__main__":
    main()
