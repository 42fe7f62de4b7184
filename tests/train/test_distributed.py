"""Data-parallel torch training: 2 ranks under torchrun (gloo, loopback) on the bundled KJV, each reading its shard."""

from __future__ import annotations

import bz2
import gzip
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import embed
from embed.cli import main
from embed.config import SYNC_CAP
from embed.corpus import Corpus
from embed.errors import ConfigError
from embed.train.distributed import SYNC_PHASES, RoundPlan, RowSync, combine
from embed.train.token_cache import TokenCache
from embed.vocab import Vocab, WordCounts
from tests.conftest import KJV
from tests.kjv_checks import assert_kjv_neighbours_make_sense
from tests.train.distributed_helpers import run_torchrun

TRAIN = ["train", "--backend", "torch", "--distributed", "--workers", "1", "-q", "--no-eval"]


def _head(path: Path, lines: int) -> Path:
    with open(KJV, encoding="utf-8") as fh:
        path.write_text("".join(fh.readline() for _ in range(lines)), encoding="utf-8")
    return path


def test_two_ranks_train_one_model_with_the_single_process_vocabulary(tmp_path: Path) -> None:
    out = tmp_path / "model"
    r = run_torchrun(*TRAIN, str(KJV), "--dim", "50", "--epochs", "5", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("wrote ") == 1  # rank 0 only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    v, single = embed.load(out), Vocab.build(Corpus(KJV))
    assert v.words == single.words  # the single-process vocabulary: same words, order and counts
    assert np.array_equal(np.asarray(v.counts), single.counts)
    assert_kjv_neighbours_make_sense(v)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["corpus"]["lines"] == 31102 and meta["corpus"]["tokens"] == single.total_tokens
    info = meta["backend"]["distributed"]
    # The default --sync-mode auto is block momentum for skip-gram: rounds of 400k / W^2 = 100k tokens per rank.
    # Each rank's shard holds ~390k retained tokens: 4 chunks and a shorter 5th an epoch, one sync after every round.
    assert info["world_size"] == 2 and info["sync_mode"] == "momentum" and info["chunk_tokens_per_rank"] == 100_000
    assert info["rounds_per_epoch"] == 5 and info["syncs"] == 25 and 0 < info["mean_touched_fraction"] <= 1
    ranks = info["ranks"]
    assert [e["rank"] for e in ranks] == [0, 1] and sum(e["lines"] for e in ranks) == 31102
    assert sum(e["tokens"] for e in ranks) == single.total_tokens
    cache = TokenCache(Corpus(KJV), single, tmp_path / "tokens.u32")  # one process's token cache
    assert sum(e["retained_tokens"] for e in ranks) == len(cache)
    (tmp_path / "tokens.u32").unlink()
    size = KJV.stat().st_size
    for e in ranks:  # about half the corpus each: its byte range, the cut scans and a 128 KiB fingerprint sample
        assert 0.45 * size < e["bytes_read_counting"] < 0.56 * size, e
        assert e["bytes_read_total"] == e["bytes_read_counting"]  # training read the token spool, not the corpus


def test_sync_modes_combine_the_ranks_summed_row_changes() -> None:
    """average: the mean over all ranks; sum: every step in full; capped: the sum, scaled to SYNC_CAP ranks' worth
    only for rows more ranks touched (a row one rank touched keeps its step, one all 8 touched gets 2/8 of the sum)."""
    import torch

    delta = torch.tensor([[8.0, -4.0], [8.0, -4.0], [8.0, -4.0]])
    ranks = torch.tensor([1, SYNC_CAP, 8], dtype=torch.uint8)
    assert torch.equal(combine(delta.clone(), ranks, "average", 8), delta / 8)
    assert torch.equal(combine(delta.clone(), ranks, "sum", 8), delta)
    got = combine(delta.clone(), ranks, "capped", 8)
    assert torch.equal(got[:2], delta[:2]) and torch.equal(got[2], delta[2] * SYNC_CAP / 8)
    with pytest.raises(ConfigError, match="at most 255 ranks"):
        RowSync(world=256, mode="capped")


def test_block_momentum_converges_where_summing_the_ranks_overshoots() -> None:
    """mode="momentum" (block momentum, eta = 1 - 1/W): W ranks that each move a row to the same target (the sum
    of their changes is W x the distance) bring it to the target, where summing multiplies the error by 1 - W per
    sync; a steady change g per rank and sync becomes a step of W x g, as summing gives; a row nobody touched keeps
    the decaying step."""
    import torch

    world, target = 4, torch.tensor([[1.0, -2.0]])
    sync = RowSync(world=world, mode="momentum")
    w, base, step, rows = torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(2, 2), torch.tensor([0])
    summed = torch.zeros(1, 2)
    for _ in range(60):
        sync._block_step(w, base, step, rows, world * (target - base[:1]))  # all-reduced: W ranks' changes
        summed += combine(world * (target - summed), torch.tensor([world]), "sum", world)
    assert torch.allclose(w[:1], target, atol=1e-4) and torch.equal(w, base)
    assert summed.abs().max() > 1e20  # |1 - W| = 3 per sync
    w, base, step = torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(2, 2)
    g = torch.tensor([[0.01, 0.02]])
    for _ in range(100):
        sync._block_step(w, base, step, rows, world * g)
    assert torch.allclose(step[:1], world * g) and torch.equal(step[1], torch.zeros(2))
    frozen = step.clone()
    sync._block_step(w, base, step, torch.tensor([], dtype=torch.int64), torch.zeros(0, 2))
    assert torch.allclose(step, frozen * (1 - 1 / world))  # untouched this round: the step decays, still applied
    assert torch.equal(w, base)


def test_block_momentum_syncs_more_often_the_more_ranks() -> None:
    """A round of mode="momentum" is 400k / W tokens of all ranks (each rank 400k / W^2, at most one single-process
    chunk, at least 1,000 tokens); the other modes keep a single-process chunk per rank."""
    chunks = {w: RowSync(world=w, mode="momentum").chunk_tokens(200_000) for w in (1, 2, 4, 8, 64)}
    assert chunks == {1: 200_000, 2: 100_000, 4: 25_000, 8: 6_250, 64: 1_000}
    assert {w * c for w, c in chunks.items() if 1 < w < 64} == {200_000, 100_000, 50_000}
    assert RowSync(world=8, mode="capped").chunk_tokens(200_000) == 200_000


def test_a_sync_sends_each_matrix_only_the_rows_trained_in_it() -> None:
    """One mask per matrix: a row of w_in is sent when a rank trained it as an input row, a row of w_out when it was
    an output row (a word or a negative), not every row either matrix touched; a round with no rows sends nothing."""
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        w_in, w_out = torch.zeros(5, 2), torch.zeros(5, 2)
        sync = RowSync(world=1, mode="sum")
        sync.start(w_in, w_out)
        w_in[0] += 1.0
        w_out[[1, 3]] += 2.0
        sync.mark(np.array([0]), np.array([1]), np.array([3, 1]))
        started = time.perf_counter()
        sync.sync(w_in, w_out)
        assert sync.syncs == 1 and sync.rows_synced == 3  # 1 + 2; a mask shared by both matrices sent 3 + 3
        assert sync.info(vocab_size=5, dim=2)["bytes_per_sync_per_rank"] == 2 * 5 + 3 * 2 * 4
        assert w_in[0].tolist() == [1.0, 1.0] and w_out[3].tolist() == [2.0, 2.0]  # one rank's sum is its own step
        sync.sync(w_in, w_out)  # nothing trained since: skipped, not counted
        assert sync.syncs == 1
        w_in[0] += 1.0  # trained again: the change since the last sync (from its new base) is sent
        sync.mark(np.array([0]), np.array([0]))
        sync.sync(w_in, w_out)
        wall = time.perf_counter() - started
        assert sync.syncs == 2 and sync.rows_synced == 5 and w_in[0].tolist() == [2.0, 2.0]
        info = sync.info(vocab_size=5, dim=2)  # the profile: every part timed, within the three calls' wall time
        assert list(info["sync_phase_seconds"]) == list(SYNC_PHASES) and min(sync.phases.values()) > 0.0
        assert 0.0 < sync.seconds <= wall and info["sync_seconds"] == round(sync.seconds, 2)
    finally:
        dist.destroy_process_group()


def test_bounded_counting_over_ranks_keeps_the_single_process_pruning(tmp_path: Path) -> None:
    corpus, out = _head(tmp_path / "kjv5000.txt", 5000), tmp_path / "model"
    options = ["--count-limit", "1000", "--min-count", "2", "--dim", "8", "--epochs", "1", "--out", str(out)]
    r = run_torchrun(*TRAIN, str(corpus), *options)
    assert r.returncode == 0, r.stderr[-3000:]
    single = Vocab.build(Corpus(corpus), min_count=2, count_limit=1000)
    assert single.count_pruned_words > 0  # the limit did prune
    v = embed.load(out)
    assert v.words == single.words and np.array_equal(np.asarray(v.counts), single.counts)
    meta = json.loads((out / "meta.json").read_text())["corpus"]
    assert meta["count_limit_pruned_words"] == single.count_pruned_words
    assert meta["count_limit_pruned_tokens"] == single.count_pruned_tokens


@pytest.mark.parametrize("world", [1, 2, 3, 7])
def test_shards_in_rank_order_are_the_corpus_and_each_reads_its_share(world: int) -> None:
    whole = list(Corpus(KJV))
    shards = [Corpus(KJV).shard(r, world) for r in range(world)]
    assert [s for shard in shards for s in shard] == whole  # every line once, in corpus order
    size = KJV.stat().st_size
    for shard in shards:
        assert size / world <= shard.bytes_read + 200 and shard.bytes_read < size / world + 2 * 8192 + 300
    assert sum(s.stats.lines for s in shards) == 31102


def test_a_directory_with_compressed_files_is_shared_out_line_by_line(tmp_path: Path) -> None:
    data = KJV.read_bytes()
    shutil.copy(KJV, tmp_path / "a.txt")
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(data[:300_000]))
    (tmp_path / "c.txt.bz2").write_bytes(bz2.compress(data[300_000:400_000] + b"\nlast line without newline"))
    (tmp_path / "d.txt").write_bytes(b"in the beginning\r\nwindows line ends\r\nand an unfinished one")
    whole = list(Corpus(tmp_path))
    shards = [Corpus(tmp_path).shard(r, 2) for r in range(2)]
    parts = [list(s) for s in shards]
    assert sorted(map(tuple, parts[0] + parts[1])) == sorted(map(tuple, whole))
    assert not shards[0].ordered  # compressed files: every rank decompresses them whole, keeps every 2nd line
    gz = (tmp_path / "b.txt.gz").stat().st_size + (tmp_path / "c.txt.bz2").stat().st_size
    for shard in shards:
        assert shard.bytes_read > gz + 0.45 * (KJV.stat().st_size + 60)


