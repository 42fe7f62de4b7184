"""Every docstring example in the embed package runs as a test (STYLE.md: the worked examples are doctests).

Module by module, without pytest's ``--doctest-modules`` (the global options stay as they are):
each module of ``embed`` is imported and its examples run with :mod:`doctest`'s default flags.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import embed

# Examples run (``+SKIP`` ones left out) on 2026-12-01; the count may grow, never silently shrink.
MIN_EXAMPLES = 63
SKIPPED_MODULES = {"embed.__main__"}  # runs the CLI when imported


def _module_names(path: Path = Path(embed.__path__[0]), prefix: str = "embed.") -> list[str]:
    """``embed`` and its modules and subpackages, found on disk (nothing is imported to list them)."""
    names = ["embed"] if prefix == "embed." else []
    for info in pkgutil.iter_modules([str(path)]):
        name = prefix + info.name
        if name in SKIPPED_MODULES:
            continue
        names.append(name)
        if info.ispkg:
            names += _module_names(path / info.name, name + ".")
    return names


MODULES = _module_names()


def _examples(name: str) -> list[doctest.DocTest]:
    """The docstring tests of module ``name`` (objects imported from elsewhere are left to their own module)."""
    return doctest.DocTestFinder().find(importlib.import_module(name))


def _run_count(tests: list[doctest.DocTest]) -> int:
    return sum(1 for t in tests for ex in t.examples if not ex.options.get(doctest.SKIP))


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name: str) -> None:
    report: list[str] = []
    runner = doctest.DocTestRunner()
    for test in _examples(name):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)


def test_doctests_do_not_disappear() -> None:
    counts = {name: _run_count(_examples(name)) for name in MODULES}
    assert counts["embed.pairs"] > 0 and counts["embed.vocab"] > 0, "the window and vocabulary examples are gone"
    total = sum(counts.values())
    found = {name: n for name, n in counts.items() if n}
    assert total >= MIN_EXAMPLES, (
        f"{total} doctest examples run, fewer than the {MIN_EXAMPLES} there were; restore them, or lower "
        f"MIN_EXAMPLES on purpose. Per module: {found}"
    )


def test_every_module_is_listed() -> None:
    """The walk finds the subpackages' modules too (a broken walk would pass every test above)."""
    assert {"embed", "embed.pairs", "embed.vocab", "embed.train", "embed.classify"} <= set(MODULES)
    assert any(name.startswith("embed.train.") for name in MODULES)
