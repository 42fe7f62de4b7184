"""What one by-word HNSW query costs at 2M words, by how the index's pages are held (issue 15).

    python -m bench.hnsw_storage [--workdir /tmp/embed-large] [--noise 1.0] [--words 500] [--warm 20000]
                                 [--ef-search 128,256] [--variants mmap,mmap-thp,ram,ram-thp,fp16]

Needs the model that ``python -m bench.large --workdir DIR --steps gen,import,index`` leaves in
``DIR/model`` (HNSW, M 32, efConstruction 80). Each variant runs in a fresh process, one FAISS thread
(as a server worker searches):

* ``mmap``     - ``faiss.read_index(..., IO_FLAG_MMAP_IFC)``, as ``embed serve`` maps it (4 KiB pages).
* ``mmap-thp`` - the same mapping, then ``madvise(MADV_HUGEPAGE)`` and ``MADV_COLLAPSE`` on it, asking the
                 kernel for 2 MiB page-cache pages (still shared between processes).
* ``ram``      - ``faiss.read_index`` into the process's own memory (each worker a copy).
* ``ram-thp``  - the same with ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (malloc asks for transparent huge pages).
* ``fp16``     - the same graph over float16 codes (``IndexHNSWSQ`` storage filled from the store), with an
                 exact rerank of 40 candidates from the memory-mapped matrix.

The queries are ``--words`` random rows (bench/large_data.py ``sample_rows``, seed 3); before timing,
``--warm`` other rows are asked at efSearch 64 (page faults and caches). Truth: numpy brute force over the
regenerated rows (exact cosine, the word excluded), cached in the workdir. Prints, per variant and
efSearch, recall@10, the median and p99 ms of one query, and the huge pages the process maps.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.large_data import Data, brute_force, sample_rows

VARIANTS = ("mmap", "mmap-thp", "ram", "ram-thp", "fp16")
MADV_HUGEPAGE, MADV_COLLAPSE = 14, 25
RERANK = 40


def huge_kb() -> dict[str, int]:
    """AnonHugePages and FilePmdMapped of this process, KiB (``/proc/self/smaps_rollup``)."""
    out = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("AnonHugePages", "FilePmdMapped", "Rss"):
            out[key] = int(rest.split()[0])
    return out


def collapse(path: Path) -> str:
    """madvise every mapping of ``path`` in this process for 2 MiB pages; what the kernel said."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    said = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        if line.endswith(str(path)):
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            for advice in (MADV_HUGEPAGE, MADV_COLLAPSE):
                rc = libc.madvise(lo, hi - lo, advice)
                said.append(f"{advice}:{'ok' if rc == 0 else os.strerror(ctypes.get_errno())}")
    return ",".join(said) or "no mapping"


