"""IVF (inverted lists) against HNSW for a large model's by-word queries (issue 15): build time, recall, query time.

    python -m bench.ivf_sweep MODEL_DIR [--nlist 4096] [--train-per-list 64] [--nprobe 4,8,16,32] [--words 500]

MODEL_DIR is a model directory from ``embed import`` (bench/large.py writes one: /tmp/embed-large/model).
Its rows are normalised once (unit length: cosine), then ``faiss.IndexIVFFlat`` with a flat inner-product
quantizer is trained on ``train-per-list x nlist`` random rows and filled with every row, with 2 FAISS threads
(the ``embed index`` setting); the queries then run with 1 thread (the server's setting), one at a time as the
server sends them. Ground truth: numpy brute force over the same unit rows, the query word excluded. Prints
train / add seconds, and per nprobe recall@10 and the median ms a query; writes ``bench/out/ivf_sweep.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import faiss
import numpy as np

import embed
from bench.common import OUT, machine, today
from embed.neighbours import normalise


def unit_rows(matrix: np.ndarray, block: int = 100_000) -> np.ndarray:
    out = np.empty(matrix.shape, dtype=np.float32)
    for start in range(0, matrix.shape[0], block):
        out[start : start + block] = normalise(matrix[start : start + block])
    return out


def truth(x: np.ndarray, rows: np.ndarray, k: int = 10, block: int = 200_000) -> np.ndarray:
    """Exact top-``k`` rows by cosine for each query row (itself excluded)."""
    q = x[rows]
    best_s = np.full((len(rows), k), -np.inf, np.float32)
    best_i = np.zeros((len(rows), k), np.int64)
    for start in range(0, x.shape[0], block):
        s = q @ x[start : start + block].T
        inside = (rows >= start) & (rows < start + s.shape[1])
        s[np.nonzero(inside)[0], rows[inside] - start] = -np.inf
        part = np.argpartition(-s, k, axis=1)[:, :k]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, part, 1)], 1)
        cand_i = np.concatenate([best_i, part + start], 1)
        top = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(cand_s, top, 1), np.take_along_axis(cand_i, top, 1)
    return best_i


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--nlist", type=int, default=4096)
    p.add_argument("--train-per-list", type=int, default=64)
    p.add_argument("--nprobe", default="4,8,16,32")
    p.add_argument("--words", type=int, default=500)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    x = unit_rows(embed.load(args.model).matrix)
    n, dim = x.shape
    print(f"{n:,} x {dim} unit rows in {time.perf_counter() - t0:.1f} s", flush=True)
    rng = np.random.default_rng(7)
    rows = rng.choice(n, args.words, replace=False)
    t0 = time.perf_counter()
    gt = truth(x, rows)
    print(f"brute force for {args.words} words: {time.perf_counter() - t0:.1f} s", flush=True)

    faiss.omp_set_num_threads(2)
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, args.nlist, faiss.METRIC_INNER_PRODUCT)
    sample = np.sort(rng.choice(n, size=min(n, args.train_per_list * args.nlist), replace=False))
    t0 = time.perf_counter()
    ivf.train(x[sample])
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for start in range(0, n, 50_000):
        ivf.add(x[start : start + 50_000])
    add_s = time.perf_counter() - t0
    sizes = np.array([ivf.invlists.list_size(i) for i in range(args.nlist)])
    print(f"train {train_s:.1f} s, add {add_s:.1f} s; list sizes median {np.median(sizes):.0f}, max {sizes.max()}")

    faiss.omp_set_num_threads(1)
    results = []
    for nprobe in [int(v) for v in args.nprobe.split(",")]:
        ivf.nprobe = nprobe
        times, hits = [], 0
        for r, want in zip(rows.tolist(), gt, strict=True):
            t = time.perf_counter()
            _, ids = ivf.search(x[r : r + 1], 11)
            times.append(time.perf_counter() - t)
            got = [i for i in ids[0].tolist() if i != r][:10]
            hits += len(set(got) & set(want.tolist()))
        row = {"nprobe": nprobe, "recall_at_10": hits / (10 * len(rows)), "median_ms": 1e3 * statistics.median(times)}
        results.append(row)
        print(f"nprobe {nprobe:4d}: recall@10 {row['recall_at_10']:.3f}, median {row['median_ms']:.3f} ms", flush=True)
    report = {
        "date": today(),
        "machine": machine(),
        "model": str(args.model),
        "rows": n,
        "dim": dim,
        "nlist": args.nlist,
        "train_rows": int(sample.size),
        "train_seconds": round(train_s, 1),
        "add_seconds": round(add_s, 1),
        "list_size_median": float(np.median(sizes)),
        "list_size_max": int(sizes.max()),
        "results": results,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ivf_sweep.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
