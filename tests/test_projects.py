"""File exercises (workbook/projects.py): the learner's project generated from the solved one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workbook import projects

ROOT = Path(__file__).resolve().parents[1]
MODULE = '''"""A module."""

import os

# ✏️ Exercise 99.1 — TODO: return the answer
### BEGIN SOLUTION
def answer() -> int:
    return 42
### END SOLUTION
### BEGIN STARTER
# def answer() -> int:
#     return 0
### END STARTER


def other() -> str:
    # ✏️ Exercise 99.2 — TODO: the home folder
    ### BEGIN SOLUTION
    return os.environ["HOME"]
    ### END SOLUTION
    ### BEGIN STARTER
    # return ""
    ### END STARTER
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    src = tmp_path / "solved"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text(MODULE, encoding="utf-8")
    (src / "alembic.ini").write_text("[alembic]\n", encoding="utf-8")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    (src / "service.sqlite3").write_bytes(b"SQLite format 3\0")
    return src


def test_the_copy_holds_every_file_but_caches_and_databases_with_starters_in_place(project: Path) -> None:
    out = projects.render(project)
    assert sorted(out) == ["alembic.ini", "pkg/mod.py"]
    text = str(out["pkg/mod.py"])
    assert "return 0" in text and 'return ""' in text and "42" not in text and "HOME" not in text
    assert "### BEGIN" not in text and "Exercise 99.1 — TODO" in text  # the task line stays for the learner


def test_regions_name_their_exercise_file_solution_and_starter(project: Path) -> None:
    found = projects.regions(project)
    assert [(r.exercise, r.file) for r in found] == [("99.1", "pkg/mod.py"), ("99.2", "pkg/mod.py")]
    assert "return 42" in found[0].solution and found[0].starter.strip().endswith("return 0")
    assert found[1].starter.strip() == 'return ""'


def test_stale_reports_changed_extra_and_missing_files_until_written_again(project: Path, tmp_path: Path) -> None:
    dest = tmp_path / "learner"
    assert projects.stale(project, dest) == ["alembic.ini", "pkg/mod.py"]
    projects.write(project, dest)
    assert projects.stale(project, dest) == []
    (dest / "__pycache__").mkdir(exist_ok=True)
    (dest / "pkg" / "run.sqlite3").write_bytes(b"x")  # what running the copy leaves: not a difference
    assert projects.stale(project, dest) == []
    (dest / "pkg" / "mod.py").write_text("edited\n", encoding="utf-8")
    (dest / "extra.py").write_text("", encoding="utf-8")
    (dest / "alembic.ini").unlink()
    assert projects.stale(project, dest) == ["alembic.ini", "extra.py", "pkg/mod.py"]


def test_a_wrong_answer_replaces_only_its_own_region(project: Path) -> None:
    text = (project / "pkg" / "mod.py").read_text(encoding="utf-8")
    wrong = projects.with_solution(text, "99.2", "    return '/'")
    assert "return '/'" in wrong and "HOME" not in wrong and "return 42" in wrong
    namespace: dict[str, object] = {}
    exec(compile(wrong, "mod.py", "exec"), namespace)  # still a valid module
    with pytest.raises(ValueError, match="99.3"):
        projects.with_solution(text, "99.3", "pass")


def test_find_prefers_the_learners_copy_next_to_the_notebook(tmp_path: Path) -> None:
    assert projects.find("09", ROOT / "solutions") == ROOT / "app_skeleton" / "service"
    assert projects.find("09", ROOT / "notebooks") == ROOT / "notebooks" / "09_service" / "service"


def test_a_notebook_without_its_folder_is_never_given_the_solved_project(tmp_path: Path, monkeypatch) -> None:
    """A graded copy of the notebook alone (the grader's sandbox) must fail, not run on the solution."""
    monkeypatch.setenv("WORKBOOK_ROOT", str(ROOT))
    with pytest.raises(FileNotFoundError, match="no 09_service/ folder next to this notebook"):
        projects.find("09", tmp_path)


def test_the_service_has_five_exercise_regions_and_its_learner_copy_is_current() -> None:
    solved, learner = projects.project_dirs(ROOT, "09") or (ROOT, ROOT)
    assert [r.exercise for r in sorted(projects.regions(solved), key=lambda r: r.exercise)] == [
        "09.1", "09.2", "09.3", "09.4", "09.5",
    ]  # fmt: skip
    assert projects.stale(solved, learner) == [], "run `workbook starters 09`"


def test_the_learners_copy_imports_as_its_own_package() -> None:
    """The starters keep the project importable: the app factory builds under the copy's name."""
    code = "from service.main import create_app; app = create_app(); print(app.title, len(app.routes))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT / "notebooks" / "09_service", capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("User API"), result.stderr


def test_package_names_the_folder_to_run_from_and_the_dotted_name() -> None:
    assert projects.package(ROOT / "app_skeleton" / "service") == (ROOT, "app_skeleton.service")
    assert projects.package(ROOT / "notebooks" / "09_service" / "service") == (
        ROOT / "notebooks" / "09_service", "service",
    )  # fmt: skip


def test_a_file_exercise_is_not_attempted_while_its_file_is_the_starters(tmp_path: Path) -> None:
    from workbook import attempts, registry

    chapter = registry.chapter("09", ROOT)
    assert attempts.untouched_in_project(chapter, ROOT / "solutions") == set()  # the solved project
    projects.write(ROOT / "app_skeleton" / "service", tmp_path / "09_service" / "service")
    assert attempts.untouched_in_project(chapter, tmp_path) == {"09.1", "09.2", "09.3", "09.4", "09.5"}
    users = tmp_path / "09_service" / "service" / "routers" / "users.py"
    users.write_text(users.read_text().replace("return found", "return user"))
    assert attempts.untouched_in_project(chapter, tmp_path) == {"09.2", "09.3", "09.4", "09.5"}  # 09.5: same file
    users.write_text(users.read_text().replace("# no welcome e-mail yet", "background_tasks.add_task(print)  #"))
    assert attempts.untouched_in_project(chapter, tmp_path) == {"09.2", "09.3", "09.4"}


def _solved_copy(project: Path, folder: Path) -> Path:
    """A learner's copy of ``project`` (in ``folder``) with both exercises answered, as a learner writes them."""
    projects.write(project, folder)
    mine = folder / "pkg" / "mod.py"
    text = projects.starter_text(MODULE)
    text = text.replace("    return 0\n", "    return 42  # mine\n").replace('return ""', "return '/home'  # mine")
    mine.write_text(text)
    return mine


def test_restoring_one_region_keeps_the_rest_of_the_file(project: Path, tmp_path: Path) -> None:
    mine = _solved_copy(project, tmp_path / "learner")
    text = mine.read_text(encoding="utf-8")
    first = projects.restore_region(MODULE, text, "99.1")
    assert first is not None and "return 0" in first and "return '/home'  # mine" in first and "42" not in first
    second = projects.restore_region(MODULE, first, "99.2")  # the last region of the file: up to its end
    assert second == projects.starter_text(MODULE)  # both restored: exactly the generated starter
    assert projects.restore_region(MODULE, second, "99.1") == second  # a starter region stays as it is
    assert projects.restore_region(MODULE, text.replace("# ✏️ Exercise 99.1", "# mine"), "99.1") is None


def test_reset_backs_up_then_restores_one_region_or_the_whole_project(tmp_path: Path) -> None:
    """`workbook reset 09.5` puts one region back and keeps the learner's file under .workbook/backups/."""
    from workbook import registry, reset

    chapter = registry.chapter("09", ROOT)
    solved = ROOT / "app_skeleton" / "service"
    notebook = tmp_path / "09_service.ipynb"
    reset.reset(chapter, None, notebook)  # a fresh start: the starter notebook and project
    mine = tmp_path / "09_service" / "service"
    assert projects.stale(solved, mine) == []
    users = mine / "routers" / "users.py"
    answered = users.read_text().replace("    # no welcome e-mail yet", "    background_tasks.add_task(print)  # mine")
    lookup = "    found = await session.get(User, user_id)"
    answered = answered.replace(lookup, lookup + "  # mine")
    users.write_text(answered)
    saved, what = reset.reset(chapter, "09.5", notebook)
    assert "routers/users.py" in what and saved is not None
    backups = sorted((tmp_path / ".workbook" / "backups").iterdir())
    assert (backups[-1] / "09_service" / "service" / "routers" / "users.py").read_text() == answered  # nothing lost
    now = users.read_text()
    assert "add_task(print)" not in now and "user_id)  # mine" in now  # 09.5 restored, 09.1's edit kept
    assert now == projects.restore_region((solved / "routers" / "users.py").read_text(), answered, "09.5")
    assert str(backups[-1]) in what
    (mine / "added.py").write_text("# mine\n")
    reset.reset(chapter, None, notebook)
    assert projects.stale(solved, mine) == []  # the whole project is the starter again
    latest = sorted((tmp_path / ".workbook" / "backups").iterdir())[-1]
    assert (latest / "09_service" / "service" / "added.py").exists()  # a file the learner added is kept too
