"""Every registered check is honest: it fails on the starter, passes on the solution,
and fails with its own message on a plausible wrong answer (graded the way
`workbook check --notebook` grades: a fresh kernel, verdicts computed out here)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT, replace_solution

from workbook import notebooks, projects, registry
from workbook.grading.execute import grade

CHAPTERS = registry.chapters(ROOT)
pytestmark = pytest.mark.slow


def _wrong_answers() -> list[tuple[registry.Chapter, dict]]:
    cases = []
    for chapter in CHAPTERS:
        path = ROOT / "tests" / "wrong_answers" / f"{chapter.stem}.toml"
        data = tomllib.loads(path.read_text()) if path.exists() else {"wrong": []}
        cases += [(chapter, wrong) for wrong in data["wrong"]]
    return cases


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_every_check_fails_on_the_starter(chapter: registry.Chapter) -> None:
    results = grade(chapter, chapter.notebook)
    passing = [f"{r.exercise} {r.test}" for r in results if r.passed]
    assert results and not passing, f"checks that pass on the untouched starter: {passing}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_every_check_passes_on_the_solution(chapter: registry.Chapter) -> None:
    results = grade(chapter, chapter.solution)
    failing = [f"{r.exercise} {r.test}: {r.message}" for r in results if not r.passed]
    assert results and not failing, "\n".join(failing)


def _case_id(value: object) -> str:
    return f"{value['exercise']}:{value['fails']}" if isinstance(value, dict) else ""


@pytest.mark.parametrize(("chapter", "wrong"), _wrong_answers(), ids=_case_id)
def test_a_wrong_answer_fails_with_its_message(chapter: registry.Chapter, wrong: dict, tmp_path: Path) -> None:
    nb = notebooks.read(chapter.solution)
    if "file" in wrong:  # a file exercise: the solved project, this one region wrong, next to the notebook
        _wrong_project(chapter, wrong, tmp_path)
    else:
        (index,) = notebooks.exercise_cells(nb)[wrong["exercise"]][:1]
        nb.cells[index].source = replace_solution(nb.cells[index].source, wrong["code"])
    path = tmp_path / chapter.solution.name
    notebooks.write(nb, path)
    results = {r.test: r for r in grade(chapter, path)}
    target = results[wrong["fails"]]
    assert not target.passed, f"{wrong['fails']} passed on a wrong answer"
    assert wrong["message"] in target.message, target.message
    others = [f"{r.test}: {r.message}" for r in results.values() if r.exercise != wrong["exercise"] and not r.passed]
    assert not others, "a wrong answer in one exercise broke another's checks:\n" + "\n".join(others)


def _wrong_project(chapter: registry.Chapter, wrong: dict, folder: Path) -> None:
    """Where ``projects.find`` looks from ``folder``: a copy of the solved project, one region replaced."""
    solved, learner = projects.PROJECTS[chapter.id]
    dest = folder / Path(learner).relative_to("notebooks")
    shutil.copytree(ROOT / solved, dest, ignore=shutil.ignore_patterns(*projects.SKIP_DIRS, "*.pyc", "*.sqlite3"))
    target = dest / wrong["file"]
    target.write_text(projects.with_solution(target.read_text(), wrong["exercise"], wrong["code"].strip("\n")))


def test_every_exercise_has_a_wrong_answer() -> None:
    covered = {(c.id, w["exercise"]) for c, w in _wrong_answers()}
    missing = [ex.id for c in CHAPTERS for ex in c.exercises if (c.id, ex.id) not in covered]
    assert not missing, f"exercises without a plausible wrong answer in tests/wrong_answers/: {missing}"
