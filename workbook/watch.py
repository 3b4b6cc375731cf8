"""``workbook watch NN``: re-check a chapter every time its notebook is saved.

The rustlings habit: keep a terminal beside JupyterLab, save, read one line per
exercise. It polls the file's modification time (no watchdog dependency, works on
every file system, including a JupyterHub's network home) and waits until a save
has settled before checking, because JupyterLab writes the file in more than one go.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from workbook import platforms, progress, registry
from workbook.notebooks import NotebookError, read
from workbook.results import Result, summary

Grader = Callable[[registry.Chapter, Path], list[Result]]


def _grade(chapter: registry.Chapter, path: Path, exercises: list[registry.Exercise] | None = None) -> list[Result]:
    from workbook.execute import grade

    return grade(chapter, path, exercises)


def brief(results: list[Result]) -> str:
    """One line per exercise: its mark and, if failing, the first line of why."""
    lines = []
    for ex in dict.fromkeys(r.exercise for r in results):
        rows = [r for r in results if r.exercise == ex]
        bad = [r for r in rows if not r.passed]
        if not bad:
            lines.append(f"  ✔ {ex}")
            continue
        why = (bad[0].message.strip().splitlines() or [bad[0].behaviour])[0][:110]
        lines.append(f"  ✘ {ex}  {len(rows) - len(bad)}/{len(rows)}  {why}")
    lines.append("  " + summary(results))
    return "\n".join(lines)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def watch(
    chapter: registry.Chapter,
    path: Path,
    interval: float = 0.5,
    runs: int | None = None,
    grader: Grader = _grade,
    out: Callable[[str], None] = print,
) -> int:
    """Check now, then after every save; stop after ``runs`` checks (None: until Ctrl-C)."""
    done = 0
    seen: tuple[int, int] | None = None
    out(f"watching {path} — save the notebook to re-check chapter {chapter.id}; Ctrl-C stops")
    try:
        while runs is None or done < runs:
            now = _stamp(path)
            if now is None or now == seen:
                time.sleep(interval)
                continue
            time.sleep(min(interval, 0.3))
            if _stamp(path) != now:  # still being written
                continue
            seen = now
            done += 1
            out(time.strftime("%H:%M:%S") + f"  checking {path.name}…")
            try:
                read(path)
                results = grader(chapter, path)
            except NotebookError as exc:  # a half-written or broken file: say so, keep watching
                out(f"  cannot read the notebook: {exc}")
                continue
            if path.resolve() == chapter.notebook.resolve():
                progress.record(results, chapter.root)
            out(brief(results))
    except KeyboardInterrupt:
        out("\nstopped watching")
    return 0


def main(args: argparse.Namespace) -> int:
    chapter, exercise = registry.resolve(args.chapter)  # `watch 01.2` re-checks exercise 01.2 only
    path = Path(args.notebook) if args.notebook else chapter.notebook
    if not path.exists():
        print(f"workbook: error: notebook not found: {path}", file=sys.stderr)
        return 2
    if not platforms.supported(chapter):
        print(f"not available on this platform. {platforms.explanation(chapter)}", file=sys.stderr)
        return 1
    grader: Grader = (lambda ch, p: _grade(ch, p, [exercise])) if exercise else _grade
    return watch(chapter, path, interval=args.interval, runs=args.runs, grader=grader)
