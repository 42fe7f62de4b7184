"""The models a service answers for, loaded once (in the background) from the configured directories."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embed.search import Searcher

logger = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """One served model: its name, directory, searcher, and what ``/v1/models`` shows."""

    name: str
    path: Path
    searcher: Searcher
    info: dict[str, Any] = field(default_factory=dict)


def _describe(name: str, searcher: Searcher) -> dict[str, Any]:
    vectors, index = searcher.vectors, searcher.index
    meta = vectors.meta
    has_tables = bool(index.tables)
    return {
        "name": name,
        "vocab_size": len(vectors),
        "dim": vectors.dim,
        "index": {
            "kind": index.config.kind if has_tables or index.ann is not None else None,
            "metric": index.config.metric,
            "k_max": index.k_max if has_tables else 0,
        },
        "params": meta.get("params", {}),
        "created": meta.get("created"),
    }


class Registry:
    """Models by name. ``load_all`` runs once; until it finishes ``ready`` is False."""

    def __init__(self, paths: dict[str, Path], warm: bool = True) -> None:
        self.paths = dict(paths)
        self.warm = warm
        self.models: dict[str, LoadedModel] = {}
        self.ready = False
        self.error: str | None = None
        self._done = threading.Event()

    def load_all(self) -> None:
        """Load and warm every model; on failure record the message (``/readyz`` shows it)."""
        try:
            for name, path in self.paths.items():
                started = time.perf_counter()
                searcher = Searcher.open(path)
                if self.warm:
                    _warm(searcher)
                self.models[name] = LoadedModel(name, path, searcher, _describe(name, searcher))
                logger.info("loaded model %s from %s in %.1fs", name, path, time.perf_counter() - started)
            self.ready = True
        except Exception as exc:  # reported by /readyz; the process stays up to say why
            self.error = f"{type(exc).__name__}: {exc}"
            logger.error("loading models failed: %s", self.error)
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


def _warm(searcher: Searcher) -> None:
    """Touch every code path once (tables, flat and ANN search) so the first request is not slow."""
    word = searcher.vectors.kv.index_to_key[0]
    for metric in ("cosine", "euclidean"):
        searcher.by_word(word, 10, metric)  # type: ignore[arg-type]
        searcher.by_vector(searcher.vectors[word], 10, metric, exact=True)  # type: ignore[arg-type]
        searcher.by_vector(searcher.vectors[word], 10, metric, exact=False)  # type: ignore[arg-type]
