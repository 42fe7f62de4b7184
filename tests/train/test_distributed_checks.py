"""What the ranks of a data-parallel run must agree on: each refusal is one clear line on every rank, a non-zero
exit and nothing written (real torchrun, gloo on loopback; ``{rank}`` in an argument is the worker's rank)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

from embed.cli import FLAGS, main
from embed.config import OptionError, TrainConfig
from embed.errors import FormatError
from embed.train import RunOptions, check_run, train
from embed.train.checkpoint import Checkpointer, read_snapshot
from embed.train.distributed import RowSync
from tests.conftest import KJV
from tests.train.distributed_helpers import run_torchrun, two_rank_checkpoint

TRAIN = ["train", "--backend", "torch", "--distributed", "--workers", "1", "--dim", "8", "--epochs", "1"]
TRAIN += ["-q", "--no-eval"]


def _lines(path: Path, start: int, count: int) -> Path:
    with open(KJV, encoding="utf-8") as fh:
        lines = fh.readlines()[start : start + count]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _refused_on_every_rank(tmp_path: Path, message: str, *args: str, per_rank: bool = False) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    r = run_torchrun(*TRAIN, *args, "--out", str(tmp_path / "model"), per_rank=per_rank, timeout=120)
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 2 and all(message in line for line in errors), r.stderr[-3000:]
    assert "embed/cli.py" not in r.stderr  # no worker traceback (torchrun prints its own summary)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no model, no checkpoint, no partial directory


def test_ranks_started_with_different_options_are_refused(tmp_path: Path) -> None:
    corpus = _lines(tmp_path / "c.txt", 0, 2000)
    message = "the ranks were started with different options: seed=11 on rank 1, seed=10 on rank 0;"
    _refused_on_every_rank(tmp_path, message, str(corpus), "--seed", "1{rank}", per_rank=True)


@pytest.mark.parametrize(("second", "words"), [(1000, ""), (2000, " (the same sizes, other content)")])
def test_ranks_reading_different_corpora_are_refused(tmp_path: Path, second: int, words: str) -> None:
    _lines(tmp_path / "c0.txt", 0, 2000)
    other = _lines(tmp_path / "c1.txt", 0, second)
    if words:  # the same size, one word changed
        other.write_text(other.read_text().replace("God", "Gop", 1))
    mine, theirs = ((tmp_path / f"c{r}.txt").stat().st_size for r in (0, 1))
    message = (
        f"the ranks read different corpora: 1 file(s) of {theirs:,} bytes on rank 1, 1 file(s) of {mine:,} bytes"
        f" on rank 0{words}; give every rank the same corpus"
    )
    _refused_on_every_rank(tmp_path, message, str(tmp_path / "c{rank}.txt"), per_rank=True)


def test_more_ranks_than_lines_is_refused(tmp_path: Path) -> None:
    corpus = tmp_path / "one.txt"
    corpus.write_text("in the beginning god created the heaven and the earth\n")
    message = (
        f"{corpus}: 1 line(s) for 2 ranks: rank 1 got no text to train on (the ranks share the corpus out in"
        " whole lines); start fewer ranks (torchrun --nproc-per-node) or train on a larger corpus"
    )
    _refused_on_every_rank(tmp_path, message, str(corpus), "--min-count", "1")


@pytest.fixture(scope="module")
def single_process_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of a one-process run (kept: the run never finishes writing a model)."""
    ckpt = tmp_path_factory.mktemp("one") / "ckpt"
    corpus = _lines(ckpt.parent / "c.txt", 0, 2000)
    config = TrainConfig(backend="torch", epochs=1, dim=8, workers=1)
    train(corpus, config, run=RunOptions(checkpointer=Checkpointer(ckpt, 1e-9, out=str(ckpt.parent / "never"))))
    return ckpt


def test_resuming_a_single_process_checkpoint_on_two_ranks_is_refused(
    single_process_checkpoint: Path, tmp_path: Path
) -> None:
    corpus = single_process_checkpoint.parent / "c.txt"
    message = (
        f"{single_process_checkpoint}: this checkpoint was written by a single process and this run has 2 ranks;"
        " resume it with the same world size (without torchrun and --distributed)"
    )
    r = run_torchrun(
        "train",
        str(corpus),
        "--backend",
        "torch",
        "--distributed",
        "--resume",
        str(single_process_checkpoint),
        "--out",
        str(tmp_path / "model"),
        "-q",
        "--no-eval",
        timeout=120,
    )
    assert r.returncode != 0
    assert [line for line in r.stderr.splitlines() if line.startswith("Error: ")] == [f"Error: {message}"] * 2
    assert list(tmp_path.iterdir()) == []


def test_resuming_a_two_rank_checkpoint_in_one_process_is_refused(tmp_path: Path) -> None:
    ckpt = two_rank_checkpoint(tmp_path / "ckpt")
    result = CliRunner().invoke(main, ["train", str(KJV), "--resume", str(ckpt), "--out", str(tmp_path / "m"), "-q"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        f"Error: {ckpt}: this checkpoint was written by 2 ranks and this run has a single process; resume it with"
        " the same world size (with torchrun --nproc-per-node 2 and --distributed)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_resuming_with_other_sync_settings_is_refused(tmp_path: Path) -> None:
    snapshot = read_snapshot(two_rank_checkpoint(tmp_path / "ckpt", every=1))
    assert snapshot.world_size == 2 and snapshot.rank_rng_state(1) != snapshot.rank_rng_state(0)
    run = RunOptions(resume=snapshot, sync=RowSync(every=2, world=2, mode="average"))
    with pytest.raises(OptionError) as info:
        check_run(TrainConfig(backend="torch"), run, "c.txt")
    assert info.value.render(FLAGS) == (
        f"{tmp_path / 'ckpt'}: this checkpoint synced every 1 round(s) with mode average, this run asks 2 and"
        " average; resume with the checkpoint's --sync-every and --sync-mode"
    )
    same = RowSync(world=2, mode="average")
    check_run(TrainConfig(backend="torch"), RunOptions(resume=snapshot, sync=same), "c.txt")  # accepted


def test_a_checkpoint_missing_a_ranks_generator_is_damaged(tmp_path: Path) -> None:
    ckpt = two_rank_checkpoint(tmp_path / "ckpt", rngs=1)
    with pytest.raises(FormatError, match="damaged checkpoint .*1 generator states for 2 ranks"):
        read_snapshot(ckpt)


def test_a_momentum_checkpoint_keeps_its_block_steps_and_is_damaged_without_them(tmp_path: Path) -> None:
    snapshot = read_snapshot(two_rank_checkpoint(tmp_path / "ckpt", mode="momentum"))
    assert snapshot.sync_steps is not None
    assert snapshot.sync_steps[0].tolist() == [[1.0] * 4] * 2 and snapshot.sync_steps[1].tolist() == [[2.0] * 4] * 2
    assert read_snapshot(two_rank_checkpoint(tmp_path / "plain")).sync_steps is None  # the other modes keep none
    ckpt = two_rank_checkpoint(tmp_path / "lost", mode="momentum", steps=False)
    with pytest.raises(FormatError, match=r"lost: damaged checkpoint \(.*sync_step_in.npy.*start the training again"):
        read_snapshot(ckpt)


def test_a_damaged_compressed_corpus_stops_every_rank(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt.gz"
    corpus.write_bytes(gzip.compress(_lines(tmp_path / "plain.txt", 0, 3000).read_bytes())[:60_000])  # truncated
    (tmp_path / "plain.txt").unlink()
    _refused_on_every_rank(tmp_path, f"{corpus}: truncated or damaged compressed data after line", str(corpus))
