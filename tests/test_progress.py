"""The learner's side: progress from recorded results, reset with a backup, watch on save.

Fast: no kernel starts here (watch gets a stand-in grader)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "grading_fixtures"))
import make  # noqa: E402

from workbook import notebooks, progress, registry  # noqa: E402
from workbook.cli import main  # noqa: E402
from workbook.reset import reset  # noqa: E402
from workbook.results import Result  # noqa: E402
from workbook.watch import watch  # noqa: E402


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    made = make.workbook_root(tmp_path / "wb")
    monkeypatch.setenv("WORKBOOK_ROOT", str(made))
    monkeypatch.delenv(progress.NO_RECORD_ENV, raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.chdir(made)
    return made


def results(chapter: registry.Chapter, passed: dict[str, bool]) -> list[Result]:
    return [
        Result(chapter.id, ex.id, c.behaviour, passed.get(ex.id, False), "", "", c.test)
        for ex in chapter.exercises
        if ex.id in passed
        for c in ex.checks
    ]


def test_progress_works_with_no_results(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "0/5 exercises done" in out and "No results yet" in out and "01.1 ·" in out


def test_progress_follows_the_latest_results(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chapter = registry.chapter("01", root)
    progress.record(results(chapter, {"01.1": True, "01.2": False}), root)
    progress.record(results(chapter, {"01.2": True, "01.3": False}), root)  # a later run wins
    assert progress.status(chapter, progress.load(root)) == {
        "01.1": "done", "01.2": "done", "01.3": "todo", "01.4": "unchecked", "01.5": "unchecked",
    }
    main(["progress"])
    assert "2/5 exercises done" in capsys.readouterr().out
    assert "01.3 ✘" in progress.table(root) and "✘" in progress.html(root)


def test_progress_tells_not_attempted_from_not_yet_right(root: Path) -> None:
    from dataclasses import replace

    from workbook.results import NOT_ATTEMPTED

    chapter = registry.chapter("01", root)
    rows = results(chapter, {"01.1": True, "01.2": False, "01.3": False})
    rows = [replace(r, state=NOT_ATTEMPTED) if r.exercise == "01.3" else r for r in rows]
    progress.record(rows, root)
    st = progress.status(chapter, progress.load(root))
    assert (st["01.1"], st["01.2"], st["01.3"]) == ("done", "todo", "not attempted")
    assert "01.3 ○" in progress.table(root) and "○ not attempted" in progress.table(root)
    assert "01.3 ○" in progress.html(root)
    progress.record(results(chapter, {"01.3": False}), root)  # edited now, still wrong
    assert progress.status(chapter, progress.load(root))["01.3"] == "todo"


def test_solution_runs_and_graders_do_not_count_as_progress(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chapter = registry.chapter("01", root)
    monkeypatch.chdir(root / "solutions")
    progress.record(results(chapter, {"01.1": True}), root)
    monkeypatch.chdir(root)
    monkeypatch.setenv(progress.NO_RECORD_ENV, "1")
    progress.record(results(chapter, {"01.1": True}), root)
    assert progress.load(root) == {}


def test_a_broken_state_file_means_no_results(root: Path) -> None:
    progress.state_path(root).parent.mkdir()
    progress.state_path(root).write_text("{ not json")
    assert progress.load(root) == {} and "0/5" in progress.table(root)


def _learner_edits(path: Path) -> None:
    nb = notebooks.read(path)
    for ex, code in (("01.2", "Username = str  # mine"), ("01.3", "Age = int  # mine")):
        nb.cells[notebooks.exercise_cells(nb)[ex][0]].source = code
    nb.cells[0].source += "\n\nmy own note"
    notebooks.write(nb, path)


def test_reset_one_exercise_keeps_every_other_cell_and_a_backup(root: Path, capsys: pytest.CaptureFixture) -> None:
    path = registry.chapter("01", root).notebook
    _learner_edits(path)
    mine = path.read_bytes()
    chapter = registry.chapter("01", root)
    progress.record(results(chapter, {"01.2": True, "01.3": True}), root)
    assert main(["reset", "01", "--exercise", "3"]) == 0
    assert progress.status(chapter, progress.load(root))["01.3"] == "unchecked", "old verdicts are dropped"
    assert progress.status(chapter, progress.load(root))["01.2"] == "done"
    out = capsys.readouterr().out
    (backup,) = path.parent.glob("01_models.backup-*.ipynb")
    assert str(backup) in out and backup.read_bytes() == mine
    nb, starter = notebooks.read(path), notebooks.read(make.ROOT / "notebooks" / "01_models.ipynb")
    cells = notebooks.exercise_cells(nb)
    assert nb.cells[cells["01.3"][0]].source == starter.cells[cells["01.3"][0]].source
    assert nb.cells[cells["01.2"][0]].source == "Username = str  # mine"
    assert nb.cells[0].source.endswith("my own note")


def test_reset_a_chapter_twice_keeps_both_backups(root: Path) -> None:
    chapter = registry.chapter("01", root)
    _learner_edits(chapter.notebook)
    first, _ = reset(chapter)
    second, _ = reset(chapter)
    assert first and second and first != second and first.exists() and second.exists()
    assert "# mine" in first.read_text() and "# mine" not in chapter.notebook.read_text()
    starter = notebooks.make_starter(notebooks.read(chapter.solution))
    assert [c.source for c in notebooks.read(chapter.notebook).cells] == [c.source for c in starter.cells]


def test_reset_an_exercise_whose_cell_was_deleted_says_what_to_do(root: Path, capsys) -> None:
    path = registry.chapter("01", root).notebook
    nb = notebooks.read(path)
    del nb.cells[notebooks.exercise_cells(nb)["01.4"][0]]
    notebooks.write(nb, path)
    before = path.read_bytes()
    assert main(["reset", "01", "--exercise", "01.4"]) == 2
    assert "workbook reset 01" in capsys.readouterr().err and path.read_bytes() == before


def test_watch_checks_at_start_and_after_each_save(root: Path) -> None:
    chapter = registry.chapter("01", root)
    calls: list[float] = []
    lines: list[str] = []

    def grader(ch: registry.Chapter, path: Path) -> list[Result]:
        calls.append(time.monotonic())
        return results(ch, {"01.1": True, "01.2": len(calls) > 1})

    def save_later() -> None:
        while not calls:
            time.sleep(0.01)
        time.sleep(0.2)
        os.utime(chapter.notebook, ns=(time.time_ns(), time.time_ns() + 10**9))

    threading.Thread(target=save_later, daemon=True).start()
    assert watch(chapter, chapter.notebook, interval=0.05, runs=2, grader=grader, out=lines.append) == 0
    text = "\n".join(lines)
    assert len(calls) == 2 and "✔ 01.1" in text and "✘ 01.2  0/2" in text and text.count("checking") == 2
    assert progress.status(chapter, progress.load(root))["01.2"] == "done"


def test_watch_stops_cleanly_on_ctrl_c(root: Path) -> None:
    chapter = registry.chapter("01", root)
    lines: list[str] = []

    def interrupted(ch: registry.Chapter, path: Path) -> list[Result]:
        raise KeyboardInterrupt

    assert watch(chapter, chapter.notebook, interval=0.05, grader=interrupted, out=lines.append) == 0
    assert lines[-1].strip() == "stopped watching"
