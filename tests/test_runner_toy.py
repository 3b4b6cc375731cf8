"""The check machinery on a toy workbook: cells that pass, fail, raise, loop forever,
call sys.exit and kill the kernel — each gives a failing verdict that says why."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbook import registry
from workbook.execute import grade

TOY = Path(__file__).parent / "toy"
pytestmark = pytest.mark.slow


def workbook_cmd(*args: str, root: Path = TOY) -> subprocess.CompletedProcess[str]:
    env = {**__import__("os").environ, "WORKBOOK_ROOT": str(root), "WORKBOOK_NO_RECORD": "1"}
    return subprocess.run(
        [sys.executable, "-m", "workbook", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def toy_results() -> dict[str, object]:
    chapter = registry.chapter("90", TOY)
    return {r.exercise: r for r in grade(chapter, chapter.notebook, cell_timeout=3)}


def test_a_passing_exercise_passes(toy_results: dict) -> None:
    assert toy_results["90.1"].passed


def test_a_failing_exercise_says_expected_and_observed(toy_results: dict) -> None:
    r = toy_results["90.2"]
    assert not r.passed
    assert "expected: 'toy'" in r.message and '"value":"not toy"' in r.message
    assert r.hint == "set VALUE['name'] = 'toy'"


def test_a_raising_cell_is_named_in_the_verdict(toy_results: dict) -> None:
    r = toy_results["90.3"]
    assert not r.passed and "your cell for 90.3 failed: ValueError: learner bug" in r.message


def test_an_endless_loop_is_interrupted_and_reported(toy_results: dict) -> None:
    r = toy_results["90.4"]
    assert not r.passed and "ran longer than 3 s and was interrupted" in r.message


def test_sys_exit_is_reported_and_later_cells_still_run(toy_results: dict) -> None:
    r = toy_results["90.5"]
    assert not r.passed and "SystemExit: 3" in r.message


def test_unregistered_checks_and_exercises_are_never_reported(toy_results: dict) -> None:
    assert set(toy_results) == {"90.1", "90.2", "90.3", "90.4", "90.5"}
    assert all(r.test != "test_not_registered" for r in toy_results.values())


def test_a_killed_kernel_fails_every_check_with_the_reason() -> None:
    proc = workbook_cmd("check", "91", "--json")
    assert proc.returncode == 1, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["passed"] is False and "the kernel died while running cell 2" in row["message"]
    assert set(row) == {"chapter", "exercise", "behaviour", "state", "passed", "message", "hint"}


def test_cli_exit_status_and_text_output() -> None:
    proc = workbook_cmd("check", "90", "--timeout", "3")
    assert proc.returncode == 1
    assert "[PASS] 90.1" in proc.stdout and "[FAIL] 90.2" in proc.stdout and "1/5 checks pass" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "42"], "unknown chapter '42'; valid ids: chapters 90 (90.1–90.5), 91 (91.1"),
        (["check", "90.7"], "unknown exercise '90.7'; valid ids: 90, 90.1, 90.2"),
        (["check", "90", "--notebook", "no/such.ipynb"], "notebook not found: no/such.ipynb"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(args: list[str], message: str) -> None:
    proc = workbook_cmd(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("content", ["{not json", '{"cells": "nope"}', ""])
def test_a_notebook_that_is_not_a_notebook_exits_2(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text(content)
    proc = workbook_cmd("check", "90", "--notebook", str(bad))
    assert proc.returncode == 2
    assert "bad.ipynb" in proc.stderr and "Traceback" not in proc.stderr


def test_all_passing_exits_0(tmp_path: Path) -> None:
    root = tmp_path / "toy"
    shutil.copytree(TOY, root)
    nb = json.loads((root / "notebooks" / "90_toy.ipynb").read_text())
    fixes = ['VALUE["answer"] = 42', 'VALUE["name"] = "toy"', 'VALUE["flag"] = True',
             'VALUE["loop"] = "done"', 'VALUE["exit"] = "no"']  # fmt: skip
    cells = [c for c in nb["cells"] if any(t.startswith("exercise-90.") for t in c["metadata"].get("tags", []))]
    for cell, fix in zip(cells, fixes, strict=False):
        cell["source"] = fix
    (root / "notebooks" / "90_toy.ipynb").write_text(json.dumps(nb))
    proc = workbook_cmd("check", "90", root=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5/5 checks pass" in proc.stdout


def test_the_grader_skips_demos_but_never_an_exercise(tmp_path: Path) -> None:
    """A ``workbook-demo`` cell (a load test no check needs) is not run when grading, so a slow
    machine cannot time it out; an exercise cell runs whatever tags a learner gives it."""
    chapter = registry.chapter("90", TOY)
    nb = json.loads(chapter.notebook.read_text())
    demo = {"cell_type": "code", "execution_count": None, "id": "demo", "outputs": [],
            "metadata": {"tags": ["workbook-demo"]}, "source": 'VALUE["answer"] = "spoiled by the demo"'}
    nb["cells"].insert(3, demo)  # after 90.1's cell: run, it would undo 90.1's answer
    nb["cells"][2]["metadata"]["tags"].append("workbook-demo")  # 90.1's own cell, tagged to be skipped
    path = tmp_path / "90_toy.ipynb"
    path.write_text(json.dumps(nb))
    results = {r.exercise: r for r in grade(chapter, path, [chapter.exercise("90.1")], cell_timeout=3)}
    assert results["90.1"].passed, results["90.1"].message
