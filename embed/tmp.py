"""Temporary files that outlive nobody: the umask, per-user scratch space, stale-file cleanup.

Training writes its token files under :func:`scratch_dir` (``$TMPDIR/embed-<uid>/``) with
the writer's PID in the name (``tokens-<pid>-*``), and :func:`embed.io.atomic_dir` builds
a model beside its target as ``.NAME.tmp-<pid>-*``. A run ended by SIGTERM or Ctrl-C
deletes its own; one killed with SIGKILL cannot, so :func:`remove_stale` deletes the
entries whose PID no longer runs at the start of the next ``embed train`` (or at ``embed clean``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from embed.errors import OutputError

logger = logging.getLogger(__name__)

TOKENS_PREFIX = "tokens-"
SERVING_PREFIX = "serving-"  # service/workers.py: serving-<supervisor pid>-loaded
_PID = re.compile(r"(\d+)-")


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows.

    ``/proc/self/status`` has a ``Umask:`` line since Linux 4.7; elsewhere the umask is set
    and restored, which races with threads creating files at that instant (callers are the
    CLI and single writers, so that is acceptable).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def default_dir_mode() -> int:
    """``0o777 & ~umask``: the mode ``mkdir`` gives, which ``tempfile.mkdtemp``'s 0700 does not."""
    return 0o777 & ~current_umask()


def scratch_dir() -> Path:
    """``$TMPDIR/embed-<uid>/`` (created 0700): where training keeps its temporary token files.

    Raises:
        OutputError: the path exists but is not a directory owned by this user (another
            user could read or plant files there).
    """
    path = _scratch_path()
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        owned = _owned_dir(path)
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot create the scratch directory ({exc.strerror}); set TMPDIR to a writable directory"
        ) from None
    if not owned:
        raise OutputError(
            f"{path}: exists but is not a directory owned by you; remove it or set TMPDIR to another directory"
        )
    return path


def _scratch_path() -> Path:
    return Path(tempfile.gettempdir()) / f"embed-{os.getuid()}"


def _owned_dir(path: Path) -> bool:
    """A real directory (not a symlink) owned by this user."""
    return path.is_dir() and not path.is_symlink() and path.lstat().st_uid == os.getuid()


def token_prefix() -> str:
    """``tokens-<pid>-``: the name prefix of this process's temporary token files."""
    return f"{TOKENS_PREFIX}{os.getpid()}-"


def serving_marker(supervisor: int) -> Path:
    """``serving-<supervisor pid>-loaded`` in the scratch directory (service/workers.py writes it; ``embed serve``
    removes its own when uvicorn's supervisor returns, :func:`remove_stale` those of supervisors that were killed)."""
    return _scratch_path() / f"{SERVING_PREFIX}{supervisor}-loaded"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_pid(name: str, prefix: str) -> bool:
    """Whether ``name`` is ``<prefix><pid>-...`` and that PID is gone.

    >>> _dead_pid("tokens-999999999-abc.txt", "tokens-")
    True
    >>> _dead_pid(f"tokens-{os.getpid()}-abc.txt", "tokens-"), _dead_pid("tokens-abc.txt", "tokens-")
    (False, False)
    """
    if not name.startswith(prefix):
        return False
    m = _PID.match(name, len(prefix))
    return m is not None and not pid_alive(int(m.group(1)))


def _remove(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        logger.warning("%s: could not remove this stale temporary file (%s); delete it by hand", path, exc.strerror)
        return False
    return True


def remove_stale(out: str | os.PathLike[str] | None = None) -> list[Path]:
    """Delete what killed runs left: token files (and the service's worker markers) in :func:`scratch_dir`
    and ``.OUT.tmp-<pid>-*`` beside ``out``, for PIDs that no longer run. Returns the paths removed.

    A reused PID keeps its files until that process ends too: never deleting a live
    run's files matters more than reclaiming space at once.
    """
    removed: list[Path] = []
    candidates: list[tuple[Path, str]] = []
    if _owned_dir(base := _scratch_path()):
        candidates += [(base, TOKENS_PREFIX), (base, SERVING_PREFIX)]
    if out is not None:
        out = Path(out).absolute()
        if out.parent.is_dir():
            candidates.append((out.parent, f".{out.name}.tmp-"))
    for folder, prefix in candidates:
        for name in sorted(os.listdir(folder)):  # not glob: --out may hold [ or *
            entry = folder / name
            if _dead_pid(name, prefix) and _remove(entry):
                removed.append(entry)
    return removed
