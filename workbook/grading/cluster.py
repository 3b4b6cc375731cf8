"""``workbook grade --cluster ADDRESS``: the same grading, on the workers of a Dask cluster.

Why Dask distributed: an existing engine that already deploys on SSH hosts, Kubernetes and
HPC schedulers; the grader only submits one task per notebook. Every Dask worker grades
exactly as the local pool does: the client sends the snapshot taken at the start (so every
worker uses the same checks and runtime, whatever is installed there) and each learner's
copy as bytes (workers need no shared disk); on the worker, a ``pool._Slot`` runs the usual
grading worker process, with the same sandbox, so a notebook that kills its grading process
kills only that process: the Dask worker reports the verdict and nothing is retried.

A notebook that kills the Dask worker itself (possible only without the sandbox) is attempted
once, whatever the scheduler's ``allowed-failures``: each task sets a Dask ``Event`` named after
it just before the learner's code starts, and a retried task that finds its event set returns
"the worker died while grading this notebook" without running anything. The scheduler's own
retries are still needed, for the innocent tasks queued on the lost worker: so do NOT set
``allowed-failures`` to 0 (that would fail them too).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from workbook.grading.limits import Limits, Task, failing
from workbook.grading.pool import Done, _Slot
from workbook.grading.snapshot import Snapshot, digest
from workbook.registry import Chapter
from workbook.results import Result

_slots: dict[tuple[str, int], _Slot] = {}  # (snapshot digest, thread) → this Dask worker's grading process
_lock = threading.Lock()
LOST = "the Dask worker grading this notebook died while it ran (did a cell kill it?); it was not retried"


def pack(folder: Path, known: dict[Path, bytes] | None = None) -> bytes:
    """A learner's copy as a zip in memory (stored, not compressed: notebooks are small); ``known``:
    files already read (the notebooks), taken from memory rather than read again."""
    known = known or {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                name = path.relative_to(folder).as_posix()
                if path in known:
                    archive.writestr(name, known[path])
                else:
                    archive.write(path, name)
    return buffer.getvalue()


def _slot(shared: tuple[Snapshot, Limits, str]) -> _Slot:
    snap, limits, key = shared
    with _lock:
        slot = _slots.get((key, threading.get_ident()))
        if slot is None:
            slot = _slots[key, threading.get_ident()] = _Slot(snap, limits)
        return slot


def _first_attempt(name: str | None) -> bool:
    """True the first time a task gets here; False when the scheduler retries it after its worker died
    while it ran (the event outlives the worker: it lives on the scheduler)."""
    if name is None:
        return True
    from distributed import Event

    event = Event(name)
    if event.is_set():
        return False
    event.set()
    return True


def grade_remote(shared: tuple[Snapshot, Limits, str], chapter: Chapter, learner: str, files: bytes | None,
                 notebook: str | None, why_missing: str, attempt: str | None = None,
                 ) -> tuple[list[Result], str | None]:  # fmt: skip
    """Runs on a Dask worker: unpack the learner's copy, grade one notebook; return its results and
    why this worker could not sandbox its kernel (None: it did), for the report."""
    from workbook.grading import sandbox

    if notebook is not None and not _first_attempt(attempt):
        return failing(chapter, LOST), sandbox.unavailable()
    return _grade_here(shared, chapter, learner, files, notebook, why_missing), sandbox.unavailable()


def _grade_here(shared: tuple[Snapshot, Limits, str], chapter: Chapter, learner: str, files: bytes | None,
                notebook: str | None, why_missing: str) -> list[Result]:  # fmt: skip
    limits = shared[1]
    content = None
    with tempfile.TemporaryDirectory(prefix="workbook-dask-") as tmp:
        folder = Path(tmp) / "learner"
        folder.mkdir()
        if files is not None:
            with zipfile.ZipFile(io.BytesIO(files)) as archive:
                for info in archive.infolist():
                    name = PurePosixPath(info.filename)
                    if name.is_absolute() or ".." in name.parts:
                        continue
                    target = folder.joinpath(*name.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    data = archive.read(info)
                    target.write_bytes(data)
                    if info.filename == notebook:
                        content = data  # the worker need not read it back
        path = str(folder.joinpath(*PurePosixPath(notebook).parts)) if notebook else None
        task = Task(learner, chapter.id, path, why_missing, str(folder), content=content)
        slot = _slot(shared)
        try:
            outcome = slot.run(task, limits.for_chapter(chapter).total_timeout + 60)
        except Exception as exc:
            slot._stop(None)
            outcome = f"the grader failed on this notebook: {exc.__class__.__name__}: {exc}"
    return failing(chapter, outcome) if isinstance(outcome, str) else outcome


def run_on_cluster(address: str, tasks: list[Task], chapters: dict[str, Chapter], snap: Snapshot, limits: Limits,
                   done: Done) -> str | None:  # fmt: skip
    """Grade ``tasks`` on the cluster at ``address``; call ``done`` for each, as results arrive.
    Returns why some worker could not sandbox its kernels (None: every kernel was sandboxed)."""
    from distributed import Client, as_completed

    if not tasks:
        return None
    unsandboxed: str | None = None
    run = uuid.uuid4().hex[:12]
    with Client(address, timeout=60) as client:
        [shared] = client.scatter([(snap, limits, digest(snap))], broadcast=True, hash=False)
        # Each learner's files go inside their tasks, not scattered: scattered data lives on one worker,
        # and a worker that dies would take every task that needs it down with it.
        packed: dict[str, bytes] = {}
        futures = {}
        events: list[str] = []
        for index, task in enumerate(tasks):
            files = None
            rel = None
            if task.folder is not None:
                if task.folder not in packed:
                    mine = {Path(t.notebook): t.content for t in tasks
                            if t.folder == task.folder and t.notebook and t.content is not None}  # fmt: skip
                    packed[task.folder] = pack(Path(task.folder), mine)
                files = packed[task.folder]
                rel = Path(task.notebook).relative_to(task.folder).as_posix() if task.notebook else None
            events.append(f"workbook-grade-{run}-{index}")
            future = client.submit(grade_remote, shared, chapters[task.chapter], task.learner, files, rel,
                                   task.why_missing, events[-1], pure=False, retries=0)  # fmt: skip
            futures[future] = task
        for future in as_completed(list(futures)):
            task = futures[future]
            try:
                results, why = future.result()
                results = list(results)
                if why is not None and task.notebook is not None:
                    unsandboxed = unsandboxed or f"on a cluster worker, {why}"
            except Exception as exc:  # KilledWorker: workers kept dying (the OOM killer?) while it was queued
                why = f"the cluster could not grade this notebook ({exc.__class__.__name__}: {exc})"
                results = failing(chapters[task.chapter], why)
            done(task, results)
        from distributed import Event

        for name in events:  # the scheduler forgets them
            with contextlib.suppress(Exception):
                Event(name, client).clear()
    return unsandboxed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_cluster(workers: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """A scheduler and ``workers`` single-threaded workers on 127.0.0.1, all stopped afterwards
    (the cluster test and the benchmark; an instructor starts real ones, see README). The scheduler
    keeps Dask's default ``allowed-failures``, as an instructor's would."""
    dask = Path(sys.executable).with_name("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, **(env or {})}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "start_new_session": True}
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]  # type: ignore[call-overload]  # fmt: skip
    try:
        for _ in range(workers):
            procs.append(subprocess.Popen([str(dask), "worker", address, "--nworkers", "1", "--nthreads", "1",
                                           "--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "0"],
                                          **quiet))  # type: ignore[call-overload]  # fmt: skip
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
