"""Running a learner's deployment files as real processes: the helpers of chapter 07's checks.

A check writes the learner's file into a fresh folder with the checks' own tiny ASGI app, starts
gunicorn (or a container's command) there on a loopback port, and watches its processes. Kept
apart from ``checks/test_07_deploy.py`` so that module holds the verdicts and this one the
machinery; nothing here grades.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil

from workbook.processes import ProcessServer, ProcessStartupError, start_process
from workbook.testing import Mismatch

TINY_APP = '''"""The checks' app: which worker answered, and a handler stuck in a blocking call."""
import json, os, time
from urllib.parse import parse_qs


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = "startup" if message["type"] == "lifespan.startup" else "shutdown"
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    if scope["path"] == "/block":
        time.sleep(float(parse_qs(scope["query_string"].decode()).get("seconds", ["30"])[0]))
    body = json.dumps({"pid": os.getpid()}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
'''
GUNICORN = [sys.executable, "-m", "gunicorn", "main:app", "--bind", "127.0.0.1:{port}", "--no-control-socket"]
MAX_WORKERS = 8  # a check never boots more: (2 x CPU) + 1 on a 16-core laptop would be 33 processes
CAPPED_CONF = "capped.conf.py"
# gunicorn runs this instead of the learner's file: the same settings (it executes that file as
# gunicorn would), but it stops before any worker is forked when they ask for too many.
CAPPED = f'''import os, sys
exec(compile(open("gunicorn.conf.py").read(), "gunicorn.conf.py", "exec"))
_asked = globals().get("workers", os.environ.get("WEB_CONCURRENCY", 1))
if isinstance(_asked, (int, str)) and str(_asked).isdigit() and int(_asked) > {MAX_WORKERS}:
    sys.exit(f"WORKBOOK-CAP: your config asks for {{_asked}} worker processes; the check starts at most {MAX_WORKERS}")
'''
@contextlib.contextmanager
def folder(files: dict[str, str]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="workbook-07-") as name:
        for file, text in files.items():
            (Path(name) / file).write_text(text)
        yield Path(name)


@contextlib.contextmanager
def started(argv: list[str], cwd: Path, env: dict[str, str], **options: bool) -> Iterator[ProcessServer]:
    """A server process for one check; a failed start becomes a Mismatch with its output."""
    try:
        server = start_process(argv, "your server", cwd=cwd, env=env, ready_path="/health", timeout=20,
                               inherit_env=False, **options)  # fmt: skip
    except ProcessStartupError as exc:
        capped = re.search(r"WORKBOOK-CAP: (.*)", str(exc))
        if capped:
            raise Mismatch(f"at most {MAX_WORKERS} worker processes (the checks boot no more)", capped[1]) from None
        raise Mismatch("the server starts and answers GET /health", str(exc)[-900:]) from None
    try:
        yield server
    finally:
        server.stop(grace=1.0)


def health_pid(server: ProcessServer, timeout: float = 2.0) -> int | None:
    """The PID of the worker that answers a fresh connection, or None if none answered."""
    try:
        response = httpx.get(server.url + "/health", timeout=timeout)
        return int(response.json()["pid"]) if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def settled(count: int, look: Callable[[], list[int]], timeout: float = 10.0) -> list[int]:
    """What ``look()`` returns once its length has stayed the same for a while: 0.4 s when it
    is ``count`` (gunicorn forks workers up to 0.1 s apart, so a passing count is not enough) or
    more (too many already: more forks cannot make it right), 1.5 s when fewer (one may still
    come) — or whatever it is at the deadline."""
    deadline = time.monotonic() + timeout
    last, since = look(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = look()
        if len(now) != len(last):
            last, since = now, time.monotonic()
        elif now and time.monotonic() - since > (0.4 if len(now) >= count else 1.5):
            break
    return look()


@contextlib.contextmanager
def prompt_master(master: int) -> Iterator[None]:
    """Have gunicorn's master look at its workers every 0.1 s instead of every second.

    Its loop sleeps up to a second between looks unless a signal wakes it; SIGCHLD (what it gets
    whenever a child changes state) only makes it reap children that have exited, then look. The
    verdict allows for the second this saves (see ``MASTER_LOOKS_EVERY``), so it is as strict as
    waiting — and a check takes seconds less."""
    done = threading.Event()

    def poke() -> None:
        while not done.wait(0.1):
            with contextlib.suppress(OSError):
                os.kill(master, signal.SIGCHLD)

    poker = threading.Thread(target=poke, name="check-07-poke", daemon=True)
    poker.start()
    try:
        yield
    finally:
        done.set()
        poker.join()


def handles(pid: int, sig: int) -> bool:
    """Whether ``pid`` has a handler for ``sig`` (its SigCgt mask in /proc); True when unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    caught = re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.MULTILINE)
    return caught is None or bool(int(caught[1], 16) >> (sig - 1) & 1)


def leaf_processes(root: int) -> list[int]:
    """Processes under ``root`` that have no children: the workers of the container's server."""
    found = []
    with contextlib.suppress(psutil.Error):
        for process in psutil.Process(root).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if not process.children():
                    found.append(process.pid)
    return found
