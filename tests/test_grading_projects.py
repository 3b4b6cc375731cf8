"""`workbook grade` for a chapter whose exercises are files (chapter 09): a submission is the
notebook *and* its ``09_service/`` folder next to it. The folder is what gets graded, a notebook
without it fails plainly, an edited project file is graded again (the cache key hashes the
folder), and the chapter's registry ``grade_timeout`` sets its time limit without a flag.

The submitted notebook keeps only the cells that serve the project's files (the checks read the
project through them, boot it with gunicorn and grade it over HTTP), so a run takes about a minute.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "grading_fixtures"))
import make  # noqa: E402

from workbook import notebooks, projects, registry  # noqa: E402
from workbook.grading.command import grade_all  # noqa: E402
from workbook.grading.limits import Limits  # noqa: E402
from workbook.results import Result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOLVED = ROOT / "app_skeleton" / "service"
LIMITS = Limits(cell_timeout=60, total_timeout=60, memory_mb=1500)


def _root(into: Path) -> Path:
    """A private workbook with only chapter 09 registered, and all of app_skeleton (Alembic's files too)."""
    root = make.workbook_root(into, "09")
    shutil.copytree(ROOT / "app_skeleton", root / "app_skeleton", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3"))  # fmt: skip
    projects.write(root / "app_skeleton" / "service", root / "notebooks" / "09_service" / "service")
    return root


def _notebook(root: Path) -> object:
    """The starter notebook up to the cell that serves the project's files (what the checks read)."""
    nb = notebooks.read(root / "notebooks" / "09_service.ipynb")
    last = next(i for i, c in enumerate(nb.cells) if "projects.files_app(project)" in c.source)
    nb.cells = nb.cells[: last + 1]
    return nb


def _solve(folder: Path, exercise: str) -> None:
    """Answer one exercise in a learner's project as the solution does (the rest stays the starter's)."""
    [region] = [r for r in projects.regions(SOLVED) if r.exercise == exercise]
    target = folder / "09_service" / "service" / region.file
    mine = target.read_text(encoding="utf-8")
    todo = mine.index(f"# ✏️ Exercise {exercise} — TODO")
    body = mine.index("\n", todo) + 1  # the starter's code follows the TODO line
    assert mine[body:].startswith(region.starter), (exercise, region.starter)
    target.write_text(mine[:body] + region.solution + mine[body + len(region.starter):], encoding="utf-8")


def _passing(results: list[Result]) -> set[str]:
    return {r.exercise for r in results if r.passed} - {r.exercise for r in results if not r.passed}


def test_the_registry_time_limit_raises_the_default_for_its_chapter_only() -> None:
    chapters = {c.id: c for c in registry.chapters(ROOT)}
    assert chapters["09"].grade_timeout == 300
    assert Limits().for_chapter(chapters["09"]).total_timeout == 300
    assert Limits().for_chapter(chapters["01"]) == Limits()  # no grade_timeout: the default
    assert Limits(total_timeout=900).for_chapter(chapters["09"]).total_timeout == 900  # a longer flag still wins


@pytest.mark.slow
def test_a_chapter_09_submission_is_graded_on_its_own_project_folder(tmp_path: Path) -> None:
    root = _root(tmp_path / "root")
    subs = tmp_path / "subs"
    nb = _notebook(root)
    for learner in ("with_folder", "notebook_only"):
        (subs / learner).mkdir(parents=True)
        notebooks.write(nb, subs / learner / "09_service.ipynb")
    shutil.copytree(root / "notebooks" / "09_service", subs / "with_folder" / "09_service")
    _solve(subs / "with_folder", "09.4")

    first = grade_all(subs, tmp_path / "out", LIMITS, workers=2, root=root, quiet=True)
    assert _passing(first["with_folder"]) == {"09.4"}, [(r.exercise, r.message[:200]) for r in first["with_folder"]]
    assert not _passing(first["notebook_only"])
    assert all("no 09_service/ folder next to 09_service.ipynb" in r.message for r in first["notebook_only"]), \
        first["notebook_only"][0].message  # fmt: skip

    _solve(subs / "with_folder", "09.1")  # the notebook is unchanged: only a project file was edited
    second, seen = make.regrade(subs, tmp_path / "out", LIMITS, root)
    assert seen == ["with_folder/09"]
    assert _passing(second["with_folder"]) == {"09.1", "09.4"}
