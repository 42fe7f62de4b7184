"""The click options that several ``embed`` commands share, each defined once.

Every helper returns a decorator, as ``click.option`` does; the commands only supply what differs
(the default, the help text). Options that take a value show their default in ``--help``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from embed.config import TOKENIZERS

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def choice_option(*decls: str, choices: Sequence[str], default: str, help: str | None = None, **kw: Any) -> Decorator:
    """One of ``choices``, ``default`` shown in ``--help``."""
    return click.option(*decls, type=click.Choice(list(choices)), default=default, show_default=True, help=help, **kw)


def count_option(*decls: str, default: int, help: str | None = None, min: int = 1) -> Decorator:
    """A whole number of at least ``min`` (1 unless said), ``default`` shown in ``--help``."""
    return click.option(*decls, type=click.IntRange(min=min), default=default, show_default=True, help=help)


def path_option(*decls: str, help: str, **kw: Any) -> Decorator:
    """A file or directory, passed to the command as a :class:`~pathlib.Path`."""
    return click.option(*decls, type=click.Path(path_type=Path), help=help, **kw)


def flag_option(*decls: str, help: str) -> Decorator:
    """An on/off flag."""
    return click.option(*decls, is_flag=True, help=help)


def threads_option(help: str, default: int = 2) -> Decorator:
    """``--threads N``: the threads of the command's numeric libraries."""
    return count_option("--threads", default=default, help=help)


def workers_option(help: str | None = None, default: int = 2) -> Decorator:
    """``--workers N``: parallel processes."""
    return count_option("--workers", default=default, help=help)


def seed_option(help: str | None = None) -> Decorator:
    """``--seed N`` (default 1): runs with the same seed give the same result."""
    return click.option("--seed", type=int, default=1, show_default=True, help=help)


def tokenizer_option(help: str) -> Decorator:
    """``--tokenizer simple|whitespace|jieba`` (default simple)."""
    return choice_option("--tokenizer", choices=TOKENIZERS, default="simple", help=help)


def quiet_option(help: str = "No progress bar.") -> Decorator:
    """``--quiet``/``-q``."""
    return flag_option("--quiet", "-q", help=help)


def json_option(help: str) -> Decorator:
    """``--json``: machine-readable output (the parameter ``as_json``)."""
    return flag_option("--json", "as_json", help=help)


def overwrite_option(what: str) -> Decorator:
    """``--overwrite``: replace ``--out`` once ``what`` (training, the import) succeeded."""
    return flag_option("--overwrite", help=f"Replace --out if it exists (only once {what} succeeded).")
