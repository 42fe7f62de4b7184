"""A full disk while saving: one line naming --out, exit 1, and nothing left on the device.

Uses a 300 KB tmpfs mounted for the test (needs root and mount permission: skipped, with the reason,
where it has neither).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from embed.cli import main


@pytest.fixture()
def full_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(
            f"cannot mount a small tmpfs here ({r.stderr.strip() or 'mount failed'}); needs root with mount permission"
        )
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _corpus(tmp_path: Path, kjv_path: Path) -> Path:
    path = tmp_path / "kjv_head.txt"
    with open(kjv_path, encoding="utf-8") as fin:
        path.write_text("".join(line for _, line in zip(range(2000), fin, strict=False)), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["train", "import", "classify"])
def test_disk_full_is_one_line_and_leaves_nothing(
    full_disk: Path, tmp_path: Path, kjv_path: Path, kjv_model_dir: Path, command: str
) -> None:
    out = full_disk / "out"
    if command == "train":
        args = ["train", str(_corpus(tmp_path, kjv_path)), "--out", str(out), "--epochs", "1", "--no-eval", "--quiet"]
    elif command == "import":
        args = ["import", str(kjv_model_dir / "vectors.bin"), "--out", str(out)]
    else:
        data = tmp_path / "d.txt"
        data.write_text("".join(f"__label__{'ab'[i % 2]} word{i % 7} text {i}\n" for i in range(40)), encoding="utf-8")
        args = ["classify", "train", str(data), "--out", str(out), "--epochs", "1", "--dim", "300"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    assert (
        f"{out}: could not be written (" in res.output
        and "nothing was written" in res.output
        and "Traceback" not in res.output
    )
    assert list(full_disk.iterdir()) == []


def test_out_under_proc_is_one_line(tmp_path: Path, kjv_path: Path) -> None:
    res = CliRunner().invoke(
        main,
        [
            "train",
            str(_corpus(tmp_path, kjv_path)),
            "--out",
            "/proc/embed-test/m",
            "--epochs",
            "1",
            "--no-eval",
            "--quiet",
        ],
    )
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.output.strip().splitlines()[-1].startswith("Error: /proc/embed-test")


def test_index_on_a_read_only_model_fails_before_building(tmp_path: Path, kjv_model_dir: Path) -> None:
    """#19.9: `embed index` on a model it cannot write says so at once (read-only bind mount), and writes nothing."""
    import shutil
    import time

    model = tmp_path / "model"
    shutil.copytree(kjv_model_dir, model, ignore=shutil.ignore_patterns("index"))
    r = subprocess.run(["mount", "--bind", "-o", "ro", str(model), str(model)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(
            f"cannot make a read-only bind mount here ({r.stderr.strip() or 'mount failed'});"
            " needs root with mount permission"
        )
    try:
        before = sorted(p.name for p in model.iterdir())
        started = time.perf_counter()
        res = CliRunner().invoke(main, ["index", str(model), "--quiet"])
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        assert f"{model}: cannot write its index/ there (" in res.output and "writable copy" in res.output
        assert time.perf_counter() - started < 5  # refused before the build
        assert sorted(p.name for p in model.iterdir()) == before
    finally:
        subprocess.run(["umount", str(model)], check=False)
