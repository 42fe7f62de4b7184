"""Issue 19 (hardening): text decoding, directory modes, divergence, temporary files of killed runs."""

from __future__ import annotations

import logging
import math
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from embed.classify.data import read_dataset
from embed.cli import main
from embed.errors import FormatError
from embed.io import save_vectors
from embed.vectors import Vectors
from tests.classify.classify_helpers import planted, planted_vectors

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--num-filters", "8", "--epochs", "2", "--threads", "1", "--batch-size", "25", "--quiet"]

# --- 1. classifier data decoding --------------------------------------------------------------

ZH = [("1", "曹操引兵追赶"), ("0", "宝玉笑道"), ("1", "悟空大怒"), ("0", "黛玉听了")]


def _kim(path: Path, rows: list[tuple[str, str]], encoding: str = "utf-8") -> Path:
    path.write_bytes("".join(f"{lab} {text}\n" for lab, text in rows).encode(encoding))
    return path


def test_a_stray_byte_is_replaced_and_counted_not_the_file_reread_as_latin1(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _kim(tmp_path / "zh.txt", ZH * 3)
    path.write_bytes(path.read_bytes() + b"1 \xff stray\n")  # one byte that is not UTF-8
    with caplog.at_level(logging.WARNING, logger="embed.classify.data"):
        data = read_dataset(path)
    assert data.texts[:4] == [t for _, t in ZH]  # Chinese, not mojibake
    assert data.texts[-1] == "\ufffd stray"
    warnings = [r.getMessage() for r in caplog.records if "not valid UTF-8" in r.getMessage()]
    assert warnings == [
        f"{path}: 1 byte(s) were not valid UTF-8 and were replaced with U+FFFD;"
        " pass --encoding if the file has another encoding (e.g. cp1252)"
    ]


def test_a_mostly_undecodable_file_is_refused_naming_encoding(tmp_path: Path) -> None:
    path = _kim(tmp_path / "gbk.txt", ZH, encoding="gbk")
    with pytest.raises(FormatError) as exc:
        read_dataset(path)
    assert (
        str(exc.value)
        == f"{path}: 4 of 4 lines are not valid UTF-8; pass --encoding with the file's encoding (e.g. cp1252 or gbk)"
    )
    assert read_dataset(path, encoding="gbk").texts == [t for _, t in ZH]


def test_a_named_encoding_must_decode_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"1 good\n0 \x81 undefined in cp1252\n")
    with pytest.raises(FormatError, match=r"bad.txt: byte 9 \(0x81\) is not valid cp1252; pass the file's --encoding"):
        read_dataset(path, encoding="cp1252")


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hardening")
    save_vectors(planted_vectors(), d / "vecs.txt", binary=False)
    texts, labels = planted(120, 1)
    # cp1252: "é" (0xe9) and the ellipsis (0x85) are not UTF-8, on every line
    train = d / "train.kim"
    train.write_bytes("".join(f"{lab} {t} café …\n" for t, lab in zip(texts, labels, strict=False)).encode("cp1252"))
    return {"dir": d, "train": train, "vectors": d / "vecs.txt"}


