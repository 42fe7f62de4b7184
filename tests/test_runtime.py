"""embed.runtime: the one owner of threads and the OpenMP environment, and nothing writes it at import.

What libgomp actually read is checked, not only ``os.environ``: with ``OMP_DISPLAY_ENV=VERBOSE``
each libgomp (torch and FAISS bundle one each) prints its settings when it loads, and its
``GOMP_SPINCOUNT`` line is the spin it settled on (0 for a passive wait policy, 300000 by default).
Each case runs in a fresh interpreter, since the variables are read once per process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from embed.errors import ConfigError
from embed.runtime import configure_threads, openmp_environment, worker_environment
from tests.conftest import ROOT

OPENMP = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run(code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -c code args`` from the checkout, with none of :data:`OPENMP` set unless ``env`` sets it."""
    full = {k: v for k, v in os.environ.items() if k not in OPENMP and k != "OMP_DISPLAY_ENV"}
    full.update(PYTHONPATH=str(ROOT), **env)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=full, cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def libgomp_spins(stderr: str) -> list[str]:
    """The ``GOMP_SPINCOUNT`` of each libgomp that loaded, in load order (``OMP_DISPLAY_ENV=VERBOSE`` output)."""
    return re.findall(r"^\s*GOMP_SPINCOUNT = '(\d+)'", stderr, flags=re.M)


def test_importing_writes_no_environment() -> None:
    code = """
import json, os, sys
before = dict(os.environ)
import embed, embed.cli
light = not {"torch", "faiss"} & set(sys.modules)  # so a command's first line runs before libgomp loads
import embed.runtime, embed.train.torch_backend, embed.classify, embed.index, embed.maps, service.app
after = dict(os.environ)
print(json.dumps({"changed": {k: after.get(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k)},
                  "light": light}))
"""
    assert json.loads(run(code).stdout) == {"changed": {}, "light": True}


def test_classify_waits_passively_and_sets_torch_threads() -> None:
    code = """
import json, os, sys
from embed.runtime import configure_threads
configure_threads(3, "classify")
import torch
print(json.dumps([torch.get_num_threads(), os.environ.get("OMP_WAIT_POLICY"), "faiss" in sys.modules]))
"""
    done = run(code, OMP_DISPLAY_ENV="VERBOSE")
    assert json.loads(done.stdout) == [3, "PASSIVE", False]
    assert libgomp_spins(done.stderr) == ["0"]  # torch's libgomp read the passive policy when it loaded
    # A policy in the environment wins.
    done = run(code, OMP_DISPLAY_ENV="VERBOSE", OMP_WAIT_POLICY="ACTIVE")
    assert json.loads(done.stdout)[1] == "ACTIVE"


def test_train_spins_briefly_and_leaves_torch_unloaded() -> None:
    code = """
import json, os, sys
from embed.runtime import configure_threads
configure_threads(2, "train")
loaded = "torch" in sys.modules  # the gensim backend must not pay for torch
import torch, faiss
print(json.dumps([loaded, os.environ.get("GOMP_SPINCOUNT")]))
"""
    done = run(code, OMP_DISPLAY_ENV="VERBOSE")
    assert json.loads(done.stdout) == [False, "10000"]
    assert libgomp_spins(done.stderr) == ["10000", "10000"]  # torch's and FAISS's
    # A chosen wait policy, or spin count, is left to libgomp.
    assert json.loads(run(code, OMP_WAIT_POLICY="PASSIVE").stdout) == [False, None]
    assert json.loads(run(code, GOMP_SPINCOUNT="500").stdout) == [False, "500"]


def test_index_sets_faiss_threads_and_no_environment() -> None:
    code = """
import json, os, sys
before = dict(os.environ)
from embed.runtime import configure_threads
configure_threads(3, "index")
import embed.index, faiss
unchanged = dict(os.environ) == before
print(json.dumps([faiss.omp_get_max_threads(), embed.index._threads, unchanged, "torch" in sys.modules]))
"""
    assert json.loads(run(code).stdout) == [3, 3, True, False]


