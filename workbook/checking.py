"""The notebook-facing calls: ``check("01.2")``, ``hint("01.2")``, ``solution("01.2")``."""

from __future__ import annotations

import os

from workbook import registry
from workbook.notebooks import reveal
from workbook.panel import Report
from workbook.platforms import unavailable
from workbook.results import Result

GRADING_ENV = "WORKBOOK_GRADING"


def check(what: str | int) -> Report | None:
    """Check one exercise ("01.2", "1.2") or a whole chapter ("01", "1") against the served apps."""
    if os.environ.get(GRADING_ENV):
        print(f"check({what!r}) skipped: the grader checks this notebook from outside the kernel")
        return None
    from workbook.runner import run_checks
    from workbook.serving import rebuild, running

    chapter, exercise = registry.resolve(what)
    exercises = [exercise] if exercise else list(chapter.exercises)
    if (not_here := unavailable(chapter, exercises)) is not None:
        report = Report(chapter, exercises, not_here, rerun=lambda: not_here)
        if not _in_ipython():
            print(report)
        return report

    checked: list[str] = []  # the apps of the first run: "check again" brings them back

    def run() -> list[Result]:
        try:
            rebuild(checked or None)
        except Exception as exc:  # the learner's latest cells do not build an app
            why = f"building your app raised {exc.__class__.__name__}: {exc}"
            return [
                Result(chapter.id, ex.id, c.behaviour, False, why, c.hint, c.test)
                for ex in exercises
                for c in ex.checks
            ]
        targets = running()
        checked[:] = checked or list(targets)
        return run_checks(chapter, exercises, targets)

    def run_and_record() -> list[Result]:
        from workbook.progress import record

        results = run()
        record(results, chapter.root)
        return results

    report = Report(chapter, exercises, run_and_record(), rerun=run_and_record)
    if not _in_ipython():
        print(report)  # a plain script or terminal: nothing would display the return value
    return report


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    return get_ipython() is not None


def _exercise(exercise_id: str | int) -> tuple[registry.Chapter, registry.Exercise]:
    """hint() and solution() need one exercise: "01.2" or "1.2", not a chapter."""
    chapter, exercise = registry.resolve(exercise_id)
    if exercise is None:
        raise registry.RegistryError(
            f"{str(exercise_id)!r} is a chapter; name one of its exercises: {chapter.valid_ids()}"
        )
    return chapter, exercise


def hint(exercise_id: str | int, level: int | None = None) -> None:
    """Print the exercise's hints, up to ``level`` (all of them by default)."""
    ex = _exercise(exercise_id)[1]
    shown = ex.hints[: level or len(ex.hints)]
    for number, text in enumerate(shown, 1):
        print(f"Hint {number}/{len(ex.hints)}: {text}")
    if not ex.hints:
        print("No hints for this exercise; run check() and read what it expected.")


def solution(exercise_id: str | int) -> None:
    """Show the reference answer, read from the solution notebook."""
    chapter, ex = _exercise(exercise_id)
    code = reveal(chapter.solution, ex.id)
    try:
        from IPython.display import Markdown, display

        display(Markdown(f"**Solution {ex.id}**\n```python\n{code}\n```"))
    except ImportError:  # pragma: no cover
        print(code)
