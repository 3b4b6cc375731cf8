"""`workbook grade --cluster`: a real Dask scheduler and two workers on loopback grade the same toy
submissions as a local run, and every output file says the same (the report's timestamp aside).
A notebook that kills its Dask worker gets a verdict saying so and is attempted exactly once."""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "grading_fixtures"))
import make  # noqa: E402

from workbook import notebooks  # noqa: E402
from workbook.grading import sandbox  # noqa: E402
from workbook.grading.cluster import LOST, local_cluster  # noqa: E402
from workbook.grading.command import grade_all  # noqa: E402
from workbook.grading.limits import Limits  # noqa: E402

pytest.importorskip("distributed")
LIMITS = Limits(cell_timeout=10, total_timeout=60, memory_mb=600)


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
    with local_cluster(2) as address:
        remote = grade_all(subs, tmp_path / "cluster", LIMITS, root=root, quiet=True, cluster=address)
    assert time.monotonic() - started < 300
    assert remote == local
    assert any(r.passed for r in local["good"]) and not any(r.passed for r in local["no_notebook"])
    assert same(tmp_path / "cluster") == same(tmp_path / "local")


# Without the sandbox (the only way a kernel can reach the Dask worker), the kernel's parent is the
# grading process, its grandparent the Dask worker (started by the `dask worker` nanny): record this
# attempt and what it kills, then kill the Dask worker.
KILL_DASK_WORKER = """import os, pathlib, signal, time
def parent(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])
def command(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(bytes(1), b" ").decode()
dask_worker = parent(os.getppid())
seen = f"{command(dask_worker)} started by {command(parent(dask_worker))}"
pathlib.Path(%(marks)r, f"attempt-{os.getpid()}").write_text(seen)
os.kill(dask_worker, signal.SIGKILL)
time.sleep(5)
VALUE["answer"] = 42"""


@pytest.mark.slow
def test_a_notebook_that_kills_its_dask_worker_gets_its_verdict_and_is_not_retried(tmp_path: Path) -> None:
    root = make.toy_root(tmp_path / "root")
    subs, marks = tmp_path / "subs", tmp_path / "attempts"
    marks.mkdir()
    learners = {f"good{n}": make.toy() for n in range(3)}
    learners["wrong"] = make.toy('VALUE["answer"] = 41')
    for name, nb in learners.items():
        (subs / name).mkdir(parents=True)
        notebooks.write(nb, subs / name / "90_toy.ipynb")
    limits = Limits(cell_timeout=8, total_timeout=60, memory_mb=600)
    local = grade_all(subs, tmp_path / "local", limits, workers=2, root=root, quiet=True)  # before the hostile
    (subs / "hostile").mkdir()  # one: unsandboxed, locally it would kill this test's own process
    notebooks.write(make.toy(KILL_DASK_WORKER % {"marks": str(marks)}), subs / "hostile" / "90_toy.ipynb")
    off = {sandbox.DISABLE: "1"}  # the sandbox would keep the kernel from seeing any process outside it
    with local_cluster(2, env=off) as address:  # Dask's default allowed-failures: the scheduler retries
        remote = grade_all(subs, tmp_path / "cluster", limits, root=root, quiet=True, cluster=address)
    attempts = sorted(marks.iterdir())
    assert len(attempts) == 1, f"the hostile notebook ran {len(attempts)} times"
    killed = attempts[0].read_text()
    assert "multiprocessing" in killed and "dask worker" in killed.split(" started by ")[1], f"it killed {killed!r}"
    assert {r.message for r in remote["hostile"]} == {LOST}
    report = (tmp_path / "cluster" / "report.html").read_text()
    assert "Kernels were NOT isolated" in report, "the report says what the workers did, not the client"
    for name in learners:  # the learners queued on the lost worker were graded as usual
        mine = [(r.test, r.passed) for r in remote[name]]
        assert mine == [(r.test, r.passed) for r in local[name]], (name, [r.message[:300] for r in remote[name]])
    assert all(r.passed for r in local["good0"] if r.exercise == "90.1")
    assert not any(r.passed for r in local["wrong"] if r.exercise == "90.1")
