"""``workbook reset NN [--exercise K]``: start a chapter, or one exercise, over.

It never loses work: the learner's notebook is first copied, byte for byte, to
``<stem>.backup-<timestamp>.ipynb`` beside it (git ignores that pattern), and the
command prints where. The starter comes from the solution, as ``workbook starters``
makes it, so a reset exercise is exactly what a new learner sees.

A chapter with file exercises (chapter 09, ``workbook/projects.py``) resets its project too:
the whole folder for the chapter, only the exercise's region for one exercise (the rest of
the file is kept). The files it changes are first copied under ``.workbook/backups/<timestamp>/``
in the notebook's folder (git ignores ``.workbook/``), and it prints where.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from workbook import projects, registry
from workbook.notebooks import NotebookError, exercise_cells, make_starter, read, write


def backup(path: Path) -> Path:
    """Copy ``path`` to a new timestamped file next to it and return that file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.stem}.backup-{stamp}.ipynb")
    n = 1
    while target.exists():  # two resets in one second keep both backups
        target = path.with_name(f"{path.stem}.backup-{stamp}-{n}.ipynb")
        n += 1
    shutil.copy2(path, target)
    return target


def exercise_id(chapter: registry.Chapter, exercise: str) -> str:
    """Accept "3", "01.3" or "1.3" for exercise 01.3 (the registry's one id syntax)."""
    return chapter.exercise(exercise).id


def reset(chapter: registry.Chapter, exercise: str | None = None, path: Path | None = None) -> tuple[Path | None, str]:
    """Restore the starter (the notebook, and a chapter's project files); return (backup path or None, what changed)."""
    path = path or chapter.notebook
    saved, what = _reset_notebook(chapter, exercise, path)
    ex = exercise_id(chapter, exercise) if exercise is not None else None
    files = projects.reset(chapter.id, chapter.root, path.resolve().parent, ex)
    if files is not None:
        folder, changed = files
        what += f"\n{changed}" + (f"; the files as they were are saved under {folder}" if folder else "")
    return saved, what


def _reset_notebook(chapter: registry.Chapter, exercise: str | None, path: Path) -> tuple[Path | None, str]:
    starter = make_starter(read(chapter.solution))
    if not path.exists():
        write(starter, path)
        return None, f"{path} did not exist: wrote the starter"
    if exercise is None:
        saved = backup(path)
        write(starter, path)
        return saved, f"{path} is the starter of chapter {chapter.id} again"
    ex = exercise_id(chapter, exercise)
    try:
        nb = read(path)
    except NotebookError as exc:
        raise NotebookError(f"{exc}; reset the whole chapter instead: workbook reset {chapter.id}") from None
    mine = exercise_cells(nb).get(ex, [])
    fresh = [starter.cells[i] for i in exercise_cells(starter).get(ex, [])]
    if not mine:
        raise NotebookError(
            f"{path.name} has no cell tagged exercise-{ex} (deleted or re-tagged?); "
            f"reset the whole chapter instead: workbook reset {chapter.id}"
        )
    saved = backup(path)
    for index, cell in zip(mine, fresh, strict=False):
        nb.cells[index].source = cell.source
        nb.cells[index].outputs = []
        nb.cells[index].execution_count = None
    write(nb, path)
    return saved, f"exercise {ex} in {path} is back to its starter ({len(mine)} cell(s)); every other cell is untouched"


def main(args: argparse.Namespace) -> int:
    chapter, named = registry.resolve(args.chapter)  # `reset 01.3` is `reset 01 --exercise 3`
    exercise = args.exercise or (named.id if named else None)
    saved, what = reset(chapter, exercise, Path(args.notebook) if args.notebook else None)
    if not args.notebook or Path(args.notebook).resolve() == chapter.notebook.resolve():
        from workbook import progress

        progress.forget(chapter.id, exercise_id(chapter, exercise) if exercise else None, chapter.root)
    print(what)
    if saved is not None:
        print(f"your previous version is saved as {saved}")
    print("If the notebook is open in JupyterLab, reload it from disk (File → Reload Notebook from Disk).")
    return 0
