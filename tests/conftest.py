"""Shared fixtures: every test builds what it needs from the bundled corpora."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from embed.runtime import openmp_environment

# The test process trains classifiers and word2vec in-process beside live servers on 2 cores: passive
# OpenMP waiting (what `embed classify` sets up) keeps the busy-wait from collapsing under that load.
# Set here, before any test module imports torch or FAISS (embed.runtime imports neither).
os.environ.update(openmp_environment("classify"))

ROOT = Path(__file__).resolve().parents[1]
KJV = ROOT / "corpora" / "kjv.txt"
ZH_NOVELS = ROOT / "corpora" / "zh_novels"
IN_CI = os.environ.get("EMBED_CI") == "1"
"""Set by .ci/run, which installs every system package the tests use: there a missing one fails."""


def needs_system(available: bool, what: str, package: str) -> None:
    """Skip a test whose system package is missing, naming the package; in CI (``EMBED_CI=1``) fail instead."""
    if available:
        return
    message = f"needs {what}: apt-get install {package} (.ci/run installs it)"
    if IN_CI:
        pytest.fail(message + "; CI must run this test")
    pytest.skip(message)


@pytest.fixture(scope="session")
def kjv_path() -> Path:
    return KJV


@pytest.fixture(scope="session")
def kjv_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small gensim skip-gram model directory trained once on the bundled KJV Bible.

    dim 50, 3 epochs, seed 1, 1 worker (deterministic); about 10 s on 2 cores.
    """
    from embed.config import TrainConfig
    from embed.corpus import Corpus
    from embed.io import save_model_dir
    from embed.train import train

    out = tmp_path_factory.mktemp("models") / "kjv"
    config = TrainConfig(dim=50, epochs=3, workers=1, seed=1)
    result = train(Corpus(KJV), config)
    save_model_dir(out, result.vectors, {"params": config.to_dict(), "epochs": result.epochs_as_dicts()})
    return out


@pytest.fixture(scope="session")
def kjv_indexed(kjv_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``kjv_model_dir`` with ``embed index`` data: HNSW (cosine) + exact top-100 tables."""
    import shutil

    import embed
    from embed.index import IndexConfig, build_index, save_index

    out = tmp_path_factory.mktemp("served") / "kjv"
    shutil.copytree(kjv_model_dir, out)
    save_index(build_index(embed.load(out), IndexConfig(kind="hnsw", k_max=100)), out)
    return out


@pytest.fixture(scope="session")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny seeded TextCNN trained on planted-keyword data (tests/classify/classify_helpers.py), saved."""
    from embed.classify import Dataset, fit, save_classifier
    from tests.classify.classify_helpers import planted, small_config

    texts, labels = planted(300, seed=1)
    return save_classifier(
        tmp_path_factory.mktemp("served-classifier") / "tiny",
        fit(Dataset(texts, labels, source="train"), small_config(max_tokens=50)),
    )
