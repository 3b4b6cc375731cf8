"""A small pool of grading workers that survives whatever a notebook does to it.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies
(a kernel that kills its parent, the OOM killer) every pending future fails and the
pool is unusable. Here each worker slot is a thread that owns one process: if the
process dies, only the notebook it was grading gets a verdict saying so, its kernel
is killed by process group, and a fresh worker takes the next notebook. A notebook
that outlives its hard deadline is handled the same way.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from workbook.grading.limits import Limits, Task, failing
from workbook.grading.snapshot import Snapshot
from workbook.registry import Chapter
from workbook.results import Result

Done = Callable[[Task, list[Result]], None]


def _kill_group(pid: int | None) -> None:
    """The kernel runs in its own session: kill it and anything it started."""
    if pid:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


class _Slot:
    """One worker process (``python -m workbook.grading.worker``) and a socket to it.

    A plain subprocess rather than multiprocessing's spawn: spawn re-imports the
    caller's ``__main__``, which breaks callers without a ``__name__`` guard.
    """

    def __init__(self, snap: Snapshot, limits: Limits) -> None:
        self.snap, self.limits = snap, limits
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None
        self.scratch: list[str] = []

    def _start(self) -> None:
        mine, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbook.grading.worker", str(theirs.fileno())], pass_fds=[theirs.fileno()]
        )
        theirs.close()
        self.conn = Connection(mine.detach())
        self.conn.send((self.snap, self.limits))
        if not self.conn.poll(120):
            raise RuntimeError("a grading worker did not start")
        kind, self.scratch = self.conn.recv()
        if kind != "ready":
            raise RuntimeError("a grading worker did not start")

    def _alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _stop(self, kernel: int | None) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: the worker closes its kernel on the way out
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        _kill_group(kernel)
        for folder in self.scratch:  # a killed worker could not clean up after itself
            shutil.rmtree(folder, ignore_errors=True)
        self.scratch = []
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None

    def run(self, task: Task, deadline: float) -> list[Result] | str:
        """The results, or why the worker had to be stopped."""
        if not self._alive():
            self._stop(None)
            self._start()
        assert self.conn is not None
        kernel: int | None = None
        self.conn.send(task)
        started = time.monotonic()
        while True:
            try:
                if self.conn.poll(0.5):
                    kind, value = self.conn.recv()
                    if kind == "kernel":
                        kernel = int(value)
                        continue
                    return list(value)
            except (EOFError, OSError):
                # The worker's end closed: it is exiting. A killed process closes its sockets a moment
                # before it can be reaped, and poll() answers at once from now on: wait for the exit
                # rather than spin through the deadline in microseconds.
                assert self.proc is not None
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(5)
            if not self._alive():
                self._stop(kernel)
                return "the grading process was killed while this notebook ran (did a cell kill its parent?)"
            if time.monotonic() - started > deadline:
                self._stop(kernel)
                return f"grading took longer than {deadline:.0f} s in total and was stopped"

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        self._stop(None)


def run_all(
    tasks: list[Task], chapters: dict[str, Chapter], snap: Snapshot, limits: Limits, workers: int, done: Done
) -> None:
    """Grade ``tasks`` on ``workers`` processes; call ``done`` (from a worker thread) for each."""
    if not tasks:
        return
    todo: queue.Queue[Task] = queue.Queue()
    for task in tasks:
        todo.put(task)
    deadline = limits.total_timeout + 60
    errors: list[BaseException] = []

    def slot_loop() -> None:
        slot = _Slot(snap, limits)
        try:
            while True:
                try:
                    task = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome = slot.run(task, deadline)
                except Exception as exc:  # the worker could not even start: report, keep going
                    outcome = f"the grader failed on this notebook: {exc.__class__.__name__}: {exc}"
                    slot._stop(None)
                if isinstance(outcome, str):
                    outcome = failing(chapters[task.chapter], outcome)
                done(task, outcome)
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            slot.close()

    threads = [threading.Thread(target=slot_loop, daemon=True) for _ in range(max(1, min(workers, len(tasks))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
