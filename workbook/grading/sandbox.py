"""Each learner's kernel in a bubblewrap sandbox: its own files, a private /tmp, its own PIDs.

Why bubblewrap (``bwrap``): an existing, audited sandbox that runs unprivileged where user
namespaces are allowed. The kernel gets a new mount namespace built from an allow-list
(system directories and the Python installation read-only, the workbook runtime copy
read-only, the learner's own copy read-write, a size-limited tmpfs on /tmp), so the
submissions, the gradebook, the grader's checks and the instructor's home simply are not
there. A new PID namespace makes the kernel's whole process tree one unit: killing its
first process kills every process in it, a ``setsid`` daemon or a double fork included, so
nothing a notebook started survives its verdict. The network namespace is shared on
purpose: the checks, which run outside, reach the kernel's apps on 127.0.0.1.

Where bwrap cannot run (not installed, user namespaces disabled, macOS), ``unavailable()``
says why; grading then runs unsandboxed, warns once and says so in the report.
``WORKBOOK_NO_SANDBOX=1`` simulates that (tests, or a deliberate choice).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from workbook.grading.limits import Limits

DISABLE = "WORKBOOK_NO_SANDBOX"
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# /etc is not bound whole (shadow, ssh keys, tokens): only what Python, ipykernel and a uvicorn app read.
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "hosts", "nsswitch.conf", "passwd", "group",
        "host.conf", "gai.conf", "mime.types", "fonts", "alternatives", "ssl", "ca-certificates")  # fmt: skip


@functools.cache
def _probe(bwrap: str) -> str | None:
    try:
        done = subprocess.run([bwrap, *_base(), "--", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start: {exc}"
    return None if done.returncode == 0 else f"bwrap cannot run here: {done.stderr.strip()[:200]}"


@functools.cache
def _has_size(bwrap: str) -> bool:
    try:
        cmd = [bwrap, *_base(), "--size", "1048576", "--tmpfs", "/tmp", "--", "true"]
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def unavailable() -> str | None:
    """None when kernels can be sandboxed; otherwise why not, in one line."""
    if os.environ.get(DISABLE):
        return f"{DISABLE} is set"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    return _probe(bwrap)


def warning(reason: str) -> str:
    return (f"warning: learners' kernels are NOT isolated ({reason}): a notebook can read and change "
            "whatever this user can. Install bubblewrap (Debian: apt-get install bubblewrap).")  # fmt: skip


def _base() -> list[str]:
    args = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent"]
    if os.geteuid() != 0:
        args.append("--unshare-user")  # unprivileged bwrap needs it; as root the user namespace drops nothing
    for path in _SYSTEM:
        args += ["--ro-bind-try", path, path]
    for name in _ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return [*args, "--proc", "/proc", "--dev", "/dev"]


def _python_dirs() -> list[str]:
    """The interpreter and its packages (a venv, pyenv or conda): what the kernel runs on."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent)}
    return sorted(d for d in dirs if d and d != "/" and os.path.isdir(d))


