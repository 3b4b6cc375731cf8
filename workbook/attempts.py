"""Which exercises a learner has not attempted yet, and which checks wait on another exercise.

An exercise is *not attempted* while its cells are still the starter's: in a saved
notebook that is the cell source itself; in a live kernel it is the last source that
ran for the exercise (IPython's input history), because the notebook on disk may be
minutes behind the screen. Whitespace at line ends and blank lines at the edges do
not count as an attempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbook import notebooks
from workbook.registry import Chapter
from workbook.results import NOT_ATTEMPTED, WAITING, Result

_MARKER = re.compile(r"Exercise\s+(\d+\.\d+)\b")


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def starters(chapter: Chapter) -> dict[str, list[str]]:
    """Exercise id → the normalised starter source of each of its cells (from the solution)."""
    try:
        nb = notebooks.read(chapter.solution)
    except notebooks.NotebookError:
        return {}
    found = {}
    for ex, indexes in notebooks.exercise_cells(nb).items():
        sources = [nb.cells[i].source for i in indexes]
        if any("### BEGIN SOLUTION" in s for s in sources):  # else there is no starter to compare with
            found[ex] = [_normal(notebooks.starter_source(s)) for s in sources]
    return found


def untouched_in_notebook(chapter: Chapter, nb: Any, folder: Path | None = None) -> set[str]:
    """Exercises whose cells in ``nb`` (a saved notebook) are still exactly the starter's; with the
    notebook's ``folder``, also the file exercises whose project file there is still the starter's."""
    expected = starters(chapter)
    found = notebooks.exercise_cells(nb)
    untouched = set()
    for ex, sources in expected.items():
        cells = [_normal(nb.cells[i].source) for i in found.get(ex, [])]
        if cells and sorted(cells) == sorted(sources):
            untouched.add(ex)
    return untouched | (untouched_in_project(chapter, folder) if folder is not None else set())


def untouched_in_history(chapter: Chapter, history: Iterable[str]) -> set[str]:
    """Exercises whose latest run in a kernel's input ``history`` was the starter's source.

    An exercise whose cell never ran (no source in the history names it) is not
    attempted either: its starter stub is all the app can have.
    """
    expected = starters(chapter)
    latest: dict[str, str] = {}
    for source in history:
        head = source.lstrip().split("\n", 1)[0]
        if (match := _MARKER.search(head)) and match.group(1) in expected:
            latest[match.group(1)] = _normal(source)
    untouched = set()
    for ex, sources in expected.items():
        ran = latest.get(ex)
        if ran is None or ran in sources:
            untouched.add(ex)
    return untouched


def untouched_in_project(chapter: Chapter, here: Path) -> set[str]:
    """File exercises (workbook/projects.py) whose region in the project next to ``here`` is still the starter's.

    The learner's copy has no markers left: a region is found from its TODO line to the line the
    solved file has after it (``projects.restore_region``), so two exercises in one file are told
    apart. The solved project (no copy next to ``here``) is never "not attempted".
    """
    from workbook import projects

    dirs = projects.project_dirs(chapter.root, chapter.id)
    if dirs is None or not (mine := here / Path(projects.PROJECTS[chapter.id][1]).relative_to("notebooks")).is_dir():
        return set()
    untouched = set()
    for region in projects.regions(dirs[0]):
        file = mine / region.file
        if not file.is_file():
            continue
        solved, text = (dirs[0] / region.file).read_text(encoding="utf-8"), file.read_text(encoding="utf-8")
        as_starter = projects.restore_region(solved, text, region.exercise) or projects.starter_text(solved)
        if _normal(text) == _normal(as_starter):  # restoring the region's starter would change nothing
            untouched.add(region.exercise)
    return untouched


def untouched_in_kernel(chapter: Chapter) -> set[str]:
    """The live kernel's view; empty outside IPython (nothing known, nothing claimed)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return set()
    shell = get_ipython()
    if shell is None:
        return set()
    history = untouched_in_history(chapter, shell.history_manager.input_hist_raw)
    return history | untouched_in_project(chapter, Path.cwd())  # file exercises: the saved file is what runs


def classify(chapter: Chapter, results: list[Result], untouched: set[str]) -> list[Result]:
    """Relabel failing rows: not attempted (cells untouched), or waiting on a needed exercise.

    The checks still ran: a row only changes its label, never its verdict.
    """
    solved = {
        ex.id for ex in chapter.exercises
        if (rows := [r for r in results if r.exercise == ex.id]) and all(r.passed for r in rows)
    }  # fmt: skip
    needs = {ex.id: ex.needs for ex in chapter.exercises}
    out = []
    for r in results:
        if r.passed:
            out.append(r)
        elif r.exercise in untouched:
            why = f"not attempted yet: the cell of exercise {r.exercise} is still the starter (its TODO is yours)"
            out.append(replace(r, state=NOT_ATTEMPTED, message=f"{why}\n{r.message}".rstrip()))
        elif blocking := [n for n in needs.get(r.exercise, ()) if n not in solved]:
            first = blocking[0]
            why = f"waiting on {first}: this check cannot pass until exercise {first} works"
            out.append(replace(r, state=WAITING, message=f"{why}\n{r.message}".rstrip()))
        else:
            out.append(r)
    return out
