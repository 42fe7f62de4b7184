"""The declared public API: each ``__all__`` names what exists, and ``import *`` gives exactly it.

STYLE.md: embed's ``__all__`` is explicit (load, train, Vectors and the errors) and tested.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import embed
import embed.errors

DECLARED = ["embed", "embed.train", "embed.classify"]
"""The packages known to declare ``__all__``; any other module that declares one is checked too."""


def _problems(module: ModuleType) -> list[str]:
    """What is wrong with ``module.__all__``: names missing, repeated, or an ``import *`` that differs."""
    names = list(module.__all__)
    problems = [f"{module.__name__}.{n} is in __all__ but does not exist" for n in names if not hasattr(module, n)]
    if len(set(names)) != len(names):
        problems.append(f"{module.__name__}.__all__ repeats {sorted({n for n in names if names.count(n) > 1})}")
    if problems:
        return problems  # import * would stop at the first missing name
    namespace: dict[str, object] = {}
    exec(f"from {module.__name__} import *", namespace)
    namespace.pop("__builtins__", None)
    if set(namespace) != set(names):
        problems.append(f"`from {module.__name__} import *` gives {sorted(namespace)}, __all__ says {sorted(names)}")
    return problems


@pytest.mark.parametrize("name", DECLARED)
def test_declared_api_is_consistent(name: str) -> None:
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} declares no __all__"
    assert _problems(module) == []


def test_every_other_all_is_consistent() -> None:
    others = []
    for info in pkgutil.walk_packages(embed.__path__, "embed."):
        if info.name == "embed.__main__" or info.name in DECLARED:  # __main__ runs the CLI when imported
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "__all__"):
            others.append(module)
    assert [p for m in others for p in _problems(m)] == []


def test_embed_exports_load_train_vectors_and_the_errors() -> None:
    errors = {
        name
        for name, obj in inspect.getmembers(embed.errors, inspect.isclass)
        if issubclass(obj, embed.EmbedError) and obj.__module__ == "embed.errors"
    }
    assert {"EmbedError", "CorpusError", "VocabError", "FormatError", "ConfigError"} <= errors
    assert {"load", "train", "Vectors"} | errors <= set(embed.__all__)
    assert embed.Vectors.__module__ == "embed.vectors"
    assert callable(embed.load) and callable(embed.train)
    for name in errors:
        assert getattr(embed, name) is getattr(embed.errors, name)