def child(args: argparse.Namespace) -> None:
    import faiss

    from embed.io import load
    from embed.neighbours import normalise

    faiss.omp_set_num_threads(1)
    model = args.workdir / "model"
    path = model / "index" / "ann.faiss"
    vectors = load(model)
    t0 = time.perf_counter()
    note = ""
    if args.child in ("mmap", "mmap-thp"):
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        if args.child == "mmap-thp":
            note = collapse(path)
    else:
        index = faiss.read_index(str(path))
    hnsw = faiss.downcast_index(index)
    if args.child == "fp16":
        codes = faiss.IndexHNSWSQ(vectors.dim, faiss.ScalarQuantizer.QT_fp16, 32, faiss.METRIC_INNER_PRODUCT)
        codes.hnsw = hnsw.hnsw  # a copy of the graph (SWIG assigns the struct)
        for start in range(0, len(vectors), 100_000):
            codes.storage.add(normalise(np.asarray(vectors.matrix[start : start + 100_000], dtype=np.float32)))
        codes.ntotal = codes.storage.ntotal
        del index, hnsw
        index = hnsw = codes
    load_s = time.perf_counter() - t0
    rows = np.load(args.workdir / f"queries-{args.noise}.npy")
    truth = np.load(args.workdir / f"truth-{args.noise}.npy")
    warm = np.load(args.workdir / f"warm-{args.noise}.npy")

    def ask(row: int, k: int) -> np.ndarray:
        q = normalise(np.asarray(vectors.matrix[row : row + 1], dtype=np.float32))
        if args.child != "fp16":
            _, ids = index.search(q, k + 1)
            got = ids[0]
        else:
            _, ids = index.search(q, RERANK + 1)
            cand = np.sort(ids[0][ids[0] >= 0])  # ascending rows: one forward pass over the memory map
            scores = normalise(np.asarray(vectors.matrix[cand], dtype=np.float32)) @ q[0]
            got = cand[np.argsort(-scores, kind="stable")]
        return got[got != row][:k]

    hnsw.hnsw.efSearch = 64
    t0 = time.perf_counter()
    for r in warm.tolist():
        ask(r, 10)
    warm_s = time.perf_counter() - t0
    result: dict[str, Any] = {"variant": args.child, "load_s": load_s, "warm_s": warm_s, "note": note, "ef": {}}
    for ef in (int(x) for x in args.ef_search.split(",")):
        hnsw.hnsw.efSearch = ef
        times, hits = [], 0
        for r, want in zip(rows.tolist(), truth.tolist(), strict=True):
            t = time.perf_counter()
            got = ask(r, 10)
            times.append(time.perf_counter() - t)
            hits += len(set(got.tolist()) & set(want))
        result["ef"][ef] = {
            "recall": hits / truth.size,
            "median_ms": 1000 * float(np.median(times)),
            "p99_ms": 1000 * float(np.percentile(times, 99)),
        }
    result["huge_kb"] = huge_kb()
    print("RESULT " + json.dumps(result), flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/embed-large"))
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--noise", type=float, default=1.0)
    p.add_argument("--words", type=int, default=500)
    p.add_argument("--warm", type=int, default=20_000)
    p.add_argument("--ef-search", default="128,256")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return
    data = Data(args.rows, args.dim, args.noise)
    qpath, tpath, wpath = (args.workdir / f"{n}-{args.noise}.npy" for n in ("queries", "truth", "warm"))
    if not tpath.exists():
        rng = np.random.default_rng(3)
        picked = sample_rows(data, args.words + args.warm, rng)
        rng.shuffle(picked)
        t0 = time.perf_counter()
        truth, _ = brute_force(data, picked[: args.words], args.rows)
        print(f"truth for {args.words} words in {time.perf_counter() - t0:.0f}s", flush=True)
        np.save(wpath, picked[args.words :])
        np.save(qpath, picked[: args.words])
        np.save(tpath, truth)
    print("| variant | efSearch | recall@10 | median ms | p99 ms | load s | warm-up s | huge pages (MiB anon / file) |")
    print("|---|---|---|---|---|---|---|---|")
    for v in args.variants.split(","):
        env = dict(os.environ)
        if v == "ram-thp":
            env["GLIBC_TUNABLES"] = "glibc.malloc.hugetlb=1"
        cmd = [sys.executable, "-m", "bench.hnsw_storage", *(sys.argv[1:] if argv is None else argv), "--child", v]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not line:
            print(f"| {v} | FAILED rc {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]} |||||||", flush=True)
            continue
        res = json.loads(line[0][7:])
        huge = res["huge_kb"]
        for ef, f in res["ef"].items():
            print(
                f"| {v} | {ef} | {f['recall']:.3f} | {f['median_ms']:.3f} | {f['p99_ms']:.2f} | {res['load_s']:.1f}"
                f" | {res['warm_s']:.0f} | {huge.get('AnonHugePages', 0) / 1024:.0f} /"
                f" {huge.get('FilePmdMapped', 0) / 1024:.0f} {res['note']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
