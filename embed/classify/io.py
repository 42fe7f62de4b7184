"""Saving and loading classifier directories; no pickle.

A classifier directory holds:

* ``model.safetensors`` - the weights (safetensors);
* ``config.json`` - ``{"format": "embed-classifier", "version": 1, "config": {...}, "info": {...}}``;
* ``vocab.txt`` - one token per line, line ``i`` is id ``i`` (``<pad>``, ``<unk>`` first);
* ``labels.json`` - the label names by class id.

It is written under a temporary name and renamed when complete (``embed.io.atomic_dir``).
Prediction needs nothing else: no vectors file, no training data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from embed.classify.classifier import Classifier
from embed.classify.config import ClassifierConfig
from embed.errors import ConfigError, FormatError, OutputError
from embed.io import atomic_dir, read_versioned_json

CLASSIFIER_FORMAT = "embed-classifier"
CLASSIFIER_VERSION = 1
FILES = ("model.safetensors", "config.json", "vocab.txt", "labels.json")


def save_classifier(
    out: str | os.PathLike[str], clf: Classifier, extra: dict[str, Any] | None = None, overwrite: bool = False
) -> Path:
    """Write ``clf`` to the directory ``out`` atomically; ``extra`` goes into ``config.json``.

    Raises:
        OutputError: ``out`` exists (without ``overwrite``) or cannot be written.
    """
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().clone() for k, v in clf.model.state_dict().items()}
    meta = {
        "format": CLASSIFIER_FORMAT,
        "version": CLASSIFIER_VERSION,
        "config": clf.config.to_dict(),
        "info": clf.info,
        **(extra or {}),
    }
    with atomic_dir(out, overwrite) as tmp:
        try:
            save_file(state, str(tmp / "model.safetensors"), metadata={"format": CLASSIFIER_FORMAT})
        except SafetensorError as exc:  # e.g. the disk is full; atomic_dir removes the partial directory
            raise OutputError(
                f"{out}: could not be written ({str(exc).strip().splitlines()[0]}); nothing was written"
            ) from None
        (tmp / "config.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "vocab.txt").write_text("\n".join(clf.vocab) + "\n", encoding="utf-8")
        (tmp / "labels.json").write_text(json.dumps(clf.labels, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(out)


def read_classifier_meta(path: Path) -> dict[str, Any]:
    """``config.json`` of a classifier directory, checked.

    Raises:
        FormatError: not a classifier directory, damaged, or written by a newer embed.
    """
    if not path.is_dir():
        raise FormatError(f"{path}: no such directory; pass a directory written by 'embed classify train'")
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise FormatError(
            f"{path}: not a classifier directory (missing {', '.join(missing)}); pass a directory written by "
            "'embed classify train'"
        )
    meta = read_versioned_json(path / "config.json", CLASSIFIER_FORMAT, CLASSIFIER_VERSION, "classifier")
    return meta


def load_classifier(path: str | os.PathLike[str]) -> Classifier:
    """Load a classifier directory written by :func:`save_classifier`.

    Raises:
        FormatError: missing or damaged files, or weights that don't fit the config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from embed.classify.models import build_model

    path = Path(path)
    meta = read_classifier_meta(path)
    try:
        config = ClassifierConfig.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise FormatError(
            f"{path / 'config.json'}: bad classifier config ({exc}); retrain or restore the classifier"
        ) from None
    vocab = _read_vocab(path / "vocab.txt")
    labels = _read_labels(path / "labels.json")
    weights = path / "model.safetensors"
    _check_shapes(weights, build_model, len(vocab), len(labels), config)  # before allocating anything
    model = build_model(len(vocab), len(labels), config)
    try:
        state = load_file(str(weights))
        model.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FormatError(
            f"{weights}: weights do not fit the config, vocabulary and labels ({first}); retrain or restore the "
            "classifier"
        ) from None
    model.eval()
    clf = Classifier(model, vocab, [str(lab) for lab in labels], config)
    clf.frozen = True
    clf.info = dict(meta.get("info") or {})
    return clf


def _read_vocab(path: Path) -> list[str]:
    """``vocab.txt``: UTF-8, one token a line, ``<pad>`` and ``<unk>`` first."""
    try:
        vocab = path.read_bytes().decode("utf-8").split("\n")[:-1]
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 (byte {exc.start}); retrain or restore the classifier") from None
    if len(vocab) < 2 or vocab[:2] != ["<pad>", "<unk>"]:
        raise FormatError(
            f"{path}: damaged ({len(vocab)} lines; expected '<pad>' and '<unk>' first, one token a line); retrain or "
            "restore the classifier"
        )
    return vocab


def _read_labels(path: Path) -> list[str]:
    """``labels.json``: a JSON list of at least two distinct label names."""
    try:
        labels = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{path}: not valid JSON ({exc}); retrain or restore the classifier") from None
    if (
        not isinstance(labels, list)
        or len(labels) < 2
        or not all(isinstance(x, str) for x in labels)
        or len(set(labels)) != len(labels)
    ):
        raise FormatError(f"{path}: expected a list of at least two distinct label names (strings)")
    return labels


def _check_shapes(weights: Path, build_model: Any, vocab_size: int, n_labels: int, config: ClassifierConfig) -> None:
    """Compare the file's tensor shapes with the model the config describes, built on torch's meta device
    (no memory)."""
    import torch
    from safetensors import SafetensorError, safe_open

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in build_model(vocab_size, n_labels, config).state_dict().items()}
    try:
        with safe_open(str(weights), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FormatError(
            f"{weights}: not a readable safetensors file ({first}); retrain or restore the classifier"
        ) from None
    if found != expected:
        bad = next((k for k in expected if found.get(k) != expected[k]), None) or next(iter(set(found) - set(expected)))
        raise FormatError(
            f"{weights}: weights do not fit the config, vocabulary and labels ({bad}: file {found.get(bad)}, config "
            f"{expected.get(bad)}); retrain or restore the classifier"
        )
