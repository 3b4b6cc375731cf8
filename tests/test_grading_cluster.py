"""`workbook grade --cluster`: a real Dask scheduler and two workers on loopback grade the same toy
submissions as a local run, and every output file says the same (the report's timestamp aside)."""

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
from workbook.grading.cluster import local_cluster  # noqa: E402
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
