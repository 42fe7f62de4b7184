"""Large pretrained files: ``embed import / index / serve`` on a generated word2vec binary of millions of words.

    python -m bench.large [--rows 2000000] [--dim 300] [--workdir /tmp/embed-large] [--duration 20]
                          [--warm 30] [--ef-search stored,256]
                          [--skip-index] [--steps gen,load,import,open,index,serve,batch,exact]

Every anchor is measured in the same run, on the same (shared, 2-core) machine:

* gen    - the data, written once and cached in the workdir (below).
* load   - anchor: gensim ``KeyedVectors.load_word2vec_format(binary=True)`` in a fresh process:
           seconds of the call, peak RSS of the process.
* import - ``embed import FILE --out WORKDIR/model``: wall seconds of the command, its peak RSS, and
           gensim load seconds / import seconds (>= 1: importing is no slower than gensim loading).
* open   - ``embed.load(WORKDIR/model)`` in a fresh process (after ``import embed``): seconds, VmRSS
           growth, and whether ``.matrix`` is a ``np.memmap`` (or a view of one). Anchor: gensim load.
* index  - ``embed index WORKDIR/model --threads 2``: seconds and peak RSS (bar: <= 15 min, <= 8 GB).
* serve  - ``embed serve WORKDIR/model --workers 2``: seconds until ``/readyz`` answers 200 from every
           worker; ``--warm`` seconds of unrecorded wrk load (the memory maps' page faults); then per
           ``--ef-search`` value (``stored``: the index's own; a number: each body's ``ef_search``) wrk,
           16 connections, by word (k 10): req/s, p50, p99, and recall@10 of 500 words against
           numpy brute force (exact cosine, query word excluded); recall of 50 with ``exact: true``
           (should be 1.0); per-worker RSS and PSS (``/proc/PID/smaps_rollup``) once loaded and after
           wrk, and sum of PSS / largest RSS (bar: <= 1.3, i.e. the mapped matrix is shared).
* exact  - the same wrk run with ``"exact": true``, 4 connections, at most 10 s.
* batch  - one body of 100 ``exact`` by-word queries to a model of the file's first 500,000 rows
           (``embed import --limit``): median wall time of 5 bodies after one warm-up (bar: <= 1 s),
           recall against brute force over those rows.

The 100,000-word serving regression figure is ``python -m bench.serve --rounds 3``; not rerun here.

Data (bench/large_data.py): ``rows / 100`` random unit centres, each row a centre plus Gaussian
noise, so that ANN recall means something (the table gives the share of true neighbours in the query's
own cluster); words ``w0000000``... and 300 Chinese ones; every block regenerable from the seed, so
brute force never reads rows back from the system under test. The batch model is the file's first
500,000 rows. Steps report ``FAILED: ...`` and the run goes on when a command is missing or fails.
Prints a Markdown table; writes ``bench/out/large-<time>.json`` (each figure with its command, start
time, load average before/after, machine and commit).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.common import OUT, ROOT, git_rev, machine
from bench.large_data import Data, brute_force, default_noise, sample_rows, write_word2vec
from bench.large_procs import EMBED, StepFailed, child_result, embed_server, measured, recall, worker_memory
from bench.serving import LUA, write_bodies, wrk

STEPS = ("gen", "load", "import", "open", "index", "serve", "batch", "exact")
BATCH_ROWS = 500_000
REGRESSION = "Regression at 100,000 words: `python -m bench.serve --rounds 3` (bench/serve.py; not rerun here)."


def du_mb(path: Path) -> float:
    """Size of a file, or of every file under a directory, MiB (0 when missing)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def wrk_command(url: str, bodies: Path, connections: int, duration: int) -> str:
    return (
        f"BODIES={bodies} TARGET=/v1/models/model/similar wrk -t1 -c{connections} -d{duration}s --timeout 10s"
        f" -s {LUA.relative_to(ROOT)} {url}"
    )


@dataclass
class Run:
    """One benchmark run: the data recipe, where artefacts go, and the figures so far."""

    data: Data
    workdir: Path
    duration: int
    steps: set[str]
    warm: int  # seconds of unrecorded wrk load before the serve figures
    ef_search: str  # comma-separated efSearch values for the by-word runs ("stored": the index's own)
    meta: dict[str, Any]  # machine and commit, recorded with every figure
    figures: dict[str, dict[str, Any]]

    @property
    def file(self) -> Path:
        return self.workdir / self.data.file

    @property
    def model(self) -> Path:
        return self.workdir / "model"


def step_gen(r: Run) -> dict[str, dict[str, Any]]:
    t0, cached = time.perf_counter(), r.file.exists()
    if not cached:
        write_word2vec(r.data, r.file)
    return {
        "gen": {
            "command": f"write_word2vec({r.data}, {str(r.file)!r})",
            "cached": cached,
            "seconds": time.perf_counter() - t0,
            "file_mb": du_mb(r.file),
        }
    }


