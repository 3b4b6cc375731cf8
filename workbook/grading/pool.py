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
Outcome = Callable[[Task, list[Result] | str], None]  # results, or why the worker had to be stopped


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
        """The results, or why the worker had to be stopped (one task: the cluster's way)."""
        outcomes: list[list[Result] | str] = []
        self.serve(iter([task]).__next__, deadline, lambda _, outcome: outcomes.append(outcome))
        return outcomes[0]

    def serve(self, take: Callable[[], Task], deadline: float, done: Outcome) -> None:
        """Grade the tasks ``take`` hands out (until it raises), two in flight: while the worker grades
        one, the next waits there, so its kernel starts while the first one is checked. If the worker
        dies, the notebook it was running gets the verdict; the waiting one goes to a fresh worker."""
        flight: list[tuple[int, Task]] = []  # sent, in order; the first one is running
        kernels: dict[int, int] = {}  # seq → its kernel's pid
        seq = 0
        started = time.monotonic()
        retry: list[Task] = []
        while True:
            while len(flight) < 2:
                try:
                    task = retry.pop(0) if retry else take()
                except (StopIteration, queue.Empty):
                    break
                try:
                    if not self._alive():
                        self._stop(None)
                        self._start()
                        started = time.monotonic()
                    assert self.conn is not None
                    seq += 1
                    self.conn.send((seq, task))
                except Exception as exc:  # the worker could not even start: report, keep going
                    self._stop(None)
                    done(task, f"the grader failed on this notebook: {exc.__class__.__name__}: {exc}")
                    continue
                flight.append((seq, task))
            if not flight:
                return
            outcome = self._wait(flight[0][0], kernels, started, deadline)
            done(flight.pop(0)[1], outcome)
            started = time.monotonic()
            if isinstance(outcome, str):  # the worker is gone: kill what it started, resend the waiting one
                for pid in kernels.values():
                    _kill_group(pid)
                kernels.clear()
                retry = [task for _, task in flight]  # it never ran a cell
                flight.clear()

    def _wait(self, seq: int, kernels: dict[int, int], started: float, deadline: float) -> list[Result] | str:
        """Task ``seq``'s results, or why the worker had to be stopped (then it is)."""
        assert self.conn is not None
        while True:
            try:
                if self.conn.poll(0.5):
                    kind, (which, value) = self.conn.recv()
                    if kind == "kernel":
                        kernels[which] = int(value)
                        continue
                    kernels.pop(which, None)
                    if which == seq:
                        return list(value)
                    continue
            except (EOFError, OSError):
                # The worker's end closed: it is exiting. A killed process closes its sockets a moment
                # before it can be reaped, and poll() answers at once from now on: wait for the exit
                # rather than spin through the deadline in microseconds.
                assert self.proc is not None
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(5)
            if not self._alive():
                self._stop(kernels.get(seq))
                return "the grading process was killed while this notebook ran (did a cell kill its parent?)"
            if time.monotonic() - started > deadline:
                self._stop(kernels.get(seq))
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
    deadline = max(limits.for_chapter(chapters[t.chapter]).total_timeout for t in tasks) + 60
    errors: list[BaseException] = []

    def slot_loop() -> None:
        slot = _Slot(snap, limits)

        def finished(task: Task, outcome: list[Result] | str) -> None:
            done(task, failing(chapters[task.chapter], outcome) if isinstance(outcome, str) else outcome)

        try:
            slot.serve(todo.get_nowait, deadline, finished)
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
