"""``embed clean``: delete what killed runs left behind, without waiting for the next ``embed train``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("outputs", nargs=-1, type=click.Path(path_type=Path))
def clean(outputs: tuple[Path, ...]) -> None:
    """Delete the temporary files of embed runs that were killed (kill -9, a crash, a full disk).

    Always: token files and service worker markers in $TMPDIR/embed-<uid>/ whose process is gone.
    For each OUTPUT given (a --out path of train, import or classify train; a model directory for
    'embed index'): the hidden .OUTPUT.tmp-<pid>-* directory a killed save left beside it.
    A run that is still going keeps its files.
    """
    from embed.tmp import remove_stale

    removed = set(remove_stale())
    for out in outputs:
        removed.update(remove_stale(out))
        removed.update(remove_stale(Path(out) / "index"))  # embed index builds MODEL/.index.tmp-*
    for path in sorted(removed):
        click.echo(f"removed {path}")
    click.echo(f"{len(removed)} stale temporary file(s) removed" if removed else "nothing to clean")
