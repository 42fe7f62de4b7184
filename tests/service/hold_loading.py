"""``python -m tests.service.hold_loading UVICORN-ARGS``: uvicorn, with model loading held until a file exists.

For tests of the loading state (503 + Retry-After): ``EMBED_TEST_RELEASE=PATH`` makes every model
load wait until PATH exists, so the test decides when loading ends. Everything else is the real
server: uvicorn, the app factory, the registry.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import uvicorn

import service.registry


def _held(open_model):  # type: ignore[no-untyped-def]
    release = Path(os.environ["EMBED_TEST_RELEASE"])

    def wait_then_open(*args, **kwargs):  # type: ignore[no-untyped-def]
        while not release.exists():
            time.sleep(0.05)
        return open_model(*args, **kwargs)

    return wait_then_open


service.registry.Searcher.open = _held(service.registry.Searcher.open)  # type: ignore[method-assign]

if __name__ == "__main__":
    uvicorn.main()