def step_load(r: Run) -> dict[str, dict[str, Any]]:
    return {
        "load": {
            **child_result("load", r.file),
            "command": f"KeyedVectors.load_word2vec_format({str(r.file)!r}, binary=True), fresh process",
        }
    }


def step_import(r: Run) -> dict[str, dict[str, Any]]:
    res = measured([*EMBED, "import", str(r.file), "--out", str(r.model), "--overwrite", "--quiet"])
    gensim = r.figures.get("load", {}).get("load_s")
    return {
        "import": {
            **res,
            "gensim_load_s": gensim,
            "gensim_over_import": gensim / res["seconds"] if gensim else None,
            "model_mb": du_mb(r.model),
        }
    }


def step_open(r: Run) -> dict[str, dict[str, Any]]:
    fig = child_result("open", r.model)
    return {
        "open": {
            **fig,
            "gensim_load_s": r.figures.get("load", {}).get("load_s"),
            "command": f"import embed; embed.load({str(r.model)!r}), fresh process",
        }
    }


def step_index(r: Run) -> dict[str, dict[str, Any]]:
    res = measured([*EMBED, "index", str(r.model), "--threads", "2"])
    return {
        "index": {
            **res,
            "index_mb": du_mb(r.model / "index"),
            "bar_ok": res["seconds"] <= 900 and res["peak_rss_mb"] <= 8192,
        }
    }


def step_serve(r: Run) -> dict[str, dict[str, Any]]:
    """``serve`` and ``exact``: one server of WORKDIR/model for both.

    After ``/readyz``, ``--warm`` seconds of the same wrk load (not recorded as a figure) fault the memory maps
    in, as a server that has run a while has them; then one recorded run per ``--ef-search`` value, each body
    asking for it (``"ef_search"``; ``stored``: none, the index's own efSearch)."""
    rng, out = np.random.default_rng(1), {}
    pick = sample_rows(r.data, min(20_000, r.data.rows), rng)
    words = [r.data.word(i) for i in pick.tolist()]

    written: dict[str, Path] = {}

    def bodies(name: str, extra: dict[str, Any]) -> Path:
        if name not in written:  # the warm-up and the stored-efSearch run send the same bodies
            written[name] = write_bodies(
                r.workdir / f"bodies-{name}.txt", [{"word": w, "k": 10, **extra} for w in words]
            )
        return written[name]

    efs = [None if e == "stored" else int(e) for e in r.ef_search.split(",")]
    if "serve" in r.steps:
        query = sample_rows(r.data, 500, rng)
        truth_rows, own = brute_force(r.data, query, r.data.rows)
        asked, truth = (
            [r.data.word(i) for i in query.tolist()],
            [{r.data.word(j) for j in row} for row in truth_rows.tolist()],
        )
    target = "/v1/models/model/similar"
    with embed_server(r.model, 2) as srv:
        loaded = worker_memory(srv["pid"])
        if "serve" in r.steps:
            fig: dict[str, Any] = {
                "command": srv["command"],
                "first_ready_s": srv["first_ready_s"],
                "ready_s": srv["ready_s"],
                "own_cluster": own,
                "memory_loaded": loaded,
                "recall_exact": recall(srv["url"], "model", asked[:50], truth[:50], exact=True),
            }
            if r.warm:
                fig["warm_up"] = wrk(srv["url"], target, bodies("word-efstored", {}), 16, r.warm)
            fig["runs"] = []
            for ef in efs:
                extra = {} if ef is None else {"ef_search": ef}
                path = bodies(f"word-ef{ef or 'stored'}", extra)
                fig["runs"].append(
                    {
                        "ef_search": ef or "stored",
                        "recall": recall(srv["url"], "model", asked, truth, extra=extra),
                        "wrk": wrk(srv["url"], target, path, 16, r.duration),
                        "wrk_command": wrk_command(srv["url"], path, 16, r.duration),
                    }
                )
            out["serve"] = {**fig, "memory_after_wrk": worker_memory(srv["pid"])}
        if "exact" in r.steps:
            seconds = min(10, r.duration)
            path = bodies("exact", {"exact": True})
            probe = recall(srv["url"], "model", words[:5], [set()] * 5, exact=True)["methods"]
            out["exact"] = {
                "command": srv["command"],
                "methods": probe,
                "wrk": wrk(srv["url"], target, path, 4, seconds),
                "wrk_command": wrk_command(srv["url"], path, 4, seconds),
            }
    return out