class Box:
    """The sandbox of one notebook: ``wrap`` its kernel command, ``close`` when its verdict is due."""

    def __init__(self, folder: Path, runtime: Path, limits: Limits) -> None:
        self.folder, self.runtime, self.limits = folder.resolve(), runtime.resolve(), limits
        self.private = Path(tempfile.mkdtemp(prefix="wbs-"))  # the kernel's connection file
        self.bwrap_pid: int | None = None
        self.init_pid: int | None = None  # PID 1 of the namespace, as the grader sees it
        self._init_start: str | None = None

    def wrap(self, cmd: list[str]) -> list[str]:
        """``cmd`` run inside the sandbox, with the memory limit applied from the start."""
        bwrap = shutil.which("bwrap") or "bwrap"
        size = ["--size", str(int(self.limits.tmp_mb * 2**20))] if _has_size(bwrap) else []  # not in every bwrap
        args = [bwrap, *_base(), *size, "--tmpfs", "/tmp"]
        for path in _python_dirs():
            args += ["--ro-bind", path, path]
        args += ["--ro-bind", str(self.runtime), str(self.runtime), "--ro-bind", str(self.private), str(self.private)]
        args += ["--bind", str(self.folder), str(self.folder), "--chdir", str(self.folder)]
        args += ["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--setenv", "MPLCONFIGDIR", "/tmp"]
        # ipykernel exits when its parent looks gone (PPID 1), which, inside a PID namespace, is
        # always: let --die-with-parent do that job instead.
        args += ["--unsetenv", "JPY_PARENT_PID"]
        if self.limits.memory_mb:
            limit = int(self.limits.memory_mb * 2**20)
            prlimit = shutil.which("prlimit")
            if prlimit:
                cmd = [prlimit, f"--data={limit}:{limit}", "--", *cmd]
        return [*args, "--", *cmd]

    def started(self, pid: int | None = None, timeout: float = 20.0) -> None:
        """Note the namespace's PID 1 (bwrap's child, as the grader sees it) and its start time,
        so ``close`` can kill the whole namespace and never signal a recycled PID."""
        if pid is not None:
            self.bwrap_pid = pid
        if self.init_pid is not None or self.bwrap_pid is None:
            return
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            kids = _children(self.bwrap_pid)
            if kids:
                self.init_pid, self._init_start = kids[0], _start_time(kids[0])
                return
            if not _alive(self.bwrap_pid):
                return
            time.sleep(0.01)

    def close(self, wait: float = 10.0) -> None:
        """Kill the namespace's PID 1 (the kernel kills every process in it) and wait until it is gone."""
        self.started(timeout=1.0)
        if self.init_pid and _start_time(self.init_pid) == self._init_start:
            with contextlib.suppress(OSError):
                os.kill(self.init_pid, signal.SIGKILL)
            until = time.monotonic() + wait
            while _alive(self.init_pid) and time.monotonic() < until:
                time.sleep(0.02)
        shutil.rmtree(self.private, ignore_errors=True)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    """True until ``pid`` is gone; a zombie counts as gone (its namespace is already empty)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def for_task(folder: Path, runtime: Path, limits: Limits) -> Box:
    return Box(folder, runtime, limits)


# Chapter 07's checks run learners' files as processes of the grader (ProcessServer), and count a
# server's worker processes as its children: a wrapper must exec the command, not fork a monitor as
# bwrap does. util-linux ``unshare --mount`` execs; in the new mount namespace a small shell mounts an
# empty read-only tmpfs over each private folder, then execs the command (it fails closed).
_HIDE = ('while [ "$1" != -- ]; do mount -t tmpfs -o size=4k,mode=000,ro none "$1" || exit 97; shift; done; '
         'shift; exec "$@"')  # fmt: skip


@functools.cache
def _unshare_prefix() -> tuple[str, ...] | None:
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix: tuple[str, ...] = (unshare, "--mount", "--propagation", "private")
    if os.geteuid() != 0:
        prefix = (unshare, "--user", "--map-root-user", "--mount", "--propagation", "private")
    try:
        ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return prefix if ok else None


def hiding(folders: list[str]) -> Callable[[list[str]], list[str]] | None:
    """A ``workbook.processes.wrap_command`` that runs a command with ``folders`` empty and unreadable
    (None where no mount namespace can be made). A folder that holds the Python the command runs on is
    never hidden (the instructor's home, when Python lives there)."""
    prefix = _unshare_prefix()
    if prefix is None:
        return None
    runtime = _python_dirs()
    hide = sorted({f for f in folders if os.path.isdir(f) and not any(r.startswith(f.rstrip("/") + "/") or r == f
                                                                       for r in runtime)})  # fmt: skip
    return lambda cmd: [*prefix, "sh", "-c", _HIDE, "sh", *hide, "--", *cmd]
