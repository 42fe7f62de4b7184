"""Paired gaps of W ranks against 1 process over several seeds, from ``bench.scale``'s result files (issue 20).

    python -m bench.scale_seeds bench/out/scale-all-skipgram-momentum-w2.json \\
        bench/out/scale-all-skipgram-momentum-w2-seed2.json ...

Each file is one ``python -m bench.scale`` run with its own 1 x 1 anchor (same options and seed). Per file: the
anchor's scores and the W-rank run's minus the anchor's (analogy in points, WS353, SimLex); then the mean gap over
the files, its standard error (sample standard deviation / sqrt(n)), and the spread of the anchors themselves: how
far one process moves from seed to seed, the noise any single-seed comparison carries.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

METRICS = (("google", 100.0, "analogy points"), ("ws353", 1.0, "WS353"), ("simlex999", 1.0, "SimLex"))


def _runs(path: Path) -> tuple[dict[str, float], dict[str, float], str]:
    rows = json.loads(path.read_text())
    anchor = rows.get("1 x 1")
    ranked = [(name, r) for name, r in rows.items() if "torchrun" in name]
    if anchor is None or anchor.get("quality") is None or len(ranked) != 1:
        raise SystemExit(f"{path}: needs one 1 x 1 anchor and one W-rank run (a bench.scale run without --no-anchor)")
    name, run = ranked[0]
    if "error" in run:
        raise SystemExit(f"{path}: the {name} run has no scores (it failed: {run['error']})")
    missing = [m for m, _, _ in METRICS for q in (anchor["quality"], run["quality"]) if m not in q]
    if missing:  # bench.scale leaves out a score the vocabulary cannot cover (a tiny --tokens)
        raise SystemExit(f"{path}: no {', '.join(sorted(set(missing)))} score; compare runs of a larger --tokens")
    return anchor["quality"], run["quality"], name


def _mean_se(values: list[float]) -> str:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:+.3f}"
    return f"{mean:+.3f} +- {statistics.stdev(values) / math.sqrt(len(values)):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    gaps: dict[str, list[float]] = {m: [] for m, _, _ in METRICS}
    anchors: dict[str, list[float]] = {m: [] for m, _, _ in METRICS}
    print("| run | 1 x 1: analogy / WS353 / SimLex | W x 1 minus 1 x 1: points / WS353 / SimLex |")
    print("|---|---|---|")
    for path in args.files:
        anchor, run, name = _runs(path)
        for m, scale, _ in METRICS:
            gaps[m].append((run[m] - anchor[m]) * scale)
            anchors[m].append(anchor[m] * scale)
        a = " / ".join(f"{anchor[m] * s:.3f}" if s == 1 else f"{anchor[m] * s:.1f}" for m, s, _ in METRICS)
        g = " / ".join(f"{gaps[m][-1]:+.3f}" if s == 1 else f"{gaps[m][-1]:+.1f}" for m, s, _ in METRICS)
        print(f"| {path.name} ({name}) | {a} | {g} |")
    print()
    n = len(args.files)
    for m, _, label in METRICS:
        spread = max(anchors[m]) - min(anchors[m])
        print(f"{label}: mean gap over {n} seed(s) {_mean_se(gaps[m])}; the anchors' range {spread:.3f}")


if __name__ == "__main__":
    main()
