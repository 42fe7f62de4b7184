"""HNSW over flat float32 vectors vs over SQ8 codes with an exact rerank of 40 candidates (issue 15).

    python -m bench.hnsw_sq8

300,000 x 300 rows of bench/large_data.py at noise 1.0 (unit length), 300 queries from the rows,
ground truth by numpy brute force; efConstruction 80, M 32, 2 build threads, 1 search thread.
Prints build seconds, ms a query, recall@10 before and after the rerank.
"""

import time

import faiss
import numpy as np

from bench.large_data import Data

n, d = 300000, 300
x = np.concatenate([b for _, b, _ in Data(n, d, 1.0).blocks()])
x /= np.linalg.norm(x, axis=1, keepdims=True)
q = x[np.random.default_rng(5).choice(n, 300, replace=False)]
gt = np.argsort(-(q @ x.T), axis=1)[:, 1:11]


def rec(ids):
    return np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, gt, strict=False)])


for name, idx in (
    ("flat", faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)),
    ("sq8", faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)),
):
    faiss.omp_set_num_threads(2)
    idx.hnsw.efConstruction = 80
    t = time.time()
    if name == "sq8":
        idx.train(x[:50000])
    idx.add(x)
    bt = time.time() - t
    faiss.omp_set_num_threads(1)
    for ef in (64, 128):
        idx.hnsw.efSearch = ef
        t = time.time()
        D, ids = idx.search(q, 41)
        st = (time.time() - t) / 300 * 1000
        # exact rerank of the 40 candidates
        t = time.time()
        R = []
        for qi, cand in zip(q, ids, strict=False):
            c = cand[cand >= 0]
            s = x[c] @ qi
            o = np.argsort(-s)
            R.append(c[o][1:11])
        rt = (time.time() - t) / 300 * 1000
        print(
            name,
            ef,
            "build",
            round(bt),
            "search ms",
            round(st, 3),
            "rerank ms",
            round(rt, 3),
            "recall raw",
            round(rec(ids[:, 1:11]), 3),
            "rerank",
            round(rec(R), 3),
            flush=True,
        )
