"""What one row sync of ``--distributed`` training costs, against the all-reduce of its bytes alone (issue 20).

    python -m bench.sync_cost [--world 2] [--vocab 69102] [--dim 100] [--touched 0.53] [--mode momentum]
                              [--syncs 40]

Starts ``--world`` ranks under torchrun (gloo on loopback, 1 torch thread each) on two random
``vocab x dim`` matrices, the size of the full enwiki extract's model (69,102 words at min-count 5).
Before each sync every rank moves a random set of rows of each matrix, so many that the ranks
together touch ``--touched`` of the rows (0.53: what ``bench.scale --tokens 0 --world 2`` recorded,
``mean_touched_fraction``), and marks them (:meth:`embed.train.distributed.RowSync.mark`). Reported,
medians over ``--syncs`` syncs, rank 0: the wall time of :meth:`RowSync.sync`, and the anchor, two
bare ``all_reduce`` calls of the same bytes (the masks, then the rows of both matrices in one tensor):
the part of a sync that is communication; the rest is the row gathers, the update and the waiting.
Also the mean ms per sync of each part of it (:attr:`RowSync.phases`: the masks, gathering the rows'
changes, their all-reduce, the update).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from bench.common import OUT, ROOT, git_rev, machine, today


def _rank_main(args: argparse.Namespace) -> None:
    import numpy as np
    import torch
    import torch.distributed as dist

    from embed.train.distributed import RowSync

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    gen = torch.Generator().manual_seed(0)  # the same start on every rank, as training has
    w_in, w_out = torch.randn(args.vocab, args.dim, generator=gen), torch.randn(args.vocab, args.dim, generator=gen)
    sync = RowSync(mode=args.mode, rank=rank, world=world)
    sync.start(w_in, w_out)
    rng = np.random.default_rng(rank + 1)
    share = 1.0 - (1.0 - args.touched) ** (1.0 / world)  # each rank's share, so that their union is --touched
    sync_ms, floor_ms = [], []
    for i in range(args.syncs + 2):  # the first two warm the allocator and gloo's buffers
        if i == 2:
            warm = dict(sync.phases)
        rows = [np.flatnonzero(rng.random(args.vocab) < share) for _ in range(2)]
        for w, r in zip((w_in, w_out), rows, strict=True):
            idx = torch.from_numpy(r)
            w.index_add_(0, idx, torch.randn(len(r), args.dim, generator=gen).mul_(1e-3))
        sync.mark(rows[0], rows[1])
        before = sync.rows_synced
        dist.barrier()
        t0 = time.perf_counter()
        sync.sync(w_in, w_out)
        sync_ms.append((time.perf_counter() - t0) * 1000)
        n_rows = sync.rows_synced - before  # the rows of both matrices this sync sent
        masks, payload = torch.zeros(2, args.vocab, dtype=torch.uint8), torch.zeros(n_rows, args.dim)
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(masks)
        dist.all_reduce(payload)
        floor_ms.append((time.perf_counter() - t0) * 1000)
    if rank == 0:
        result = {
            "sync_ms": round(statistics.median(sync_ms[2:]), 1),
            "allreduce_ms": round(statistics.median(floor_ms[2:]), 1),
            "rows_per_sync": round(sync.rows_synced / max(sync.syncs, 1), 1),
            "bytes_per_sync_per_rank": sync.info(args.vocab, args.dim)["bytes_per_sync_per_rank"],
            # RowSync.phases: the mean ms per sync of each part (after the warm-up), rank 0
            "phases_ms": {k: round((v - warm[k]) * 1000 / args.syncs, 1) for k, v in sync.phases.items()},
        }
        print(json.dumps(result))
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=69_102)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--touched", type=float, default=0.53)
    parser.add_argument("--mode", default="momentum")
    parser.add_argument("--syncs", type=int, default=40)
    parser.add_argument("--rank", action="store_true", help=argparse.SUPPRESS)  # set when torchrun starts a rank
    args = parser.parse_args()
    if args.syncs < 1:
        parser.error(f"--syncs must be >= 1 (got {args.syncs}): the medians need one timed sync")
    if args.rank:
        _rank_main(args)
        return
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.world)]
    cmd += ["-m", "bench.sync_cost", *sys.argv[1:], "--rank"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"bench.sync_cost: the ranks failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    head = f"{today()}, {machine()}, git {git_rev()}, W = {args.world}, {args.mode}, V = {args.vocab}, d = {args.dim}"
    print(head)
    phases = result["phases_ms"]
    print(
        "| rows per sync | MB per sync and rank | RowSync.sync ms | all-reduce of its bytes ms | ratio |"
        + "".join(f" {k} ms |" for k in phases)
    )
    print("|---|---|---|---|---|" + "---|" * len(phases))
    mb = result["bytes_per_sync_per_rank"] / 1e6
    ratio = result["sync_ms"] / max(result["allreduce_ms"], 1e-9)
    print(
        f"| {result['rows_per_sync']:,.0f} | {mb:.1f} | {result['sync_ms']} | {result['allreduce_ms']} | {ratio:.2f} |"
        + "".join(f" {v} |" for v in phases.values())
    )
    OUT.mkdir(parents=True, exist_ok=True)
    tag = f"sync-cost-{args.mode}-w{args.world}.json"
    (OUT / tag).write_text(json.dumps(result | {"args": vars(args), "header": head}, indent=1))


if __name__ == "__main__":
    main()
