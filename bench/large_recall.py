"""Real-data check for issue 15: ANN recall@10 by word on trained vectors, against the exact scan.

    python -m bench.large_recall MODEL_DIR [--words 500] [--ef-search 64,128] [--use-index]

MODEL_DIR is a model directory (e.g. 300-dim vectors trained on the enwiki extract); its index is
built with ``--tables off`` into a copy-free ``index/`` (HNSW, the defaults of ``embed index``),
then 500 random words (seeded) are asked through the HNSW index and through the exact scan
(:class:`embed.search.Searcher`, as the server does); recall@10 and the median time per
query are printed for each efSearch. One thread, as a server worker runs. ``--use-index`` searches the
model's own ``index/`` instead of building one (e.g. the 2M-word model of ``bench.large``).
``--warm N`` first asks N other random words (at the first efSearch), so that a memory-mapped
index's page faults are paid before the timings (a server's steady state).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model", type=Path)
    p.add_argument("--words", type=int, default=500)
    p.add_argument("--ef-search", default="64,128")
    p.add_argument("--use-index", action="store_true", help="search MODEL_DIR/index instead of building an HNSW index")
    p.add_argument("--warm", type=int, default=0, help="ask this many other words first (page faults)")
    args = p.parse_args()

    import faiss

    from embed.index import IndexConfig, build_index, load_index, set_threads
    from embed.io import load
    from embed.search import Searcher

    vectors = load(args.model)
    t0 = time.perf_counter()
    index = (
        load_index(args.model, vectors)
        if args.use_index
        else build_index(vectors, IndexConfig(kind="hnsw", tables="off", threads=2))
    )
    assert index is not None and index.ann is not None and not index.tables, "needs an HNSW index without tables"
    print(
        f"{args.model}: {len(vectors):,} words x {vectors.dim}; HNSW {'loaded' if args.use_index else 'built'} in"
        f" {time.perf_counter() - t0:.0f}s"
    )
    set_threads(1)
    searcher = Searcher(vectors, index)
    rng = np.random.default_rng(0)
    picked = rng.choice(len(vectors), args.words + args.warm, replace=False)
    words = [vectors.word(int(i)) for i in picked[: args.words]]
    efs = [int(x) for x in args.ef_search.split(",")]
    faiss.downcast_index(index.ann).hnsw.efSearch = efs[0]
    t0 = time.perf_counter()
    for i in picked[args.words :]:
        searcher.by_word(vectors.word(int(i)), 10, exact=False)
    if args.warm:
        print(f"warm-up: {args.warm:,} words in {time.perf_counter() - t0:.0f}s")
    exact = {w: searcher.by_word(w, 10, exact=True).words for w in words}
    print("| efSearch | recall@10 | median ms / query (ANN) |\n|---|---|---|")
    for ef in efs:
        faiss.downcast_index(index.ann).hnsw.efSearch = ef
        times, recall = [], []
        for w in words:
            t = time.perf_counter()
            got = searcher.by_word(w, 10, exact=False)
            times.append(time.perf_counter() - t)
            recall.append(len(set(got.words) & set(exact[w])) / 10)
        print(f"| {ef} | {np.mean(recall):.3f} | {1000 * np.median(times):.3f} |")


if __name__ == "__main__":
    main()