def test_word_counts_continued_in_rank_order_prune_as_one_pass() -> None:
    sentences = list(Corpus(KJV))[:6000]
    single = Vocab.build(sentences, min_count=2, count_limit=1000)
    counts = WordCounts()
    for part in (sentences[:2500], sentences[2500:4000], sentences[4000:]):  # three ranks, passing the count on
        counts = WordCounts.from_json(json.loads(json.dumps(counts.to_json()))).add(part, 1000)
    merged = Vocab.from_word_counts(counts, min_count=2, count_limit=1000)
    assert single.count_pruned_words > 0
    assert merged.words == single.words and np.array_equal(merged.counts, single.counts)
    assert (merged.count_pruned_tokens, merged.count_floor) == (single.count_pruned_tokens, single.count_floor)
    unlimited = WordCounts.merge(WordCounts().add(p) for p in (sentences[:10], sentences[10:]))
    assert Vocab.from_word_counts(unlimited, min_count=2).words == Vocab.build(sentences, min_count=2).words


def test_round_plan_orders_chunks_round_by_round() -> None:
    plan = RoundPlan.from_sizes([[100, 100, 20], [100, 50], []])
    assert (plan.rounds, plan.epoch_tokens, plan.chunks) == (3, 370, (3, 2, 0))
    assert [plan.start(k, r) for k in range(3) for r in range(3)] == [0, 100, 200, 200, 300, 350, 350, 370, 370]
    assert plan.done(3) == 370 and plan.retained(1) == 150


def test_distributed_outside_torchrun_is_refused(tmp_path: Path) -> None:
    env: dict[str, str | None] = {k: None for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    out = tmp_path / "model"
    result = CliRunner(env=env).invoke(
        main, ["train", str(KJV), "--backend", "torch", "--distributed", "--out", str(out), "-q"]
    )
    assert result.exit_code != 0 and "--distributed needs torchrun's environment" in result.output
    assert "torchrun --nproc-per-node 2 -m embed train" in result.output and not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--distributed", "--backend", "gensim"], "--distributed needs --backend torch"),
        (["--sync-every", "2"], "--sync-every and --sync-mode need --distributed"),
        (["--backend", "torch", "--sync-mode", "sum"], "--sync-every and --sync-mode need --distributed"),
    ],
)
def test_distributed_options_are_refused_where_they_do_not_apply(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["train", str(KJV), *extra, "--out", str(tmp_path / "m"), "-q"])
    assert result.exit_code != 0 and message in result.output and not (tmp_path / "m").exists()