@pytest.mark.parametrize("uses_torch", [False, True])
def test_serve_limits_every_pool_and_writes_no_environment(uses_torch: bool) -> None:
    code = """
import json, os, sys
import numpy, faiss  # as in a worker: `import service.app` has loaded both
from threadpoolctl import threadpool_info  # its import sets KMP_DUPLICATE_LIB_OK, whoever imports it
before = dict(os.environ)
from embed.runtime import configure_threads
configure_threads(1, "serve", uses_torch=sys.argv[1] == "True")
torch = sys.modules.get("torch")
print(json.dumps({
    "pools": sorted({p["num_threads"] for p in threadpool_info()}),
    "faiss": faiss.omp_get_max_threads(),
    "torch": torch.get_num_threads() if torch else None,
    "environment": dict(os.environ) == before,
}))
"""
    got = json.loads(run(code, str(uses_torch)).stdout)
    assert got == {"pools": [1], "faiss": 1, "torch": 1 if uses_torch else None, "environment": True}


def test_worker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert worker_environment(2) == {
        "OMP_WAIT_POLICY": "PASSIVE",
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
    }
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert worker_environment(1)["OMP_WAIT_POLICY"] == "ACTIVE"


def test_openmp_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in OPENMP:
        monkeypatch.delenv(var, raising=False)
    assert openmp_environment("train") == {"GOMP_SPINCOUNT": "10000"}
    assert openmp_environment("classify") == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert openmp_environment("index") == openmp_environment("serve") == {}
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    assert openmp_environment("train") == openmp_environment("classify") == {}


@pytest.mark.parametrize(
    ("n", "workload", "message"),
    [
        (0, "classify", "threads must be a whole number >= 1, got 0"),
        (True, "index", "got True"),
        (2, "predict", "workload must be one of train, serve, classify, index; got 'predict'"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_set(n: int, workload: str, message: str) -> None:
    before = dict(os.environ)
    with pytest.raises(ConfigError, match=re.escape(message)):
        configure_threads(n, workload)  # type: ignore[arg-type]
    assert dict(os.environ) == before


def test_classify_predict_sets_the_policy_before_torch_loads(classifier_dir: Path, tmp_path: Path) -> None:
    """``embed classify predict`` imported torch before ``embed.classify`` once, so the policy came too late."""
    (tmp_path / "texts.txt").write_text("w3 splendid w7\n", encoding="utf-8")
    code = "import sys; from embed.cli import main; main(sys.argv[1:])"
    done = run(code, "classify", "predict", str(classifier_dir), str(tmp_path / "texts.txt"), OMP_DISPLAY_ENV="VERBOSE")
    assert libgomp_spins(done.stderr) == ["0"]


def test_serve_hands_its_workers_the_environment(classifier_dir: Path, tmp_path: Path) -> None:
    """``embed serve`` sets the workers' thread variables, and its wait policy before the classifier check loads
    torch (with ``--workers 1`` this process serves)."""
    import numpy as np

    from embed.io import save_model_dir
    from embed.vectors import Vectors

    model = save_model_dir(
        tmp_path / "m", Vectors.from_arrays(["a", "b", "c"], np.eye(3, dtype=np.float32)), {"params": {"dim": 3}}
    )
    code = """
import json, os, sys
import uvicorn
seen = {}
uvicorn.run = lambda *a, **k: seen.update({v: os.environ.get(v) for v in sys.argv[1].split(",")})
from embed.cli import main
main(sys.argv[2:], standalone_mode=False)
print(json.dumps(seen))
"""
    names = ",".join((*OPENMP, "EMBED_THREADS"))
    argv = ["serve", str(model), "--classifier", f"tiny={classifier_dir}", "--threads", "3"]
    done = run(code, names, *argv, OMP_DISPLAY_ENV="VERBOSE")
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "OMP_WAIT_POLICY": "PASSIVE",
        "GOMP_SPINCOUNT": None,
        "OMP_NUM_THREADS": "3",
        "OPENBLAS_NUM_THREADS": "3",
        "MKL_NUM_THREADS": "3",
        "EMBED_THREADS": "3",
    }
    assert libgomp_spins(done.stderr) == ["0"]  # torch, loaded by the classifier check, waits passively