def step_batch(r: Run) -> dict[str, dict[str, Any]]:
    """100 exact by-word queries per body, to a server of the first 500,000 rows: 1 warm-up + 5 timed bodies."""
    n, model = min(BATCH_ROWS, r.data.rows), r.workdir / "model500k"
    imp = measured([*EMBED, "import", str(r.file), "--out", str(model), "--limit", str(n), "--overwrite", "--quiet"])
    rows = sample_rows(r.data, 600, np.random.default_rng(2), limit=n)
    truth, _ = brute_force(r.data, rows, n)
    times, hits = [], 0
    with embed_server(model, 2) as srv, httpx.Client(base_url=srv["url"], timeout=300) as c:
        for b in range(6):
            body = {
                "queries": [
                    {"word": r.data.word(i), "k": 10, "exact": True} for i in rows[b * 100 : (b + 1) * 100].tolist()
                ]
            }
            t0 = time.perf_counter()
            resp = c.post("/v1/models/model500k/similar", json=body)
            times.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                raise StepFailed(f"batch -> {resp.status_code}: {resp.text[:300]}")
            for res, want in zip(resp.json()["results"], truth[b * 100 : (b + 1) * 100].tolist(), strict=False):
                hits += len({r.data.word(j) for j in want} & {x["word"] for x in res["results"]})
    med = statistics.median(times[1:])
    imp.pop("output")
    return {
        "batch": {
            "rows": n,
            "import": imp,
            "command": f"{srv['command']}; POST /v1/models/model500k/similar"
            " {queries: 100 x {word, k: 10, exact: true}}",
            "first_s": times[0],
            "times_s": times[1:],
            "median_s": med,
            "recall@10": hits / 6000,
            "bar_ok": med <= 1.0,
        }
    }


def _wrk(w: dict[str, Any]) -> str:
    return (
        f"{w['rps']:,.1f} req/s, p50 {w['p50_ms']:.1f} ms, p99 {w['p99_ms']:.1f} ms, {w['requests']} requests,"
        f" errors {sum(w['errors'].values())}"
    )


def _mem(m: dict[str, Any]) -> str:
    per = ", ".join(f"RSS {w['rss_mb']:.0f} / PSS {w['pss_mb']:.0f}" for w in m["workers"].values())
    return f"workers {per} MB; sum PSS {m['sum_pss_mb']:.0f} MB"


def describe(step: str, f: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, anchor / bar) rows of one step's figure."""
    ok = {True: "ok", False: "MISSED"}
    if "error" in f:
        return [("FAILED", f["error"][:400].replace("|", "/").replace("\n", " "), "")]
    if step == "gen":
        return [
            (
                "word2vec binary",
                f"{f['file_mb']:,.0f} MB, " + ("cached" if f["cached"] else f"written in {f['seconds']:.0f} s"),
                "",
            )
        ]
    if step == "load":
        return [("gensim load_word2vec_format", f"{f['load_s']:.2f} s, peak RSS {f['peak_rss_mb']:,.0f} MB", "anchor")]
    if step == "import":
        ratio = f"{f['gensim_over_import']:.2f}x" if f["gensim_over_import"] else "n/a (load not run)"
        return [
            (
                "embed import",
                f"{f['seconds']:.2f} s, peak RSS {f['peak_rss_mb']:,.0f} MB, model {f['model_mb']:,.0f} MB",
                f"gensim load / import = {ratio} (>= 1)",
            )
        ]
    if step == "open":
        kind = f"{f['matrix_type']}" + (
            " (memmap)" if f["memmap"] else " (view of a memmap)" if f["mapped"] else " (NOT mapped)"
        )
        return [
            (
                "embed.load",
                f"{f['load_s']:.3f} s, RSS +{f['rss_growth_mb']:,.0f} MB, matrix {kind}",
                f"gensim load {f['gensim_load_s'] or float('nan'):.2f} s",
            )
        ]
    if step == "index":
        return [
            (
                "embed index --threads 2",
                f"{f['seconds']:.0f} s, peak RSS {f['peak_rss_mb']:,.0f} MB, index {f['index_mb']:,.0f} MB",
                f"<= 900 s, <= 8192 MB: {ok[f['bar_ok']]}",
            )
        ]
    if step == "serve":
        ex, ml, ma = f["recall_exact"], f["memory_loaded"], f["memory_after_wrk"]
        warm = [("warm-up (not a figure)", _wrk(f["warm_up"]), "")] if "warm_up" in f else []
        runs = [
            (
                f"by word, 16 connections, ef_search {run['ef_search']}",
                _wrk(run["wrk"]),
                f"recall@10 {run['recall']['recall@10']:.3f} {run['recall']['methods']}"
                f" (bar: >= 3,000 req/s, p99 <= 20 ms, recall >= 0.95)",
            )
            for run in f["runs"]
        ]
        return [
            ("/readyz 200: first, every worker", f"{f['first_ready_s']:.1f} s, {f['ready_s']:.1f} s", ""),
            *warm,
            *runs,
            (
                "exact=true recall, 50 words",
                f"{ex['recall@10']:.3f} {ex['methods']}",
                f"own-cluster share of the true neighbours {f['own_cluster']:.2f}",
            ),
            (
                "memory once loaded",
                _mem(ml),
                f"sum PSS / max RSS {ml['pss_over_max_rss']:.2f} (<= 1.3: {ok[ml['pss_over_max_rss'] <= 1.3]})",
            ),
            (
                "memory after wrk",
                _mem(ma),
                f"sum PSS / max RSS {ma['pss_over_max_rss']:.2f} (<= 1.3: {ok[ma['pss_over_max_rss'] <= 1.3]})",
            ),
        ]
    if step == "exact":
        return [("exact=true, 4 connections", _wrk(f["wrk"]), f"method {f['methods']}")]
    return [
        (
            f"100 exact queries per body, {f['rows']:,} rows",
            f"median {f['median_s'] * 1000:.0f} ms of 5 (warm-up {f['first_s']:.2f} s)",
            f"<= 1 s: {ok[f['bar_ok']]}; recall@10 {f['recall@10']:.3f}",
        )
    ]


