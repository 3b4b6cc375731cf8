"""A learner's progress: the latest verdict of every check, kept between sessions.

``check()`` in a notebook and ``workbook check`` record what they found in
``.workbook/results.json`` under the workbook root; ``workbook progress`` and the
index notebook recompute chapters × exercises from it. No file yet means nothing
checked yet, never an error.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from workbook import registry
from workbook.results import NOT_ATTEMPTED as _NOT_ATTEMPTED
from workbook.results import Result

STATE = Path(".workbook") / "results.json"
NO_RECORD_ENV = "WORKBOOK_NO_RECORD"  # tests and CI: do not touch a learner's progress
DONE, TODO, NOT_ATTEMPTED, UNCHECKED = "done", "todo", "not attempted", "unchecked"


def state_path(root: Path | None = None) -> Path:
    return (root or registry.find_root()) / STATE


def load(root: Path | None = None) -> dict[str, Any]:
    """chapter id → exercise id → {check test: passed, "at": when}; {} when unreadable."""
    try:
        data = json.loads(state_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _is_solution_run(root: Path) -> bool:
    """Running a solution notebook (nbval, a curious learner) is not progress."""
    where = os.environ.get("JPY_SESSION_NAME") or str(Path.cwd())
    with contextlib.suppress(ValueError, OSError):
        return Path(where).resolve().is_relative_to((root / "solutions").resolve())
    return False


def record(results: list[Result], root: Path | None = None) -> None:
    """Merge ``results`` into the state file (atomically: a kernel and a terminal may both write)."""
    if not results or os.environ.get(NO_RECORD_ENV):
        return
    with contextlib.suppress(registry.RegistryError, OSError):
        root = root or registry.find_root()
        if _is_solution_run(root):
            return
        path = state_path(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = load(root)
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        for r in results:
            entry = data.setdefault(r.chapter, {}).setdefault(r.exercise, {})
            entry[r.test or r.behaviour] = bool(r.passed)
            entry["at"] = now
        for exercise in {r.exercise for r in results}:  # untouched starter cells: not a mistake
            rows = [r for r in results if r.exercise == exercise]
            entry = data[rows[0].chapter][exercise]
            entry["untouched"] = all(r.state == _NOT_ATTEMPTED for r in rows)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)


def forget(chapter_id: str, exercise_id: str | None = None, root: Path | None = None) -> None:
    """After a reset the old verdicts no longer describe the notebook: drop them."""
    data = load(root)
    if chapter_id not in data:
        return
    if exercise_id is None:
        del data[chapter_id]
    else:
        data[chapter_id].pop(exercise_id, None)
    path = state_path(root)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def status(chapter: registry.Chapter, data: dict[str, Any]) -> dict[str, str]:
    """exercise id → done / todo / unchecked, judged against today's registry."""
    found = data.get(chapter.id, {})
    out = {}
    for ex in chapter.exercises:
        seen = found.get(ex.id, {})
        verdicts = [seen.get(c.test) for c in ex.checks]
        if not seen or any(v is None for v in verdicts):
            out[ex.id] = UNCHECKED if all(v is None for v in verdicts) else TODO
        elif all(verdicts):
            out[ex.id] = DONE
        else:
            out[ex.id] = NOT_ATTEMPTED if seen.get("untouched") else TODO
    return out


MARK = {DONE: "✔", TODO: "✘", NOT_ATTEMPTED: "○", UNCHECKED: "·"}


def table(root: Path | None = None) -> str:
    """The whole workbook at a glance, one line per chapter."""
    data = load(root)
    lines, done_all, total_all = [], 0, 0
    for chapter in registry.chapters(root):
        st = status(chapter, data)
        done = sum(v == DONE for v in st.values())
        done_all, total_all = done_all + done, total_all + len(st)
        marks = "  ".join(f"{ex} {MARK[v]}" for ex, v in st.items())
        lines.append(f"{chapter.id}  {chapter.title[:40]:<40}  {done}/{len(st)}   {marks}")
    legend = "✔ done  ✘ not yet right  ○ not attempted  · not checked yet"
    lines.append(f"{done_all}/{total_all} exercises done   ({legend})")
    if not data:
        lines.append("No results yet: run check(\"01\") in a chapter, or `workbook check 01`.")
    return "\n".join(lines)


def html(root: Path | None = None) -> str:
    """The same table for the index notebook: one coloured cell per exercise."""
    from html import escape

    colour = {DONE: "#2e7d32", TODO: "#c62828", NOT_ATTEMPTED: "#6e7781", UNCHECKED: "#9e9e9e"}
    data = load(root)
    rows = []
    for chapter in registry.chapters(root):
        st = status(chapter, data)
        cells = "".join(
            f'<td style="color:{colour[v]};padding:0 .6em" title="{escape(v)}">{ex} {MARK[v]}</td>'
            for ex, v in st.items()
        )
        done = sum(v == DONE for v in st.values())
        rows.append(f"<tr><td><b>{chapter.id}</b> {escape(chapter.title)}</td><td>{done}/{len(st)}</td>{cells}</tr>")
    note = "" if data else "<p>No results yet: run <code>check(\"01\")</code> in a chapter.</p>"
    return f"<table>{''.join(rows)}</table>{note}"


def show() -> None:
    """Display the progress table in a notebook (plain text elsewhere)."""
    try:
        from IPython.display import HTML, display

        display(HTML(html()))
    except ImportError:  # pragma: no cover
        print(table())


def main(_: object = None) -> int:
    print(table())
    return 0
