"""What every part of grading agrees on: the limits, a unit of work, and "every check fails".

One ``Limits`` (the CLI's defaults come from it), one ``Task``, one ``failing``: the
pool, the cluster, the worker and ``workbook check --notebook`` all use these.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from workbook import registry
from workbook.results import Result


@dataclass(frozen=True)
class Limits:
    """How long and how much one notebook may take (part of the cache key: changing one regrades)."""

    cell_timeout: float = 30.0
    total_timeout: float = 120.0
    memory_mb: float = 1024.0
    tmp_mb: float = 256.0  # the sandbox's private /tmp
    skip_demos: bool = True  # cells tagged workbook-demo: no check needs them (benchmarks/demo_verdicts.py)

    def for_chapter(self, chapter: registry.Chapter) -> Limits:
        """These limits for one chapter's notebook: its registry ``grade_timeout`` raises the total
        (chapter 09 boots gunicorn, migrates and runs a test suite), so no flag is needed for it."""
        if chapter.grade_timeout is None or chapter.grade_timeout <= self.total_timeout:
            return self
        return replace(self, total_timeout=chapter.grade_timeout)


@dataclass(frozen=True)
class Task:
    learner: str
    chapter: str
    notebook: str | None  # the temporary copy to run; None: the learner has no notebook for it
    why_missing: str = ""
    folder: str | None = None  # the learner's copy: the one folder their kernel may see and change
    hide: tuple[str, ...] = ()  # the instructor's folders (submissions, output, home): never visible to learner code
    content: bytes | None = None  # the notebook's bytes, read once while the learner was copied


def failing(
    chapter: registry.Chapter, why: str, exercises: list[registry.Exercise] | None = None
) -> list[Result]:
    """Every check of ``exercises`` (default: the chapter's) fails with the same reason:
    the notebook never ran usefully, so no check could look at it."""
    return [
        Result(chapter.id, ex.id, c.behaviour, False, why, c.hint, c.test)
        for ex in (exercises if exercises is not None else chapter.exercises)
        for c in ex.checks
    ]
