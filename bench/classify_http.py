"""HTTP predict throughput and latency of a TextCNN served by ``embed serve`` (issue 5).

    python -m bench.classify_http [--duration 15] [--connections 16]

A Kim-style CNN-rand is trained once on MR (``../shared/data/classify_en/kim2014_sentence``,
3 epochs; accuracy does not matter here, the model's size does: Kim's 3/4/5 x 100 maps,
300-dim embeddings over MR's vocabulary) and cached in bench/out/mr-cnn-rand. The service
runs with 2 uvicorn workers x 1 torch thread (no word model); wrk (Debian package) posts
random bodies of 1 and of 32 MR sentences at ``--connections`` for ``--duration`` seconds;
the anchor in the same run is a FastAPI endpoint doing no work (bench/anchors.py).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from bench.common import OUT, git_rev, machine, today
from bench.serving import server, write_bodies, wrk

MODEL = OUT / "mr-cnn-rand"


def ensure_classifier() -> tuple[Path, list[str]]:
    from bench.classify_common import KIM
    from embed.classify import ClassifierConfig, fit, read_dataset, save_classifier

    data = read_dataset(KIM / "rt-polarity.all", "kim")
    if not (MODEL / "config.json").exists():
        clf = fit(data, ClassifierConfig(mode="rand", tokenizer="whitespace", epochs=3, threads=2))
        save_classifier(MODEL, clf, overwrite=True)
    return MODEL, list(data.texts)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=15)
    p.add_argument("--connections", type=int, default=16)
    args = p.parse_args(argv)
    from embed.runtime import configure_threads

    configure_threads(2, "classify")  # its servers inherit the passive OpenMP wait, as measured
    model, texts = ensure_classifier()
    rng = random.Random(0)
    rows: list[dict[str, Any]] = []
    OUT.mkdir(parents=True, exist_ok=True)
    with server("bench.anchors:create_app", {"ANCHOR": "noop"}, workers=2) as (url, _):
        bodies = write_bodies(OUT / "noop_bodies.txt", [{"word": "w", "k": 10}])
        rows.append(
            {
                "scenario": "anchor: FastAPI endpoint doing no work",
                "batch": 0,
                **wrk(url, "/similar", bodies, args.connections, args.duration),
            }
        )
    env = {"EMBED_MODELS": "{}", "EMBED_CLASSIFIERS": json.dumps({"mr": str(model)})}
    with server("service.app:create_app", env, workers=2) as (url, _):
        for batch in (1, 32):
            bodies = write_bodies(
                OUT / f"predict_bodies_{batch}.txt", [{"texts": rng.sample(texts, batch)} for _ in range(2000)]
            )
            r = wrk(url, "/v1/classifiers/mr/predict", bodies, args.connections, args.duration)
            rows.append(
                {
                    "scenario": f"embed serve: predict, {batch} text(s) per request",
                    "batch": batch,
                    **r,
                    "sentences_per_s": r["rps"] * batch,
                }
            )
    print(
        f"\n{today()}, {machine()}, git {git_rev()}, {args.connections} connections x {args.duration} s,"
        " 2 workers x 1 thread"
    )
    print("| scenario | req/s | sentences/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        sps = f"{r['sentences_per_s']:,.0f}" if r["batch"] else "-"
        print(
            f"| {r['scenario']} | {r['rps']:,.0f} | {sps} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
            f" {sum(r['errors'].values())} |"
        )
    (OUT / "classify_http.json").write_text(
        json.dumps({"date": today(), "machine": machine(), "rows": rows}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