def table(figures: dict[str, dict[str, Any]]) -> str:
    lines = ["| step | figure | value | anchor / bar | load avg before -> after |", "|---|---|---|---|---|"]
    for step, f in figures.items():
        load = f"{f['load_before'][0]:.2f} -> {f['load_after'][0]:.2f}"
        lines += [f"| {step} | {what} | {value} | {anchor} | {load} |" for what, value, anchor in describe(step, f)]
    return "\n".join(lines + ["", REGRESSION])


def timed(r: Run, names: tuple[str, ...], fn: Any) -> None:
    """Run one step; its figures get the load average around it, the start time, machine and commit."""
    print(f"{time.strftime('%H:%M:%S')} {'+'.join(names)} ...", flush=True)
    before, started = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        figs = fn(r)
    except (
        StepFailed,
        OSError,
        subprocess.CalledProcessError,
        httpx.HTTPError,
        StopIteration,
        KeyError,
        ValueError,
    ) as exc:
        figs = {n: {"error": f"{type(exc).__name__}: {exc}"} for n in names if n in r.steps}
    for name, fig in figs.items():
        fig.pop("output", None)
        r.figures[name] = {**fig, "started": started, "load_before": before, "load_after": os.getloadavg(), **r.meta}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument(
        "--noise",
        type=float,
        default=None,
        help="noise norm / centre distance [default: bench.large_data.default_noise(dim)]",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/embed-large"))
    p.add_argument("--duration", type=int, default=20, help="seconds of the 16-connection wrk run")
    p.add_argument("--warm", type=int, default=30, help="seconds of wrk load before the serve figures (page faults)")
    p.add_argument(
        "--ef-search", default="stored,256", help="efSearch of each by-word wrk run ('stored': the index's own)"
    )
    p.add_argument("--skip-index", action="store_true", help="keep the model's index as it is (no index step)")
    p.add_argument("--steps", default=",".join(STEPS))
    args = p.parse_args(argv)
    steps = set(args.steps.split(",")) - ({"index"} if args.skip_index else set())
    if not steps <= set(STEPS) or args.rows < 1000:
        p.error(f"--steps: choose from {','.join(STEPS)}; --rows at least 1000")
    data = Data(args.rows, args.dim, args.noise if args.noise is not None else default_noise(args.dim), args.seed)
    args.workdir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "machine": {"summary": machine(), "processor": platform.processor(), "cpu_count": os.cpu_count()},
        "git": git_rev(),
    }
    r = Run(data, args.workdir, args.duration, steps, args.warm, args.ef_search, meta, {})
    plan = [
        (("gen",), step_gen),
        (("load",), step_load),
        (("import",), step_import),
        (("open",), step_open),
        (("index",), step_index),
        (("serve", "exact"), step_serve),
        (("batch",), step_batch),
    ]
    for names, fn in plan:
        if steps & set(names):
            timed(r, names, fn)
    command = shlex.join(["python", "-m", "bench.large", *(sys.argv[1:] if argv is None else argv)])
    print(
        f"\n{time.strftime('%Y-%m-%d')}, {meta['machine']['summary']}, git {meta['git']};"
        f" data {asdict(data)}\n`{command}`\n"
    )
    print(table(r.figures))
    out = OUT / f"large-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        **meta,
        "data": {**asdict(data), "file": str(r.file)},
        "figures": r.figures,
        "regression_100k": REGRESSION,
    }
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
