"""The notebook-facing calls: ``check("01.2")``, ``hint("01.2")``, ``solution("01.2")``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from workbook import registry
from workbook.notebooks import reveal
from workbook.panel import Report
from workbook.platforms import unavailable
from workbook.results import Result

GRADING_ENV = "WORKBOOK_GRADING"


def _with_needs(chapter: registry.Chapter, wanted: list[registry.Exercise]) -> list[registry.Exercise]:
    """``wanted`` plus the exercises they need (to tell "waiting on 01.1" from "wrong")."""
    ids = {ex.id for ex in wanted}
    for ex in wanted:
        ids.update(ex.needs)
    return [ex for ex in chapter.exercises if ex.id in ids]


def check(what: str | int) -> Report | None:
    """Check one exercise ("01.2", "1.2") or a whole chapter ("01", "1") against the served apps."""
    if os.environ.get(GRADING_ENV):
        print(f"check({what!r}) skipped: the grader checks this notebook from outside the kernel")
        return None
    from workbook import mutation
    from workbook.attempts import classify, untouched_in_kernel
    from workbook.grading.limits import failing
    from workbook.runner import run_checks
    from workbook.serving import rebuild, running

    chapter, exercise = registry.resolve(what)
    exercises = [exercise] if exercise else list(chapter.exercises)
    if (not_here := unavailable(chapter, exercises)) is not None:
        def same(_: Callable[[int, int], None] | None = None) -> list[Result]:
            return not_here

        report = Report(chapter, exercises, not_here, rerun=same)
        if not _in_ipython():
            print(report)
        return report
    wanted = {ex.id for ex in exercises}
    to_run = _with_needs(chapter, exercises)

    checked: list[str] = []  # the apps of the first run: "check again" brings them back
    status = _Status()

    def run(progress: Callable[[int, int], None] | None = None) -> list[Result]:
        mutation.keep_warm = True  # in this kernel, the next check() reuses chapter 08's test runner
        try:
            rebuild(checked or None)
        except Exception as exc:  # the learner's latest cells do not build an app
            results = failing(chapter, f"building your app raised {exc.__class__.__name__}: {exc}", to_run)
        else:
            targets = running()
            checked[:] = checked or list(targets)
            results = run_checks(chapter, to_run, targets, progress=progress or status.update)
        status.clear()
        results = classify(chapter, results, untouched_in_kernel(chapter))
        return [r for r in results if r.exercise in wanted]

    def run_and_record(progress: Callable[[int, int], None] | None = None) -> list[Result]:
        from workbook.dashboard.report import report
        from workbook.progress import record

        results = run(progress)
        record(results, chapter.root)
        report(results)  # the instructor's dashboard, when the hub switched it on: queued, never waited for
        return results

    report = Report(chapter, exercises, run_and_record(), rerun=run_and_record)
    if not _in_ipython():
        print(report)  # a plain script or terminal: nothing would display the return value
    return report


class _Status:
    """A one-line "checking 3/10…" that a slow chapter (07 boots processes) shows while it runs.

    Only once a run has taken ``SHOW_AFTER`` seconds: a fast chapter's cell gets no flicker
    and no extra output (nbval compares chapter 01's check cell).
    """

    SHOW_AFTER = 1.5

    def __init__(self) -> None:
        self.handle: Any = None
        self.started = time.monotonic()

    def update(self, done: int, total: int) -> None:
        if not _in_ipython() or (self.handle is None and time.monotonic() - self.started < self.SHOW_AFTER):
            return
        from IPython.display import HTML, display

        text = HTML(f"<i>checking… {done}/{total} checks done</i>")
        if self.handle is None:
            self.handle = display(text, display_id=True)
        else:
            self.handle.update(text)

    def clear(self) -> None:
        self.started = time.monotonic()  # "check again" starts a new run
        if self.handle is not None:
            from IPython.display import HTML

            self.handle.update(HTML(""))
            self.handle = None


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


_HINTS_SHOWN: dict[str, int] = {}  # exercise id → hints revealed so far in this kernel


def hint(exercise_id: str | int, number: int | None = None) -> None:
    """Reveal the next hint of an exercise (one per call), or hint ``number`` itself.

    One at a time on purpose: the first hint nudges, the last one names the concept
    or the docs page; ``solution()`` is there for the answer itself.
    """
    ex = _exercise(exercise_id)[1]
    if not ex.hints:
        print("No hints for this exercise; run check() and read what it expected.")
        return
    total = len(ex.hints)
    if number is None:
        number = min(_HINTS_SHOWN.get(ex.id, 0) + 1, total)
    elif not 1 <= number <= total:
        raise ValueError(f"exercise {ex.id} has hints 1 to {total}; there is no hint {number}")
    _HINTS_SHOWN[ex.id] = max(_HINTS_SHOWN.get(ex.id, 0), number)
    print(f"Hint {number}/{total} for {ex.id}: {ex.hints[number - 1]}")
    if number < total:
        print(f"(hint({ex.id!r}) again for the next one)")
    else:
        print(f"That was the last hint. solution({ex.id!r}) shows the reference answer.")


def solution(exercise_id: str | int) -> None:
    """Show the reference answer, read from the solution notebook."""
    chapter, ex = _exercise(exercise_id)
    code = reveal(chapter.solution, ex.id)
    try:
        from IPython.display import Markdown, display

        display(Markdown(f"**Solution {ex.id}**\n```python\n{code}\n```"))
    except ImportError:  # pragma: no cover
        print(code)
