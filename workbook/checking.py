"""The notebook-facing calls: ``check("01.2")``, ``hint("01.2")``, ``solution("01.2")``."""

from __future__ import annotations

import os

from workbook import registry
from workbook.notebooks import reveal
from workbook.panel import Report
from workbook.results import Result

GRADING_ENV = "WORKBOOK_GRADING"


def check(what: str) -> Report | None:
    """Check one exercise ("01.2") or a whole chapter ("01") against the served apps."""
    if os.environ.get(GRADING_ENV):
        print(f"check({what!r}) skipped: the grader checks this notebook from outside the kernel")
        return None
    from workbook.runner import run_checks
    from workbook.serving import rebuild, running

    chapter = registry.chapter(what)
    exercises = [chapter.exercise(what)] if "." in what else list(chapter.exercises)

    def run() -> list[Result]:
        try:
            rebuild()
        except Exception as exc:  # the learner's latest cells do not build an app
            why = f"building your app raised {exc.__class__.__name__}: {exc}"
            return [
                Result(chapter.id, ex.id, c.behaviour, False, why, c.hint, c.test)
                for ex in exercises
                for c in ex.checks
            ]
        return run_checks(chapter, exercises, running())

    def run_and_record() -> list[Result]:
        from workbook.progress import record

        results = run()
        record(results, chapter.root)
        return results

    return Report(chapter, exercises, run_and_record(), rerun=run_and_record)


def hint(exercise_id: str, level: int | None = None) -> None:
    """Print the exercise's hints, up to ``level`` (all of them by default)."""
    ex = registry.chapter(exercise_id).exercise(exercise_id)
    shown = ex.hints[: level or len(ex.hints)]
    for number, text in enumerate(shown, 1):
        print(f"Hint {number}/{len(ex.hints)}: {text}")
    if not ex.hints:
        print("No hints for this exercise; run check() and read what it expected.")


def solution(exercise_id: str) -> None:
    """Show the reference answer, read from the solution notebook."""
    chapter = registry.chapter(exercise_id)
    chapter.exercise(exercise_id)
    code = reveal(chapter.solution, exercise_id)
    try:
        from IPython.display import Markdown, display

        display(Markdown(f"**Solution {exercise_id}**\n```python\n{code}\n```"))
    except ImportError:  # pragma: no cover
        print(code)
