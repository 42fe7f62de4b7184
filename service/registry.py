"""The models a service answers for, loaded once (in the background) from the configured directories."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embed.search import Searcher

if TYPE_CHECKING:
    from embed.classify.classifier import Classifier

logger = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """One served model: its name, directory, searcher, and what ``/v1/models`` shows."""

    name: str
    path: Path
    searcher: Searcher
    info: dict[str, Any] = field(default_factory=dict)
    load_seconds: float = 0.0  # opening and warming; shown by /metrics


@dataclass
class LoadedClassifier:
    """One served text classifier and what ``/v1/classifiers`` shows."""

    name: str
    path: Path
    classifier: Classifier
    info: dict[str, Any] = field(default_factory=dict)


def _describe_classifier(name: str, clf: Classifier) -> dict[str, Any]:
    c = clf.config
    return {
        "name": name,
        "arch": c.arch,
        "bidirectional": c.bidirectional if c.arch != "cnn" else False,
        "mode": c.mode,
        "labels": list(clf.labels),
        "vocab_size": len(clf.vocab),
        "tokenizer": c.tokenizer,
        "max_tokens": c.max_tokens,
    }


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
            "k_max": index.k_max,
            "tables": sorted(index.tables),
        },
        "params": meta.get("params", {}),
        "created": meta.get("created"),
    }


class Registry:
    """Models and classifiers by name. ``load_all`` runs once; until it finishes ``ready`` is False."""

    def __init__(
        self,
        paths: dict[str, Path],
        warm: bool = True,
        classifier_paths: dict[str, Path] | None = None,
        exact_max_words: int | None = None,
    ) -> None:
        self.exact_max_words = exact_max_words
        self.paths = dict(paths)
        self.classifier_paths = dict(classifier_paths or {})
        self.classifiers: dict[str, LoadedClassifier] = {}
        self.warm = warm
        self.models: dict[str, LoadedModel] = {}
        self.ready = False
        self.errors: dict[str, str] = {}  # "model NAME" / "classifier NAME" -> why it failed to load
        self._done = threading.Event()

    @property
    def error(self) -> str | None:
        """Every load failure on one line, or None."""
        return "; ".join(f"{what}: {msg}" for what, msg in self.errors.items()) or None

    def load_all(self) -> None:
        """Load and warm every model and classifier; one that fails is reported, the others served."""
        try:
            for name, path in self.paths.items():
                self._load_one(f"model {name}", lambda name=name, path=path: self._add_model(name, path))
            for name, path in self.classifier_paths.items():
                self._load_one(f"classifier {name}", lambda name=name, path=path: self._add_classifier(name, path))
        finally:
            self.ready = True
            self._done.set()

    def _load_one(self, what: str, load: Any) -> None:
        started = time.perf_counter()
        try:
            load()
        except Exception as exc:  # reported by /readyz and /v1/models; the others are still served
            self.errors[what] = f"{type(exc).__name__}: {exc}"
            logger.error("loading %s failed: %s", what, self.errors[what])
            return
        logger.info("loaded %s in %.1fs", what, time.perf_counter() - started)

    def _add_model(self, name: str, path: Path) -> None:
        started = time.perf_counter()
        searcher = Searcher.open(path, self.exact_max_words)
        if self.warm:
            _warm(searcher)
        self.models[name] = LoadedModel(name, path, searcher, _describe(name, searcher), time.perf_counter() - started)

    def _add_classifier(self, name: str, path: Path) -> None:
        clf = _load_classifier(path, self.warm)
        self.classifiers[name] = LoadedClassifier(name, path, clf, _describe_classifier(name, clf))

    def failed(self, kind: str) -> list[str]:
        """Names of the models (``kind="model"``) or classifiers that failed to load."""
        return [what.split(" ", 1)[1] for what in self.errors if what.startswith(kind + " ")]

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


def _warm(searcher: Searcher) -> None:
    """Touch every code path once (tables, ANN search, a small exact scan) so the first request is not slow.

    The exact scan of a large vocabulary is not warmed: it would read the whole matrix.
    """
    word = searcher.vectors.word(0)
    for metric in ("cosine", "euclidean"):
        searcher.by_word(word, 10, metric)
        searcher.by_vector(searcher.vectors[word], 10, metric, exact=False)


def _load_classifier(path: Path, warm: bool) -> Classifier:
    """Load (safetensors + JSON, no pickle) and, when warming, predict once to build the CNN's lookup table."""
    from embed.classify.io import load_classifier

    clf = load_classifier(path)
    if warm:
        clf.predict(["warm up"], k=1)
    return clf
