"""Compute threads and the OpenMP environment of a process: the one place that sets them up.

:func:`configure_threads` is called explicitly by the entry point of each workload (calling it
again with the same arguments changes nothing); nothing in ``embed`` or ``service`` writes the
environment when it is imported. What it does:

* ``train`` (``embed train``): ``GOMP_SPINCOUNT=10000`` unless ``OMP_WAIT_POLICY`` or
  ``GOMP_SPINCOUNT`` is set. No thread count here: ``TorchTrainer.fit`` sets torch's to
  ``config.workers`` for each run, and gensim runs that many threads of its own.
* ``classify`` (``embed classify train|eval|predict``, ``python -m bench.classify``):
  ``OMP_WAIT_POLICY=PASSIVE`` unless it is set; torch's intra-op threads.
* ``index`` (``embed index``): FAISS's threads (the exact tables' torch products take theirs per
  call, :func:`embed.neighbours.exact_topk`).
* ``serve`` (``service.app.create_app``, in every worker): the BLAS and OpenMP pools already
  loaded (threadpoolctl), FAISS, and torch when classifiers are served (``uses_torch``); no
  environment: ``embed serve`` hands its workers :func:`worker_environment` instead.

**When to call it.** OpenMP reads ``OMP_WAIT_POLICY`` and ``GOMP_SPINCOUNT`` once, when libgomp
loads, and torch and FAISS each bundle a libgomp of their own (``torch/lib/libgomp.so.1``,
``faiss_cpu.libs/libgomp-*.so``) that loads when the library is imported (``OMP_DISPLAY_ENV=VERBOSE``
makes each print what it read, ``GOMP_SPINCOUNT`` being the spin it settled on). So ``train`` and
``classify`` must call this before the first ``import torch`` or ``import faiss`` of the process:

* ``embed`` and ``embed.cli`` import neither (the commands import lazily), so the start of a
  command is early enough. ``embed train`` must call it before
  ``embed.train.distributed.init_from_env`` (which imports ``torch.distributed``) and before
  training; ``embed classify`` before anything from ``embed.classify`` (the package imports torch).
* ``create_app`` runs after ``import service.app`` has loaded FAISS (through ``embed.index``): too late
  for an OpenMP variable, which is why ``serve`` writes none. The workers ``embed serve`` starts read
  :func:`worker_environment` when they start, before any import; ``embed serve`` itself puts its wait
  policy in place before its classifier check loads torch (with ``--workers 1`` it serves from there).

Thread counts may be set at any time; library functions that run torch or FAISS with a thread
count of their own (``TorchTrainer.fit``, ``embed.classify.fit``, ``build_index``) still set it per call.
"""

from __future__ import annotations

import os
from typing import Literal, get_args

from embed.errors import ConfigError

Workload = Literal["train", "serve", "classify", "index"]
WORKLOADS: tuple[str, ...] = get_args(Workload)

# OpenMP waiting between the many small ops of a word2vec step (3M tokens, CBOW, 2 threads, this VM):
#   quiet machine:       OMP_WAIT_POLICY=PASSIVE 143k words/s (a third of the CPU in futex calls),
#                        libgomp's default spin (300k) 399k, GOMP_SPINCOUNT=10000 490k;
#   3 busy processes:    PASSIVE 127k, default spin >3x slower (did not finish), 10000 59k.
# A short spin keeps most of the quiet-machine speed and degrades, not collapses, under load.
TRAIN_SPINCOUNT = "10000"
# libgomp's default busy-waiting collapses when the 2 cores are oversubscribed (measured: a 2-thread
# TextCNN batch 7x slower than 1 thread); passive waiting keeps 2 threads a win. The serving
# workers (several to the 2 cores) get it from `embed serve` too.
WAIT_POLICY = "PASSIVE"
WORKER_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def openmp_environment(workload: Workload) -> dict[str, str]:
    """The OpenMP variables ``workload`` wants that the environment does not already decide.

    With none of them set: ``"train"`` -> ``{"GOMP_SPINCOUNT": "10000"}``, ``"classify"`` ->
    ``{"OMP_WAIT_POLICY": "PASSIVE"}``, ``"index"`` and ``"serve"`` -> ``{}``. A variable that is set
    wins, and a chosen ``OMP_WAIT_POLICY`` also keeps ``train`` from adding a spin count.

    Raises:
        ConfigError: ``workload`` is not one of :data:`WORKLOADS`.
    """
    _check_workload(workload)
    if workload == "train" and "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        return {"GOMP_SPINCOUNT": TRAIN_SPINCOUNT}
    if workload == "classify" and "OMP_WAIT_POLICY" not in os.environ:
        return {"OMP_WAIT_POLICY": WAIT_POLICY}
    return {}


def configure_threads(n: int, workload: Workload, *, uses_torch: bool = False) -> None:
    """Set this process up for ``workload`` with ``n`` compute threads (see the module docstring).

    Writes :func:`openmp_environment` into ``os.environ`` (in effect only for a torch or FAISS imported
    after this call), then sets the thread counts. ``uses_torch``: also import torch and set its
    intra-op threads to ``n`` (always done for ``classify``); ``create_app`` passes it when it serves
    classifiers, since word models never import torch.

    Raises:
        ConfigError: ``n`` is not a whole number >= 1, or ``workload`` is not one of :data:`WORKLOADS`.
    """
    _check_threads(n)
    os.environ.update(openmp_environment(workload))
    if workload == "serve":
        # One compute thread per worker by default: parallelism comes from worker processes. FAISS's
        # OpenMP pool, OpenBLAS (numpy) and uvicorn workers would otherwise each start a thread per
        # core and fight over the same cores (faiss#1035, faiss#2731).
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
    if workload in ("serve", "index"):
        from embed.index import set_threads

        set_threads(n)
    if uses_torch or workload == "classify":
        import torch

        torch.set_num_threads(n)


def worker_environment(n: int) -> dict[str, str]:
    """The environment ``embed serve`` gives the worker processes uvicorn starts, ``n`` threads each.

    They read it when they start, before numpy and FAISS start their thread pools:
    ``worker_environment(2)`` -> ``{"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "2",
    "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}``, with the environment's own
    ``OMP_WAIT_POLICY`` where it has one.

    Raises:
        ConfigError: ``n`` is not a whole number >= 1.
    """
    _check_threads(n)
    return {
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", WAIT_POLICY),
        **dict.fromkeys(WORKER_THREAD_VARS, str(n)),
    }


def _check_threads(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"threads must be a whole number >= 1, got {n!r}; pass --threads 1 or more")


def _check_workload(workload: str) -> None:
    if workload not in WORKLOADS:
        raise ConfigError(f"workload must be one of {', '.join(WORKLOADS)}; got {workload!r}")
