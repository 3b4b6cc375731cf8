"""Grade a learner's *tests* by the bugs they catch: run them against the correct app and its mutants.

A check hands ``run_suites`` a set of folders, each holding one variant of the app under test
(written under the same module name, in a fresh temporary folder: the variants differ by their
bug only) and the learner's test file under the same name. One pre-warmed runner process imports
pytest, FastAPI, SQLAlchemy... once, then ``os.fork()``s one child per folder; each child starts a
session of its own (its own process group), points ``sys.path`` at its folder, runs ``pytest.main``
on the learner's file and exits with pytest's exit status. The verdict is that exit status as the
runner's ``waitpid`` sees it — never a report the learner's code could write. A child that outlives
its time limit is killed with its whole process group.

The runner is started through ``workbook.processes.launch_argv``, so the grader's sandbox
(``wrap_command``) applies, and it dies with its parent. Its code is passed with ``-c`` (no file the
sandbox could hide). Its answers are signed with a key it receives only after every child has been
reaped, so a line a learner's test writes into the runner's output (through ``/proc``) is ignored.
What this does not stop: code running as root that reads the runner's memory, or a test that reads
the module's source and recognises a mutant by its text (the checks say so; the notebook too).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

from workbook import serving
from workbook.processes import launch_argv

TIMEOUT = 10.0  # seconds per child: a small suite takes 0.2–2.5 s here, even under heavy load
PARALLEL = 3  # children at once: 2 cores, and a child mostly waits on its own imports
RUNNER = r'''
import ctypes, hashlib, hmac, json, os, resource, signal, sys, time, warnings
if sys.platform.startswith("linux"):  # not dumpable: other processes of this user cannot open /proc/PID/fd
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for name in PREWARM:
        try:
            __import__(name)
        except Exception:
            pass
import gc, tempfile
import pytest
FLAGS = ["-q", "-x", "--no-header", "--color=no", "-p", "no:cacheprovider", "-p", "no:faulthandler",
         "-p", "no:pastebin", "-p", "no:junitxml", "-p", "no:doctest", "-p", "no:unraisableexception",
         "-p", "no:threadexception", "-W", "ignore::DeprecationWarning", "-c", os.devnull]
with tempfile.TemporaryDirectory() as warm:  # one empty session: pytest imports its own plugins now, once
    with open(os.path.join(warm, "test_warm.py"), "w") as f:
        f.write("def test_warm():\n    pass\n")
    saved = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    pytest.main([os.path.join(warm, "test_warm.py"), *FLAGS, "--rootdir", warm, "--basetemp", os.path.join(warm, "t")])
    sys.stdout.flush()
    os.dup2(saved, 1)
    os.close(saved)
gc.collect()
gc.freeze()  # what the children inherit stays shared (copy-on-write), and their gc skips it

def child(folder, test_file):
    os.setsid()
    out = os.open(os.path.join(folder, "output.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.closerange(3, 4096)
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024 ** 3, 2 * 1024 ** 3))
    os.chdir(folder)
    sys.path.insert(0, folder)
    for name in [m for m in sys.modules if m == "app_skeleton" or m.startswith("app_skeleton.")]:
        del sys.modules[name]
    import app_skeleton
    if not app_skeleton.__file__.startswith(folder):
        os._exit(3)
    rc = pytest.main([test_file, *FLAGS, "-p", PLUGIN, "--basetemp", os.path.join(folder, "tmp"), "--rootdir", folder])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(rc))

def run(job):
    pending, running, codes, took, started = list(job["folders"]), {}, {}, {}, {}
    while pending or running:
        while pending and len(running) < PARALLEL:
            folder = pending.pop(0)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    child(folder, job["test_file"])
                finally:
                    os._exit(3)
            running[pid] = (folder, time.monotonic() + TIMEOUT)
            started[folder] = time.monotonic()
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid in running:
            folder, _ = running.pop(pid)
            codes[folder] = os.waitstatus_to_exitcode(status)
            took[folder] = round(time.monotonic() - started[folder], 3)
            try:
                os.killpg(pid, signal.SIGKILL)  # whatever the tests left running in their group
            except OSError:
                pass
            continue
        for pid, (folder, deadline) in list(running.items()):
            if time.monotonic() > deadline:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
                os.waitpid(pid, 0)
                running.pop(pid)
                codes[folder] = "timeout"
        time.sleep(0.005)
    print("took " + json.dumps(took), flush=True)
    return codes

print("ready", flush=True)
for line in sys.stdin:
    codes = run(json.loads(line))
    print("reaped", flush=True)
    key = sys.stdin.readline().strip().encode()
    payload = json.dumps(codes, sort_keys=True)
    print(json.dumps({"codes": codes, "mac": hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()}), flush=True)
'''
PREWARM = [
    "fastapi", "fastapi.testclient", "fastapi.security", "starlette.testclient", "httpx", "anyio", "pydantic",
    "email_validator", "sqlalchemy", "sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "jwt", "pwdlib",
    "pwdlib.hashers.argon2", "argon2", "pytest", "_pytest.python", "_pytest.fixtures", "_pytest.terminal",
    "_pytest.tmpdir", "_pytest.skipping", "_pytest.assertion.rewrite",
]  # fmt: skip


last_timings: dict[str, object] = {}  # the last run's: seconds to "ready", and per child


class RunnerError(RuntimeError):
    """The runner did not start or did not answer: the message says how."""


class _Lines:
    """Lines from a pipe with a deadline (``select`` on the raw fd; our own buffer, not Python's)."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None
        self.popen, self.fd, self.buffer = popen, popen.stdout.fileno(), b""

    def next(self, deadline: float) -> str:
        while b"\n" not in self.buffer:
            if time.monotonic() > deadline:
                raise RunnerError("the test runner did not answer in time")
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    raise RunnerError(f"the test runner exited (code {self.popen.poll()})")
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode(errors="replace").strip()


class _Runner:
    """One warm runner process: started once, then handed one job after another.

    Why keep it: importing pytest, FastAPI, SQLAlchemy... takes the runner about a second, more
    than the children it forks need for a small suite, so a learner's second check() would pay it
    again for nothing. Reuse is safe because the runner itself never runs a learner's code (only
    its forked children do, and each job reaps them all), and every job's answer is signed with a
    key made for that job alone."""

    def __init__(self, code: str) -> None:
        begun = time.monotonic()
        self.argv = launch_argv([sys.executable, "-I", "-c", code])  # the sandbox's wrapping included
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        self.lines = _Lines(self.popen)
        try:
            deadline = time.monotonic() + 60
            while self.lines.next(deadline) != "ready":
                pass
        except BaseException:
            self.stop()
            raise
        last_timings["ready"] = round(time.monotonic() - begun, 3)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def run(self, folders: list[Path], test_file: str) -> dict[str, int | str]:
        stdin = self.popen.stdin
        assert stdin is not None
        job = {"folders": [str(f) for f in folders], "test_file": test_file}
        try:
            stdin.write(json.dumps(job).encode() + b"\n")
            stdin.flush()
        except OSError as exc:
            raise RunnerError(f"the test runner exited ({exc})") from None
        deadline = time.monotonic() + TIMEOUT * (len(folders) + 1) + 30
        while (line := self.lines.next(deadline)) != "reaped":  # a forged "reaped" only makes the key come early
            if line.startswith("took "):
                with contextlib.suppress(ValueError):
                    last_timings["children"] = json.loads(line[5:])  # for benchmarks; never for a verdict
        key = secrets.token_hex(32)  # made now: no child of the runner has ever seen it
        stdin.write(key.encode() + b"\n")
        stdin.flush()
        while True:
            try:
                answer = json.loads(self.lines.next(deadline))
                payload = json.dumps(answer["codes"], sort_keys=True).encode()
                if hmac.compare_digest(answer["mac"], hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()):
                    return dict(answer["codes"])
            except (ValueError, KeyError, TypeError):
                continue

    def stop(self) -> None:
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(self.popen.pid, 9)
            self.popen.wait()
        if self.popen.stdout is not None:
            self.popen.stdout.close()


_warm: _Runner | None = None
_warm_lock = threading.Lock()
keep_warm = False  # True only in a learner's kernel (check() sets it): a grader starts a runner per notebook


def run_suites(folders: list[Path], test_file: str, plugin: str) -> dict[str, int | str]:
    """Folder → pytest's exit status in that folder (or ``"timeout"``), one forked child each.

    In a learner's kernel (``keep_warm``) the runner is kept for the next check(). Never in a
    grader: there a runner lives in one notebook's sandbox and ends with that notebook's grading,
    with everything its children started. Nor from a thread other than the main one: on Linux the
    runner is set to die with the thread that started it (``PR_SET_PDEATHSIG`` follows the thread)."""
    global _warm
    code = f"PREWARM = {PREWARM!r}\nPLUGIN = {plugin!r}\nTIMEOUT = {TIMEOUT!r}\nPARALLEL = {PARALLEL!r}\n{RUNNER}"
    keep = keep_warm and threading.current_thread() is threading.main_thread()
    with _warm_lock:
        runner = None
        if keep and _warm is not None:
            if _warm.argv == launch_argv([sys.executable, "-I", "-c", code]) and _warm.alive():
                runner = _warm
            else:
                _warm.stop()
            _warm = None
        if runner is None:
            runner = _Runner(code)
        else:
            last_timings["ready"] = 0.0  # warm: nothing to wait for
        try:
            codes = runner.run(folders, test_file)
        except BaseException:
            runner.stop()
            raise
        if keep:
            _warm = runner
        else:
            runner.stop()
        return codes


def stop_runner() -> None:
    """Stop the warm runner, if any (the notebook's teardown and the interpreter's exit call this)."""
    global _warm
    with _warm_lock:
        runner, _warm = _warm, None
    if runner is not None:
        runner.stop()


atexit.register(stop_runner)
serving.add_stop_hook(stop_runner)
