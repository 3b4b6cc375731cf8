"""Not attempted, waiting, incorrect: an untouched exercise is told apart from a wrong one,
and a check that depends on another exercise says so instead of repeating its failure."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import ROOT

from workbook import attempts, checking, notebooks, registry
from workbook.results import CORRECT, INCORRECT, NOT_ATTEMPTED, WAITING, Result

CHAPTERS = registry.chapters(ROOT)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_the_starter_is_untouched_and_the_solution_is_not(chapter: registry.Chapter) -> None:
    every = {ex.id for ex in chapter.exercises}
    folders = (chapter.notebook.parent, chapter.solution.parent)  # file exercises: the project next to it
    assert attempts.untouched_in_notebook(chapter, notebooks.read(chapter.notebook), folders[0]) == every
    assert attempts.untouched_in_notebook(chapter, notebooks.read(chapter.solution), folders[1]) == set()


def test_one_edited_line_is_an_attempt_but_trailing_spaces_are_not() -> None:
    chapter = registry.chapter("01", ROOT)
    nb = notebooks.read(chapter.notebook)
    cells = notebooks.exercise_cells(nb)
    first, second = cells["01.1"][0], cells["01.2"][0]
    nb.cells[first].source = nb.cells[first].source.replace("\n", "   \n") + "\n\n"
    nb.cells[second].source += "\nUsername = str  # my try"
    untouched = attempts.untouched_in_notebook(chapter, nb)
    assert "01.1" in untouched and "01.2" not in untouched


def test_the_kernel_history_decides_by_the_latest_run_of_each_exercise() -> None:
    chapter = registry.chapter("01", ROOT)
    nb = notebooks.read(chapter.notebook)
    starter = {ex: nb.cells[i[0]].source for ex, i in notebooks.exercise_cells(nb).items()}
    history = ["import workbook", starter["01.1"], starter["01.2"], starter["01.2"] + "\n# tried", starter["01.3"],
               starter["01.3"].replace("Age", "Age ")]  # fmt: skip
    history.append(starter["01.3"])  # back to the starter: not attempted again
    untouched = attempts.untouched_in_history(chapter, history)
    assert "01.1" in untouched and "01.2" not in untouched and "01.3" in untouched
    assert {e.id for e in chapter.exercises} - {"01.1", "01.2", "01.3"} <= untouched  # never ran


def _rows(chapter: registry.Chapter, passing: set[str]) -> list[Result]:
    return [Result(chapter.id, ex.id, c.behaviour, ex.id in passing, "expected x, got y", c.hint, c.test)
            for ex in chapter.exercises for c in ex.checks]  # fmt: skip


def test_classify_labels_without_changing_a_verdict() -> None:
    base = registry.chapter("01", ROOT)
    first, second, third = base.exercises[:3]
    chapter = replace(base, exercises=(first, replace(second, needs=(first.id,)), third))
    rows = attempts.classify(chapter, _rows(chapter, passing=set()), untouched={first.id})
    state = {r.exercise: r.state for r in rows}
    assert state == {first.id: NOT_ATTEMPTED, second.id: WAITING, third.id: INCORRECT}
    waiting = next(r for r in rows if r.exercise == second.id)
    assert waiting.message.startswith(f"waiting on {first.id}") and "expected x, got y" in waiting.message
    assert not any(r.passed for r in rows)
    solved_first = attempts.classify(chapter, _rows(chapter, passing={first.id}), untouched=set())
    assert {r.exercise: r.state for r in solved_first}[second.id] == INCORRECT  # not waiting any more
    all_pass = attempts.classify(chapter, _rows(chapter, passing={e.id for e in chapter.exercises}), {first.id})
    assert {r.state for r in all_pass} == {CORRECT}


def test_registry_needs_name_earlier_exercises_of_the_same_chapter() -> None:
    for chapter in CHAPTERS:
        order = [e.id for e in chapter.exercises]
        for ex in chapter.exercises:
            for need in ex.needs:
                assert need in order[: order.index(ex.id)], f"{ex.id} needs {need}: not an earlier exercise"


def test_hint_reveals_one_per_call_and_a_chosen_one(capsys: pytest.CaptureFixture[str]) -> None:
    ex = registry.chapter("01", ROOT).exercise("01.2")
    checking._HINTS_SHOWN.pop(ex.id, None)
    total = len(ex.hints)
    for n in range(1, total + 1):
        checking.hint(ex.id)
        out = capsys.readouterr().out
        assert f"Hint {n}/{total} for 01.2: {ex.hints[n - 1]}" in out
        assert all(h not in out for i, h in enumerate(ex.hints) if i != n - 1)
    assert "last hint" in out and "solution('01.2')" in out
    checking.hint(ex.id)  # past the end: the last one again, not an error
    assert ex.hints[-1] in capsys.readouterr().out
    checking.hint(ex.id, 1)
    assert ex.hints[0] in capsys.readouterr().out
    with pytest.raises(ValueError, match=f"hints 1 to {total}"):
        checking.hint(ex.id, total + 1)