def test_cli_refuses_a_cp1252_file_and_trains_with_encoding(cli_files: dict[str, Path]) -> None:
    runner = CliRunner()
    out = cli_files["dir"] / "clf"
    r = runner.invoke(
        main, ["classify", "train", str(cli_files["train"]), "--tokenizer", "whitespace", "--out", str(out), *SMALL]
    )
    assert r.exit_code == 1, r.output
    assert r.output == (
        f"Error: {cli_files['train']}: 120 of 120 lines are not valid UTF-8;"
        " pass --encoding with the file's encoding (e.g. cp1252 or gbk)\n"
    )
    assert not out.exists()
    r = runner.invoke(
        main,
        [
            "classify",
            "train",
            str(cli_files["train"]),
            "--tokenizer",
            "whitespace",
            "--encoding",
            "cp1252",
            "--out",
            str(out),
            *SMALL,
        ],
    )
    assert r.exit_code == 0, r.output
    vocab = (out / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert "café" in vocab and "…" in vocab
    r = runner.invoke(
        main, ["classify", "eval", str(out), str(cli_files["train"]), "--encoding", "cp1252", "--threads", "1"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        main,
        ["classify", "predict", str(out), "-", "--encoding", "cp1252"],
        input="splendid caf\xe9\n".encode("cp1252"),
    )
    assert r.exit_code == 0 and r.output.startswith("pos\t"), r.output


def test_cli_unknown_encoding_is_a_usage_error(cli_files: dict[str, Path]) -> None:
    out = cli_files["dir"] / "never"
    r = CliRunner().invoke(
        main, ["classify", "train", str(cli_files["train"]), "--encoding", "klingon", "--out", str(out)]
    )
    assert r.exit_code == 2 and "unknown encoding 'klingon'; pass a codec name such as utf-8, cp1252 or gbk" in r.output
    assert not out.exists()


# --- 3. NaN/inf -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    with open(ROOT / "corpora" / "kjv.txt", encoding="utf-8") as fh:
        path.write_text("".join(fh.readline() for _ in range(3000)), encoding="utf-8")
    return path


TINY_TRAIN = ["--epochs", "2", "--dim", "50", "--min-count", "2", "--no-eval", "--quiet", "--workers", "1"]


def test_training_whose_loss_blows_up_but_stays_finite_is_stopped(small_corpus: Path) -> None:
    """Measured 2026-12-03: torch CBOW batches of 16,384 // 4 examples on these lines end epoch 1 at loss 373
    (finite). Skip-gram's 16,384-pair batches did too (~1.7e6, 2026-12-02) until its kernel capped repeated input
    rows (torch_kernels.ROW_CAP). Before the guard's ceiling, such runs wrote a model whose neighbours were all at
    cosine 1."""
    from embed.config import TrainConfig
    from embed.corpus import Corpus
    from embed.train import DIVERGED_LOSS_FACTOR, DivergedError, train

    config = TrainConfig(backend="torch", arch="cbow", batch_size=16_384, epochs=2, dim=50, min_count=2, workers=1)
    with pytest.raises(DivergedError) as exc:
        train(Corpus(small_corpus), config)
    message = str(exc.value)
    assert message.startswith("training diverged at epoch 1 (loss ") and message.endswith("lower alpha (now 0.05)")
    loss = float(message.split("(loss ")[1].split(")")[0])
    assert math.isfinite(loss) and loss > DIVERGED_LOSS_FACTOR * 6 * math.log(2), message


def test_torch_training_that_diverges_stops_with_the_epoch_and_writes_nothing(
    small_corpus: Path, tmp_path: Path
) -> None:
    # Measured 2026-12-01 on the first 3,000 KJV lines: torch skip-gram at alpha 0.5 is NaN after
    # epoch 1. gensim bounds each update by alpha (its sigmoid table saturates), so it stays
    # finite for every alpha the CLI accepts (<= 1; loss 1080 at alpha 1) and has no test here.
    out = tmp_path / "m"
    r = CliRunner().invoke(
        main, ["train", str(small_corpus), "--backend", "torch", "--alpha", "0.5", "--out", str(out), *TINY_TRAIN]
    )
    assert r.exit_code == 1, r.output
    assert r.output.splitlines()[-1] == "Error: training diverged at epoch 1 (loss nan); lower --alpha (now 0.5)"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_library_refuses_non_finite_vectors_naming_the_word() -> None:
    from embed.config import TrainConfig
    from embed.train import DivergedError, TrainResult, check_finite
    from embed.vocab import Vocab

    m = np.ones((3, 4), dtype=np.float32)
    m[1, 2] = np.inf
    m[2, 0] = np.nan
    vecs = Vectors.from_arrays(["a", "b", "c"], m)
    result = TrainResult(
        vectors=vecs, vocab=Vocab.build([["a", "b", "c"]], min_count=1), epochs=[], train_seconds=0.0, backend_info={}
    )
    with pytest.raises(DivergedError) as exc:
        check_finite(result, TrainConfig(arch="cbow").start_alpha)
    assert (
        str(exc.value) == "training diverged: the vector of 'b' and 1 other words is not finite; lower alpha (now 0.05)"
    )


@pytest.fixture()
def nan_model_dir(tmp_path: Path) -> Path:
    from embed.io import save_model_dir

    vectors = planted_vectors()
    words = vectors.words
    out = tmp_path / "vecs"
    save_model_dir(out, vectors, {})
    matrix = np.load(out / "vectors.npy", mmap_mode="r+")
    matrix[words.index("dreadful")] = np.nan  # as a diverged run's weights
    matrix[words.index("w7"), 3] = np.inf
    matrix.flush()
    del matrix
    return out


def test_classifier_refuses_a_model_dir_with_a_nan_row(nan_model_dir: Path, tmp_path: Path) -> None:
    texts, labels = planted(60, 3)
    data = tmp_path / "train.txt"
    data.write_text("".join(f"__label__{lab} {t}\n" for t, lab in zip(texts, labels, strict=False)), encoding="utf-8")
    out = tmp_path / "clf"
    r = CliRunner().invoke(
        main, ["classify", "train", str(data), "--vectors", str(nan_model_dir), "--out", str(out), *SMALL]
    )
    assert r.exit_code == 1, r.output
    assert r.output == (
        f"Error: {nan_model_dir}: the vector of 'w7' (and 1 other words of the data) holds NaN or inf; "
        "retrain those vectors with a lower --alpha or pass other --vectors\n"
    )
    assert not out.exists()
    r = CliRunner().invoke(main, ["classify", "train", str(data), "--vectors", str(nan_model_dir), "--cv", "2", *SMALL])
    assert r.exit_code == 1 and "holds NaN or inf" in r.output, r.output


def test_classifier_refuses_a_vectors_file_with_nan(tmp_path: Path) -> None:
    vec = tmp_path / "v.txt"
    vec.write_text("2 3\nsplendid 0.1 nan 0.3\ndreadful 0.1 0.2 0.3\n", encoding="utf-8")
    data = tmp_path / "train.txt"
    data.write_text("__label__pos splendid film\n__label__neg dreadful film\n" * 10, encoding="utf-8")
    out = tmp_path / "clf"
    r = CliRunner().invoke(main, ["classify", "train", str(data), "--vectors", str(vec), "--out", str(out), *SMALL])
    assert r.exit_code == 1, r.output
    # Already refused when the file is read (embed.formats), before fit's own check.
    assert r.output.startswith(f"Error: {vec}: line 2 (row 1): word 'splendid' holds NaN or inf values"), r.output
    assert not out.exists()


# --- 2. directory and file modes follow the umask ---------------------------------------------

EMBED = Path(sys.executable).parent / "embed"


def _default_sigint() -> None:
    # As from a terminal: a test run started in the background inherits SIGINT ignored, and embed then
    # leaves it ignored on purpose (nohup and background jobs), so Ctrl-C would not reach it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _embed(args: list[str], tmp: Path, umask: str = "022", **kw: Any) -> subprocess.Popen[str]:
    """``embed ARGS`` in a fresh process with ``umask``, its own TMPDIR and SIGINT's default action."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.Popen(
        ["bash", "-c", f'umask {umask}; exec "$0" "$@"', str(EMBED), *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,
        **kw,
    )


@pytest.mark.parametrize(("umask", "dir_mode", "file_mode"), [("022", 0o755, 0o644), ("027", 0o750, 0o640)])
def test_model_directory_and_files_get_the_umask_modes(
    small_corpus: Path, tmp_path: Path, umask: str, dir_mode: int, file_mode: int
) -> None:
    out = tmp_path / "m"
    proc = _embed(["train", str(small_corpus), "--out", str(out), *TINY_TRAIN], tmp_path, umask)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == dir_mode
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert "vectors.npy" in modes and "meta.json" in modes and "loss.png" in modes
    assert modes == dict.fromkeys(modes, file_mode)


def test_current_umask_is_read_without_changing_it() -> None:
    code = "import os; from embed.tmp import current_umask; a = current_umask(); b = os.umask(0); print(oct(a), oct(b))"
    r = subprocess.run(
        ["bash", "-c", f'umask 027; exec "$0" -c "{code}"', sys.executable], capture_output=True, text=True, check=True
    )
    assert r.stdout.split() == ["0o27", "0o27"]


# --- 4. temporary files of interrupted and killed runs ----------------------------------------


def test_a_forked_child_gets_the_default_signal_actions_back() -> None:
    """jieba's pool workers are forked while embed's SIGTERM handler is installed; they must not keep it.

    A Python-level handler runs only between bytecodes, so a worker that took Pool.terminate()'s SIGTERM just
    before blocking on the pool's queue lock slept there for ever (``embed train --tokenizer jieba`` hung).
    """
    from embed import cli

    with cli._interrupt_on_signals():
        assert signal.getsignal(signal.SIGTERM) is cli._raise_interrupt
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report its handlers and leave at once
            os.write(write, repr([signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)]).encode())
            os._exit(0)
        os.close(write)
        seen = os.read(read, 200).decode()
        os.close(read)
        os.waitpid(pid, 0)
        assert signal.getsignal(signal.SIGTERM) is cli._raise_interrupt  # the parent keeps its own
    assert seen.startswith("[<Handlers.SIG_DFL: 0>, ") and "_raise_interrupt" not in seen, seen


def _wait_for_torch_tokens(scratch: Path, proc: subprocess.Popen[str], timeout: float = 60) -> list[Path]:
    """Poll until the torch backend's ``tokens-<pid>-*`` directory exists: training has begun."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        entries = sorted(scratch.glob(f"tokens-{proc.pid}-*")) if scratch.is_dir() else []
        if any(p.is_dir() and (p / "tokens.u32").exists() for p in entries):
            return entries
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the torch token cache never appeared")


# alpha 0.01: at the default 0.025 this small corpus diverges by epoch 8 of 500 (about a second in), which a busy
# machine can reach before the signal is sent; at 0.01 all 500 epochs stay finite (about a minute).
LONG_TORCH = [
    "--backend",
    "torch",
    "--alpha",
    "0.01",
    "--epochs",
    "500",
    "--dim",
    "20",
    "--min-count",
    "2",
    "--no-eval",
    "--quiet",
    "--workers",
    "1",
]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_training_removes_its_temporary_files(
    small_corpus: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    out = tmp_path / "runs" / "m"
    scratch = tmp_path / f"embed-{os.getuid()}"
    proc = _embed(["train", str(small_corpus), "--out", str(out), *LONG_TORCH], tmp_path)
    entries = _wait_for_torch_tokens(scratch, proc)
    assert {p.suffix for p in entries} == {"", ".txt"}  # the torch cache and the token spool
    t0 = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == "interrupted; nothing was written"
    assert list(scratch.iterdir()) == []
    assert not out.parent.exists() or list(out.parent.iterdir()) == []  # no model, no .m.tmp-*


def test_the_next_run_removes_what_a_sigkilled_one_left(small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    scratch = tmp_path / f"embed-{os.getuid()}"
    proc = _embed(["train", str(small_corpus), "--out", str(out), *LONG_TORCH], tmp_path)
    left = _wait_for_torch_tokens(scratch, proc)
    proc.kill()
    proc.communicate(timeout=30)
    assert all(p.exists() for p in left) and len(left) == 2
    half_model = tmp_path / f".m.tmp-{proc.pid}-x1y2"  # as atomic_dir names it, had the kill come while saving
    half_model.mkdir()
    (half_model / "vectors.npy").write_bytes(b"partial")
    dead_server = scratch / f"serving-{proc.pid}-loaded"  # a killed `embed serve --workers 2` leaves its marker
    dead_server.write_text("")
    live = [scratch / f"tokens-{os.getpid()}-mine.txt", tmp_path / f".m.tmp-{os.getpid()}-mine"]  # a live PID's
    live[0].write_text("x\n")
    live[1].mkdir()
    again = _embed(["train", str(small_corpus), "--out", str(out), *TINY_TRAIN], tmp_path)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    removed = [*left, half_model]
    head, _, listed = err.splitlines()[0].partition(": ")
    assert head == "removed 3 stale temporary file(s) of killed embed runs" and sorted(listed.split(", ")) == sorted(
        map(str, removed)
    )
    assert not any(p.exists() for p in removed) and not dead_server.exists()  # removed, not reported as a run's
    assert all(p.exists() for p in live)
    assert sorted(p.name for p in scratch.iterdir()) == [live[0].name]
    assert (out / "meta.json").exists()


def test_an_index_json_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    """#19.6: a FIFO (or device) where index.json should be would block the loader for ever."""
    import concurrent.futures
    import shutil

    from embed.io import save_model_dir
    from embed.search import Searcher

    model = save_model_dir(tmp_path / "m", Vectors.from_arrays(["a", "b", "c"], np.eye(3)), {"params": {}})
    (model / "index").mkdir()
    os.mkfifo(model / "index" / "index.json")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(Searcher.open, model)
        try:
            with pytest.raises(FormatError, match=r"index\.json: not a regular file; the index is damaged"):
                future.result(timeout=10)
        finally:
            if not future.done():  # unblock the reader so the test ends
                with open(model / "index" / "index.json", "w"):
                    pass
    shutil.rmtree(model)


def test_embed_clean_removes_only_dead_runs_files(tmp_path: Path) -> None:
    """#19.5: `embed clean OUT` deletes stale token files, worker markers and .OUT.tmp-* of dead PIDs now;
    a live PID's stay."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    scratch = tmp_path / f"embed-{os.getuid()}"
    scratch.mkdir(mode=0o700)
    out = tmp_path / "m"
    stale = [
        scratch / f"tokens-{dead.pid}-a.txt",
        scratch / f"serving-{dead.pid}-loaded",
        tmp_path / f".m.tmp-{dead.pid}-x1",
    ]
    live = [scratch / f"tokens-{os.getpid()}-b.txt", tmp_path / f".m.tmp-{os.getpid()}-y2"]
    for p in stale[:2] + live[:1]:
        p.write_text("x\n")
    for p in (stale[2], live[1]):
        p.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "embed", "clean", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()[:-1]) == sorted(f"removed {p}" for p in stale)
    assert done.stdout.splitlines()[-1] == "3 stale temporary file(s) removed"
    assert not any(p.exists() for p in stale) and all(p.exists() for p in live)
