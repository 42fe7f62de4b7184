"""Before/after: one benchmark run from two source trees, alternating, in the same session.

    git worktree add /tmp/before REV && git worktree add /tmp/after HEAD
    python -m bench.ab --before /tmp/before --after /tmp/after --rounds 3 -- \\
        bench.train --backend gensim,torch --arch skipgram,cbow --limit-tokens 2000000 --epochs 1
    python -m bench.ab --before /tmp/before --after /tmp/after --rounds 3 -- bench.serve --rounds 1 --duration 10

Each round runs ``python -m MODULE ARGS`` in each tree (its own ``embed``, ``service`` and
``bench`` on ``PYTHONPATH``), before first in odd rounds and after first in even ones, so that drift
on a shared machine hits both alike. The figures are read from the JSON the benchmark writes
(``bench.train``: words/s per system and arch, and its ratio to plain gensim in the same run;
``bench.serve``: req/s per row). Prints each figure's median per tree and the after/before ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import ROOT, machine, today


def _figures(report: dict[str, Any]) -> dict[str, float]:
    """Figure name -> value from one run's JSON (bench.train or bench.serve)."""
    out: dict[str, float] = {}
    rows = report.get("rows", [])
    base = {r["arch"]: r["words_per_sec"] for r in rows if r.get("system") == "plain-gensim"}
    for r in rows:
        if "words_per_sec" in r:
            out[f"{r['arch']} {r['system']} words/s"] = r["words_per_sec"]
            if r["arch"] in base and r["system"] != "plain-gensim":
                out[f"{r['arch']} {r['system']} / plain gensim"] = r["words_per_sec"] / base[r["arch"]]
        elif "rps" in r:
            out[f"{r['name']} req/s"] = r["rps"]
    return out


def _newest_json(folder: Path, since: float) -> Path:
    fresh = [p for p in folder.glob("*.json") if p.stat().st_mtime >= since]
    if not fresh:
        raise SystemExit(f"no JSON written under {folder} by the run")
    return max(fresh, key=lambda p: p.stat().st_mtime)


def _rev(tree: Path) -> str:
    proc = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


def run_once(tree: Path, module: str, args: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "EMBED_SHARED": str(ROOT.parent / "shared")}
    since = time.time()
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: {module} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return _figures(json.loads(_newest_json(tree / "bench" / "out", since).read_text()))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", type=Path, required=True)
    p.add_argument("--after", type=Path, required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- MODULE ARGS")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("give the benchmark to run after --, e.g. -- bench.train --limit-tokens 2000000")
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, dict[str, list[float]]] = {"before": defaultdict(list), "after": defaultdict(list)}
    for rnd in range(args.rounds):
        order = ["before", "after"] if rnd % 2 == 0 else ["after", "before"]
        for label in order:
            for name, value in run_once(trees[label], command[0], command[1:]).items():
                runs[label][name].append(value)
            print(f"round {rnd + 1} {label}: done", flush=True)
    revs = {label: _rev(tree) for label, tree in trees.items()}
    print(f"\n{today()}, {machine()}; before {revs['before']}, after {revs['after']}; {args.rounds} rounds")
    print(f"`python -m bench.ab --rounds {args.rounds} -- {' '.join(command)}`\n")
    print("| figure | before (median) | after (median) | after / before |\n|---|---|---|---|")
    for name in runs["before"]:
        b, a = statistics.median(runs["before"][name]), statistics.median(runs["after"].get(name, [float("nan")]))
        print(f"| {name} | {b:,.3f} | {a:,.3f} | {a / b:.3f} |")


if __name__ == "__main__":
    main()
