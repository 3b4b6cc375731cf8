"""One grading worker process: grade notebooks, one fresh kernel each, from a snapshot.

Why a snapshot: a learner's kernel runs as the same user as the grader, so it can
reach any file the grader can. The instructor's registry, checks and runtime are
therefore read into memory once, before any learner code runs. Each worker writes
the checks into a private temporary folder and, before the first kernel starts,
imports them and everything they need (pytest then reuses the imported modules:
a check file changed on disk later cannot change a verdict). After every notebook
the folder is re-hashed and, if something changed it, rewritten from memory.
Each kernel gets its own throw-away copy of ``workbook`` and ``app_skeleton``
(``PYTHONPATH``), so editing "the workbook" from a cell edits only that copy.

Pipelining: the pool keeps the next task waiting in this process; once the current
notebook's cells have run, the next one's runtime copy, sandbox (bound to that learner's
copy only) and kernel are prepared while the current one is checked and torn down.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent import futures
from multiprocessing.connection import Connection
from pathlib import Path

from workbook import processes, registry
from workbook.grading import sandbox
from workbook.grading.execute import _Kernel, verdicts
from workbook.grading.limits import Limits, Task, failing
from workbook.grading.snapshot import KERNEL_PARTS, Snapshot, digest, read_tree, write_snapshot
from workbook.results import Result


def _preimport(private: Path) -> None:
    """Import what the checks import now, so no module is read from disk once learners run."""
    for name in ("pytest", "httpx", "jupyter_client.manager", "workbook.runner", "workbook.grading.execute"):
        importlib.import_module(name)
    for module in (private / "checks").glob("test_*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                with contextlib.suppress(Exception):
                    importlib.import_module(name)


class Grader:
    """The state of one worker: its private checks and the chapters read from them."""

    def __init__(self, snap: Snapshot, limits: Limits) -> None:
        self.snap, self.limits = snap, limits
        self.isolate = sandbox.unavailable() is None
        self.private = Path(tempfile.mkdtemp(prefix="wbg-"))
        self.libs = Path(tempfile.mkdtemp(prefix="wbk-"))  # the kernels' copies; apart from the checks
        write_snapshot(snap, self.private, ("checks/",))
        self.checks_digest = digest(snap, "checks/")
        self.chapters = {c.id: c for c in registry.chapters(self.private)}
        # Kernels start on one thread that lives as long as this worker: bwrap's --die-with-parent
        # (PR_SET_PDEATHSIG) fires when the THREAD that started it ends, not the process.
        self.booter = futures.ThreadPoolExecutor(1, thread_name_prefix="kernel-boot")
        _preimport(self.private)
        from workbook.runner import run_checks

        for chapter in self.chapters.values():  # imports each checks module into sys.modules, for good
            run_checks(chapter, list(chapter.exercises), {})

    def _tampered(self) -> bool:
        now = {f"checks/{k}": v for k, v in read_tree(self.private / "checks").items() if "__pycache__" not in k}
        if digest(now) == self.checks_digest:
            return False
        shutil.rmtree(self.private / "checks", ignore_errors=True)
        write_snapshot(self.snap, self.private, ("checks/",))
        return True

    def prepare(self, task: Task, on_start: Callable[[int], None] | None = None) -> _Prepared:
        """Everything ``task``'s notebook needs before its first cell: its own runtime copy, its own
        sandbox (bound to THIS learner's copy only) and its kernel, started in a thread, so that the
        kernel boots while the previous notebook is still being checked."""
        path = Path(task.notebook or ".")
        lib = Path(tempfile.mkdtemp(dir=self.libs))
        write_snapshot(self.snap, lib, KERNEL_PARTS)
        env = {"PYTHONPATH": str(lib), "WORKBOOK_ROOT": str(lib), "WORKBOOK_NO_RECORD": "1"}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        box = sandbox.for_task(Path(task.folder or path.parent), lib, self.limits) if self.isolate else None

        def started(pid: int) -> None:
            if box is not None:
                box.started(pid)
            if on_start is not None:
                on_start(pid)

        def boot() -> _Kernel:
            return _Kernel(path.parent.resolve(), env, self.limits.memory_mb, started, box.wrap if box else None,
                           box.private if box else None)  # fmt: skip

        kernel: futures.Future[_Kernel] = futures.Future()
        if task.notebook is not None:
            kernel = self.booter.submit(boot)
        return _Prepared(task, lib, box, kernel)

    def grade(self, task: Task, ready: _Prepared | None = None, on_start: Callable[[int], None] | None = None,
              after_run: Callable[[], None] | None = None) -> list[Result]:  # fmt: skip
        """``task``'s verdicts, with its kernel from ``ready`` (started ahead) or started now."""
        chapter = self.chapters[task.chapter]
        if task.notebook is None:
            if ready is not None:
                ready.close()
            if after_run is not None:
                after_run()
            return failing(chapter, task.why_missing or f"no {chapter.stem}.ipynb in this submission")
        path = Path(task.notebook)
        ready = ready or self.prepare(task, on_start)
        # Chapter 07's checks start the learner's files as processes of this one: hide what is private.
        private = [*task.hide, str(self.private), str(self.libs), str(Path(task.folder or path.parent).parent)]
        processes.wrap_command = sandbox.hiding(private) if self.isolate else None
        try:
            results = verdicts(chapter, path, None, self.limits.for_chapter(chapter), content=task.content,
                               kernel=ready.kernel.result, after_run=after_run)  # fmt: skip
        finally:
            processes.wrap_command = None
            ready.close()  # every process the notebook started is gone before its verdict is sent
        if self._tampered():  # verdicts are safe (modules loaded at start); keep the files honest too
            print(f"grader: check files changed while {task.learner}/{task.chapter} ran; restored", file=sys.stderr)
        return results


class _Prepared:
    """A notebook's runtime copy, sandbox and (starting) kernel."""

    def __init__(self, task: Task, lib: Path, box: sandbox.Box | None, kernel: futures.Future[_Kernel]) -> None:
        self.task, self.lib, self.box, self.kernel = task, lib, box, kernel

    def close(self) -> None:
        with contextlib.suppress(BaseException):
            if self.task.notebook is not None:
                self.kernel.result().close()  # no-op when the notebook's run closed it already
        if self.box is not None:
            self.box.close()
        shutil.rmtree(self.lib, ignore_errors=True)


def worker_main(conn: Connection, snap: Snapshot, limits: Limits) -> None:
    """Serve ``(seq, task)`` messages from ``conn`` until it sends None. The pool keeps the next task
    waiting here: once a notebook's cells have run, its kernel starts while this one is checked.
    Sends ``("kernel", (seq, pid))`` for each kernel, then ``("done", (seq, results))``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # exit through finally: kernels get closed
    grader = Grader(snap, limits)
    lock = threading.Lock()

    def send(message: tuple[str, object]) -> None:
        with lock:  # the kernel-starting thread sends too
            conn.send(message)

    waiting: list[tuple[int, Task] | None] = []
    ready: dict[int, _Prepared] = {}

    def started_by(seq: int) -> Callable[[int], None]:
        return lambda pid: send(("kernel", (seq, pid)))

    def start_next() -> None:
        if not waiting and conn.poll(0):
            waiting.append(conn.recv())
        if waiting and waiting[0] is not None and waiting[0][0] not in ready:
            seq, task = waiting[0]
            ready[seq] = grader.prepare(task, started_by(seq))

    try:
        send(("ready", [str(grader.private), str(grader.libs)]))  # the pool removes them if we die
        while (item := waiting.pop(0) if waiting else conn.recv()) is not None:
            seq, task = item
            try:
                results = grader.grade(task, ready.pop(seq, None), started_by(seq), start_next)
            except Exception as exc:  # never let one notebook take the worker down
                results = failing(grader.chapters[task.chapter], f"grader error: {exc.__class__.__name__}: {exc}")
            send(("done", (seq, results)))
    except (EOFError, OSError):
        pass
    finally:
        for left in ready.values():
            left.close()
        shutil.rmtree(grader.private, ignore_errors=True)
        shutil.rmtree(grader.libs, ignore_errors=True)


if __name__ == "__main__":
    os.set_inheritable(int(sys.argv[1]), False)  # the kernel launcher passes inheritable fds on
    _conn = Connection(int(sys.argv[1]))
    _snap, _limits = _conn.recv()
    worker_main(_conn, _snap, _limits)
