"""Run a real server *process* (gunicorn, ``uvicorn --workers``) from a cell, and stop all of it.

Why a separate module: ``serve()`` runs uvicorn in a kernel thread, which cannot show what
deployment is about — worker processes, signals, a supervisor replacing a dead worker.
Here the command runs as a child process in its own process group (its own session), on a
free loopback port, with its output in a file (no reader threads). ``stop()`` signals the
whole group, so the workers go too; so does re-serving the same name, kernel exit
(``atexit``) and, through ``PR_SET_PDEATHSIG``, a kernel that is killed outright.

``serve_process`` registers the server so ``workbook.serving.running()`` reports its URL:
the grader finds it exactly like an app served in the kernel.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from workbook import http, serving

_servers: dict[str, ProcessServer] = {}
_lock = threading.Lock()
_PR_SET_PDEATHSIG = 1
_BARE = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
wrap_command: Callable[[list[str]], list[str]] | None = None  # the grader sandboxes commands through this


class ProcessStartupError(RuntimeError):
    """The command exited, or did not answer HTTP in time; the message carries its output."""


def free_port() -> int:
    """A loopback port that was free a moment ago (the child binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the child when the process that started it dies (even by SIGKILL)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux ``/proc``); empty when it is gone."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                found += [int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``, from ``/proc``."""
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            state, _ppid, group = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state != "Z":
                found.append(int(entry.name))
    return found


@functools.cache
def pid_namespace_available() -> bool:
    """Whether ``unshare --pid --fork`` works here (root, or user namespaces allowed); asked once."""
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


class ProcessServer:
    """A command serving HTTP on ``url``: ``client``, ``log()``, ``workers()``, ``stop()``."""

    def __init__(self, argv: Sequence[str], name: str, port: int, env: dict[str, str], cwd: Path | None,
                 pid_namespace: bool = False) -> None:  # fmt: skip
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.argv = [part.replace("{port}", str(port)) for part in argv]
        self.pid_namespace = pid_namespace
        # The output goes to an unnamed temporary file: nothing is left on disk, whatever happens.
        self._output = tempfile.TemporaryFile(prefix="workbook-proc-")  # noqa: SIM115 - stop() closes it
        self._kept = ""  # the output, once stop() has closed the file
        prefix = ["unshare", "--pid", "--fork", "--kill-child"] if pid_namespace else []
        self.popen = subprocess.Popen(
            (wrap_command or list)([*prefix, *self.argv]), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=self._output, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
        self.pid = self.popen.pid  # also the process group id (start_new_session)
        self.client = http.client(self.url)
        self.stopped = False

    # -- looking at it -------------------------------------------------------------
    @property
    def pid1(self) -> int:
        """The process a container runtime signals: the namespace's PID 1, or the command itself."""
        if self.pid_namespace:
            kids = children(self.pid)
            return kids[0] if kids else self.pid
        return self.pid

    def workers(self) -> list[int]:
        """PIDs of the main process's children (gunicorn's or uvicorn's worker processes)."""
        return sorted(children(self.pid1))

    def running(self) -> bool:
        """True while any process of the group is alive. Zombies do not count: workers killed
        with their parent wait for init to reap them, which can take a second or two."""
        self.popen.poll()
        return bool(group_members(self.pid))

    def wait_stopped(self, timeout: float) -> float | None:
        """Seconds until every process of the group has exited, or None if some still run."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if not self.running():
                return time.monotonic() - started
            time.sleep(0.02)
        return None if self.running() else time.monotonic() - started

    def log_text(self) -> str:
        """Everything the process has written to stdout and stderr so far."""
        if self._output.closed:
            return self._kept
        fd = self._output.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def log(self, last: int | None = 40, grep: str | None = None) -> None:
        """Print the process's output (stdout and stderr), its last lines or those containing ``grep``."""
        lines = [line for line in self.log_text().splitlines() if grep is None or grep in line]
        print("\n".join(lines[-last:] if last else lines) or "(the log is empty)")

    # -- lifecycle -----------------------------------------------------------------------
    def _wait_ready(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ProcessStartupError(self._failure(f"exited with code {self.popen.returncode}"))
            with contextlib.suppress(httpx.TransportError):
                httpx.get(self.url + path, timeout=1.0)
                return
            time.sleep(0.05)
        raise ProcessStartupError(self._failure(f"did not answer on {self.url}{path} within {timeout:.0f} s"))

    def _failure(self, what: str) -> str:
        tail = "\n".join(self.log_text().splitlines()[-25:])
        return f"{self.name!r} ({' '.join(self.argv)}) {what}. Its output:\n{tail or '(nothing)'}"

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the whole group, SIGKILL what is left after ``grace`` s; safe to call twice."""
        if self.stopped:
            return
        self.stopped = True
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if not self.running():
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
            self.wait_stopped(wait)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(1)
        self.client.close()
        self._kept = self.log_text()
        self._output.close()
        with _lock:
            if _servers.get(self.name) is self:
                del _servers[self.name]

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else f"running, pid {self.pid}"
        return f"<ProcessServer {self.name!r} {state} at {self.url}>"


def start_process(
    argv: Sequence[str],
    name: str = "process",
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    ready_path: str = "/",
    timeout: float = 20.0,
    pid_namespace: bool = False,
    inherit_env: bool = True,
) -> ProcessServer:
    """Start ``argv`` on a free loopback port and wait until it answers HTTP on ``ready_path``.

    ``{port}`` in any argument becomes the port (it is also in ``$PORT``). ``env`` is added to
    this process's environment (or, with ``inherit_env=False``, to a bare one: PATH, HOME,
    LANG — what a container starts with); the venv's ``bin`` leads ``PATH`` so ``gunicorn`` is
    this venv's. Not registered: the caller stops it (checks use this; notebooks ``serve_process``).
    """
    port = free_port()
    base = dict(os.environ) if inherit_env else {k: v for k, v in os.environ.items() if k in _BARE}
    full = {**base, **(env or {}), "PORT": str(port)}
    venv_bin = str(Path(sys.executable).parent)
    if not full.get("PATH", "").startswith(venv_bin):
        full["PATH"] = os.pathsep.join(filter(None, [venv_bin, full.get("PATH")]))
    server = ProcessServer(argv, name, port, full, Path(cwd) if cwd else None, pid_namespace)
    try:
        server._wait_ready(ready_path, timeout)
    except BaseException:
        server.stop(grace=1.0)
        raise
    return server


def serve_process(
    argv: Sequence[str],
    name: str = "app",
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    ready_path: str = "/",
    timeout: float = 20.0,
    pid_namespace: bool = False,
) -> ProcessServer:
    """``start_process`` for a notebook: replaces a server of the same name, and
    ``workbook.serving.running()`` reports it until it is stopped."""
    with _lock:
        old = _servers.pop(name, None)
    if old is not None:
        old.stop()
    server = start_process(
        argv, name, env=env, cwd=cwd, ready_path=ready_path, timeout=timeout, pid_namespace=pid_namespace
    )
    with _lock:
        _servers[name] = server
    return server


def running() -> dict[str, str]:
    """Name → URL of every registered process server still running."""
    with _lock:
        return {name: s.url for name, s in _servers.items() if not s.stopped}


def stop_all() -> None:
    with _lock:
        servers = list(_servers.values())
    for server in servers:
        server.stop()


serving.add_source(running)
atexit.register(stop_all)
