"""Which chapters run on this machine, and saying so politely where one does not.

A chapter lists the platforms it runs on in ``checks/registry.toml`` (``platforms =
["linux", "darwin"]``, values of ``sys.platform``; no field: every platform). WSL is Linux.
On another platform the chapter's first cell prints why (``platform_note("07")``) and its
checks answer "not available on this platform" instead of failing with a traceback.
"""

from __future__ import annotations

import sys

from workbook import registry
from workbook.results import Result

NAMES = {"linux": "Linux (WSL included)", "darwin": "macOS", "win32": "Windows"}
WHY = {  # what a chapter needs that some platform lacks, for the note
    "win32": "it runs POSIX tools (gunicorn, process groups, signals) that Windows does not have, and WSL does",
}


def current() -> str:
    """This machine's platform, as the registry writes it: linux, darwin or win32."""
    return "linux" if sys.platform.startswith("linux") else sys.platform


def supported(chapter: registry.Chapter, platform: str | None = None) -> bool:
    return not chapter.platforms or (platform or current()) in chapter.platforms


def explanation(chapter: registry.Chapter) -> str:
    """One polite paragraph: what this chapter runs on, why not here, what to do instead."""
    here = current()
    names = [NAMES.get(p, p) for p in chapter.platforms]
    where = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    reason = WHY.get(here, "it relies on operating-system features this platform does not have")
    return (
        f"Chapter {chapter.id} ({chapter.title}) runs on {where}, not on {NAMES.get(here, here)}: {reason}. "
        "You can read it and its solution here, but its server cells and its check() will not run. "
        "Use the Binder link in README.md (nothing to install) or one of those platforms."
    )


def platform_note(chapter_id: str | int) -> None:
    """For a chapter's first cell: print nothing where the chapter runs, an explanation elsewhere."""
    chapter = registry.chapter(chapter_id)
    if not supported(chapter):
        print(explanation(chapter))


def unavailable(chapter: registry.Chapter, exercises: list[registry.Exercise]) -> list[Result] | None:
    """One "not available on this platform" result per check, or None where the chapter runs."""
    if supported(chapter):
        return None
    why = f"not available on this platform. {explanation(chapter)}"
    return [Result(chapter.id, ex.id, c.behaviour, False, why, "", c.test) for ex in exercises for c in ex.checks]
