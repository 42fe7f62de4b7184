"""Worker processes under uvicorn's supervisor (``--workers N``): a replacement worker loads before it accepts.

The first workers load their models in a background thread, so ``/healthz`` and ``/readyz`` answer
while a large model loads. uvicorn's supervisor replaces a worker that dies (kill -9, the OOM
killer). A worker started after a sibling has finished loading is such a replacement: it loads
inside the lifespan startup instead, and uvicorn only serves the shared socket from it afterwards,
so meanwhile every new connection goes to the live workers and no request meets a 503 while it
loads. The sign is a marker file ``serving-<supervisor pid>-loaded`` in embed's scratch directory,
removed by :func:`embed.tmp.remove_stale` once that supervisor is gone.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path

from embed.errors import OutputError
from embed.tmp import remove_stale, scratch_dir, serving_marker

logger = logging.getLogger(__name__)


def _marker() -> Path | None:
    """The marker for this worker's supervisor; None for a single process (nothing replaces it)."""
    if multiprocessing.parent_process() is None:
        return None
    try:
        scratch_dir()  # created 0700 and checked to be this user's
    except OutputError as exc:  # no usable scratch directory: every worker loads in the background
        logger.warning("%s", exc)
        return None
    return serving_marker(os.getppid())


def is_replacement() -> bool:
    """True in a worker started after a sibling of the same supervisor finished loading."""
    marker = _marker()
    return marker is not None and marker.exists()


def mark_loaded() -> None:
    """Called once this worker has loaded: workers the supervisor starts from now on are replacements."""
    marker = _marker()
    if marker is None or marker.exists():
        return
    remove_stale()  # markers of supervisors that are gone
    try:
        marker.touch()
    except OSError as exc:
        logger.warning(
            "%s: cannot write the worker marker (%s); a replaced worker will answer 503 while it loads",
            marker,
            exc.strerror,
        )
