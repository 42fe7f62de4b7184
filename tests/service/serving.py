"""Start the real service (uvicorn in a subprocess) on a free loopback port, for tests.

Usage::

    from tests.service.serving import run_server

    with run_server({"kjv": kjv_model_dir}, env={"EMBED_API_KEY": "k"}) as base_url:
        httpx.get(f"{base_url}/v1/models", headers={"X-API-Key": "k"})

``run_server(model_dirs, env=None, workers=1, wait_ready=True, timeout=90)`` (the options are
:func:`start_server`'s) is a context manager yielding the base URL (``http://127.0.0.1:PORT``).
``model_dirs`` is a mapping ``{name: directory}`` or a list of directories (named after their
folder). The server runs
``python -m uvicorn service.app:create_app --factory`` with this checkout first on
``PYTHONPATH`` and ``EMBED_MODELS`` set; ``env`` adds or overrides variables (e.g.
``EMBED_API_KEY``, ``EMBED_MAX_BODY_BYTES``). With ``wait_ready`` it waits until ``/readyz``
answers 200 (models loaded and warmed); otherwise only until ``/healthz`` answers. On exit
it sends SIGTERM and waits for a graceful shutdown (then kills after 15 s).

``start_server(...)`` takes the same arguments and returns a :class:`Server` (``url``,
``process``, ``log()``, ``stop()``) for tests that signal the process themselves.

``wait_loaded(url, headers=None)`` polls ``/readyz`` of a server started with ``wait_ready=False``
until loading is over (ready, degraded or failed) and returns that response.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """A running uvicorn subprocess and its log file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (graceful: in-flight requests finish), then SIGKILL after ``timeout``. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _models_env(model_dirs: Mapping[str, str | Path] | Sequence[str | Path]) -> str:
    if isinstance(model_dirs, Mapping):
        named = {name: str(Path(p).resolve()) for name, p in model_dirs.items()}
    else:
        named = {Path(p).resolve().name: str(Path(p).resolve()) for p in model_dirs}
    return json.dumps(named)


def start_server(
    model_dirs: Mapping[str, str | Path] | Sequence[str | Path],
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    wait_ready: bool = True,
    timeout: float = 90.0,
    module: str = "uvicorn",
) -> Server:
    """Start the service and wait for it; see the module docstring. Raises RuntimeError if it does not come up."""
    port = free_port()
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    full_env.update({"EMBED_MODELS": _models_env(model_dirs), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    full_env.update(env or {})
    fd, log_name = tempfile.mkstemp(prefix="embed-serve-", suffix=".log")
    cmd = [
        sys.executable,
        "-m",
        module,
        "service.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "30",
    ]
    process = subprocess.Popen(cmd, env=full_env, cwd=ROOT, stdout=fd, stderr=subprocess.STDOUT)
    os.close(fd)
    server = Server(f"http://127.0.0.1:{port}", process, Path(log_name))
    path = "/readyz" if wait_ready else "/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            r = httpx.get(server.url + path, timeout=2.0)
            if r.status_code == 200:
                return server
            if r.status_code == 503 and r.json().get("status") == "failed":
                server.stop()
                raise RuntimeError(f"server could not load its models: {r.json().get('detail')}")
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server not ready after {timeout:.0f}s:\n{server.log()[-3000:]}")


@contextlib.contextmanager
def run_server(model_dirs: Mapping[str, str | Path] | Sequence[str | Path], **options: Any) -> Iterator[str]:
    """Yield the base URL of a live server (``options``: :func:`start_server`'s); stop it gracefully on exit."""
    server = start_server(model_dirs, **options)
    try:
        yield server.url
    finally:
        server.stop()
        with contextlib.suppress(OSError):
            server.log_path.unlink()


def wait_loaded(url: str, headers: Any = None, timeout: float = 30.0) -> httpx.Response:
    """The first ``/readyz`` answer whose status is no longer ``loading`` (``headers``: sent with each poll)."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{url}/readyz", headers=headers)
        if r.json()["status"] != "loading":
            return r
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}: still loading after {timeout:.0f} s")
        time.sleep(0.1)
