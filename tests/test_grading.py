"""`workbook grade`: every kind of bad submission gets a clear verdict, cheats gain
nothing, the submissions are byte-identical afterwards, and a re-run regrades only
what changed. The submissions are generated from the chapter 01 solution
(tests/grading_fixtures/make.py) into a private copy of the workbook."""

from __future__ import annotations

import csv
import hashlib
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "grading_fixtures"))
import make  # noqa: E402

from workbook import notebooks  # noqa: E402
from workbook.grading.command import grade_all  # noqa: E402
from workbook.grading.limits import Limits  # noqa: E402
from workbook.results import Result  # noqa: E402

LIMITS = Limits(cell_timeout=4, total_timeout=60, memory_mb=600)


def hashes(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("grading")
    root = make.workbook_root(base / "root")
    subs = base / "submissions"
    cases = make.build_all(subs, root)
    before = hashes(subs)
    # The file-editing cheat rewrites every grader copy of the checks under the temporary folder:
    # give this run its own, so that a grader running beside the tests is not its target.
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(base / "tmp")
    (base / "tmp").mkdir()
    try:
        results = grade_all(subs, base / "out", LIMITS, workers=2, root=root, quiet=True)
    finally:
        os.environ.pop("TMPDIR") if saved is None else os.environ.update(TMPDIR=saved)
    return {"cases": cases, "results": results, "before": before, "subs": subs, "out": base / "out", "root": root}


def passing(results: list[Result]) -> set[str]:
    return {e for e in make.EXERCISES if all(r.passed for r in results if r.exercise == e)}


@pytest.mark.slow
@pytest.mark.parametrize("learner", sorted(make.cases(Path("/nonexistent"))))
def test_each_submission_gets_its_verdict(graded: dict, learner: str) -> None:
    case, results = graded["cases"][learner], graded["results"][learner]
    assert len(results) == 10, "one row per registered check, whatever the notebook did"
    assert passing(results) == case.passes, [r.message[:200] for r in results if not r.passed][:3]
    for exercise, words in case.says.items():
        messages = [r.message for r in results if r.exercise == exercise]
        assert any(words in m for m in messages), messages


@pytest.mark.slow
def test_cheats_gain_nothing(graded: dict) -> None:
    checks = (graded["root"] / "checks" / "test_01_models.py").read_text()
    if make.sandboxed():  # the instructor's checks are not even visible from the kernel
        assert "expect" in checks, "a sandboxed kernel rewrote the instructor's checks"
    else:
        assert "    pass" in checks and "expect" not in checks, "the file-editing cheat really rewrote the checks"
    for learner in ("a_cheat_files", "a_cheat_runtime", "starter"):
        assert not any(r.passed for r in graded["results"][learner]), learner


@pytest.mark.slow
def test_submissions_are_byte_identical_after_grading(graded: dict) -> None:
    assert hashes(graded["subs"]) == graded["before"]


@pytest.mark.slow
def test_gradebook_csv_and_html_report(graded: dict) -> None:
    rows = {row["learner"]: row for row in csv.DictReader((graded["out"] / "gradebook.csv").open())}
    assert set(rows) == set(graded["cases"])
    assert rows["correct"]["total"] == "5.00" and rows["correct"]["out of"] == "5"
    assert rows["partial"]["01.2"] == "0.00" and rows["partial"]["total"] == "4.00"
    assert rows["starter"]["total"] == "0.00"
    html = (graded["out"] / "report.html").read_text()
    assert "learner-big-output" in html and "ignored the interrupt" in html
    assert len(html) < 2_000_000, "10 MB of learner output must not reach the report"
    assert "<script" not in html


@pytest.mark.slow
def test_a_rerun_regrades_only_changed_submissions(graded: dict, tmp_path: Path) -> None:
    root = make.workbook_root(tmp_path / "root")  # the cheats above rewrote the first one
    subs = tmp_path / "subs"
    make.build_all(subs, root, only={"correct", "partial", "not_json"})
    out = tmp_path / "out"
    first = grade_all(subs, out, LIMITS, workers=2, root=root, quiet=True)
    assert passing(first["partial"]) == make.EXERCISES - {"01.2"}
    nb = make.solution()  # the learner fixes 01.2 and submits again
    notebooks.write(nb, subs / "partial" / "01_models.ipynb")
    second, seen = make.regrade(subs, out, LIMITS, root)
    assert seen == ["partial/01"]
    assert passing(second["partial"]) == make.EXERCISES
    assert [r.passed for r in second["correct"]] == [r.passed for r in first["correct"]]


def test_cli_rejects_a_missing_submissions_folder(tmp_path: Path) -> None:
    from workbook.cli import main

    assert main(["grade", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2


def test_the_snapshot_holds_the_whole_app_skeleton_the_kernels_import() -> None:
    """Chapter 09's service is a package with subfolders and Alembic files: the kernels get all of it."""
    from workbook.grading.snapshot import take_snapshot

    root = Path(__file__).resolve().parent.parent
    snap = take_snapshot(root)
    for name in ("app_skeleton/auth.py", "app_skeleton/service/routers/users.py", "app_skeleton/service/alembic.ini",
                 "app_skeleton/service/migrations/env.py", "app_skeleton/service/migrations/script.py.mako"):
        assert snap.get(name) == (root / name).read_bytes(), name
    assert not [n for n in snap if "__pycache__" in n or n.endswith((".sqlite3", ".db"))]
