"""`workbook grade --cluster`: a real Dask scheduler and two workers on loopback grade the same toy
submissions as a local run, and every output file says the same (the report's timestamp aside)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "grading_fixtures"))
import make  # noqa: E402

from workbook import notebooks  # noqa: E402
from workbook.grading.command import grade_all  # noqa: E402
from workbook.grading.limits import Limits  # noqa: E402

pytest.importorskip("distributed")
LIMITS = Limits(cell_timeout=10, total_timeout=60, memory_mb=600)
DASK = Path(sys.executable).with_name("dask")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def cluster(workers: int) -> Iterator[str]:
    """A scheduler and ``workers`` single-threaded workers on 127.0.0.1; all stopped afterwards."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "start_new_session": True}
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]  # type: ignore[call-overload]  # fmt: skip
    try:
        for _ in range(workers):
            procs.append(subprocess.Popen([str(DASK), "worker", address, "--nworkers", "1", "--nthreads", "1",
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


def same(out: Path) -> dict[str, str]:
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name != ".cache.json":
            text = path.read_text(encoding="utf-8")
            files[path.relative_to(out).as_posix()] = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "<time>", text)
    return files


@pytest.mark.slow
def test_a_cluster_run_writes_what_a_local_run_writes(tmp_path: Path) -> None:
    root = make.toy_root(tmp_path / "root")
    subs = tmp_path / "subs"
    learners = {
        "good": make.toy(),
        "starter": notebooks.make_starter(make.toy()),
        "kills_its_grader": make.toy("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
    }
    for name, nb in learners.items():
        (subs / name).mkdir(parents=True)
        notebooks.write(nb, subs / name / "90_toy.ipynb")
    shutil.copytree(subs / "good", subs / "no_notebook")
    (subs / "no_notebook" / "90_toy.ipynb").unlink()
    local = grade_all(subs, tmp_path / "local", LIMITS, workers=2, root=root, quiet=True)
    started = time.monotonic()
    with cluster(2) as address:
        remote = grade_all(subs, tmp_path / "cluster", LIMITS, root=root, quiet=True, cluster=address)
    assert time.monotonic() - started < 300
    assert remote == local
    assert any(r.passed for r in local["good"]) and not any(r.passed for r in local["no_notebook"])
    assert same(tmp_path / "cluster") == same(tmp_path / "local")
