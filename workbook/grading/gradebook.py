"""What grading writes: the instructor's gradebook, one feedback file per learner, LMS imports.

- ``gradebook.csv``: learner × exercise (share of passing checks), a total per chapter, the total.
- ``results.json``: every row of every learner.
- ``learners/<name>.json`` and ``.html``: one learner's results only, so each can be handed out.
- ``canvas.csv`` and ``moodle.csv``: one column per chapter (points = exercises done), in the
  layouts those gradebooks import. A roster (``--roster``) maps submission names to LMS identities.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from workbook.registry import Chapter
from workbook.results import Result

# Canvas "Import" of a gradebook CSV: these five columns identify the student (Canvas matches on
# ID, then SIS User ID, then SIS Login ID), then one column per assignment; a second row starting
# "Points Possible" gives each assignment's maximum.
CANVAS_ID_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
# Moodle "Import grades → CSV file": any header; on import the instructor maps one column to a user
# field ("Email address" → useremail, or "ID number" → useridnumber) and each grade column to an item.
MOODLE_ID_COLUMNS = ("Email address", "ID number", "Full name")
ROSTER_COLUMNS = ("learner", "name", "email", "canvas_id", "sis_user_id", "sis_login_id", "section", "id_number")


def exercise_scores(results: list[Result]) -> dict[str, float]:
    """Exercise id → share of its checks that pass (1.0: done)."""
    per: dict[str, list[bool]] = {}
    for r in results:
        per.setdefault(r.exercise, []).append(r.passed)
    return {ex: sum(v) / len(v) for ex, v in per.items()}


def exercise_state(results: list[Result], exercise: str) -> str:
    """One word for an exercise: correct, incorrect, waiting or not attempted."""
    from workbook.results import CORRECT, INCORRECT, NOT_ATTEMPTED, WAITING

    states = {r.state for r in results if r.exercise == exercise}
    if states == {CORRECT}:
        return CORRECT
    if INCORRECT in states:
        return INCORRECT
    return WAITING if WAITING in states else NOT_ATTEMPTED


def chapter_points(results: list[Result], chapter: Chapter) -> float:
    score = exercise_scores(results)
    return sum(score.get(ex.id, 0.0) for ex in chapter.exercises)


def write_csv(by_learner: dict[str, list[Result]], chapters: list[Chapter], path: Path) -> None:
    exercises = [ex.id for c in chapters for ex in c.exercises]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["learner", *exercises, *(f"chapter {c.id}" for c in chapters), "total", "out of"])
        for name, results in by_learner.items():
            score = exercise_scores(results)
            per_chapter = [chapter_points(results, c) for c in chapters]
            writer.writerow([
                name,
                *(f"{score.get(ex, 0.0):.2f}" for ex in exercises),
                *(f"{v:.2f}" for v in per_chapter),
                f"{sum(per_chapter):.2f}",
                len(exercises),
            ])


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """learner (the submission's folder or zip name) → their LMS identity columns."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if rows and "learner" not in rows[0]:
        raise ValueError(f"{path}: the roster needs a 'learner' column (and any of {', '.join(ROSTER_COLUMNS[1:])})")
    return {row["learner"].strip(): {k: (v or "").strip() for k, v in row.items() if k} for row in rows}


def _assignment(chapter: Chapter) -> str:
    return f"Workbook {chapter.id} {chapter.title}"


def write_canvas(by_learner: dict[str, list[Result]], chapters: list[Chapter], roster: dict[str, dict[str, str]],
                 path: Path) -> None:  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*CANVAS_ID_COLUMNS, *(_assignment(c) for c in chapters)])
        writer.writerow(["Points Possible", "", "", "", "", *(len(c.exercises) for c in chapters)])
        for name, results in by_learner.items():
            who = roster.get(name, {})
            ids = [who.get("name") or name, who.get("canvas_id", ""), who.get("sis_user_id", ""),
                   who.get("sis_login_id", ""), who.get("section", "")]  # fmt: skip
            writer.writerow([*ids, *(f"{chapter_points(results, c):.2f}" for c in chapters)])


def write_moodle(by_learner: dict[str, list[Result]], chapters: list[Chapter], roster: dict[str, dict[str, str]],
                 path: Path) -> None:  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*MOODLE_ID_COLUMNS, *(_assignment(c) for c in chapters)])
        for name, results in by_learner.items():
            who = roster.get(name, {})
            ids = [who.get("email", ""), who.get("id_number", ""), who.get("name") or name]
            writer.writerow([*ids, *(f"{chapter_points(results, c):.2f}" for c in chapters)])


def learner_file_name(name: str) -> str:
    """A file name from a learner's name that cannot leave the folder."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).lstrip(".")
    return safe or "learner"


def learner_json(name: str, results: list[Result], chapters: list[Chapter], notes: list[str]) -> dict[str, object]:
    score = exercise_scores(results)
    return {
        "learner": name,
        "notes": notes,
        "chapters": {c.id: {"points": chapter_points(results, c), "out_of": len(c.exercises)} for c in chapters},
        "exercises": {
            ex.id: {
                "title": ex.title,
                "score": score.get(ex.id, 0.0),
                "state": exercise_state(results, ex.id),
                "checks": [
                    {"behaviour": r.behaviour, "state": r.state, "passed": r.passed,
                     "message": "" if r.passed else r.message, "hint": "" if r.passed else r.hint}  # fmt: skip
                    for r in results if r.exercise == ex.id
                ],
            }
            for c in chapters
            for ex in c.exercises
        },
    }


def write_all(out: Path, by_learner: dict[str, list[Result]], chapters: list[Chapter], notes: dict[str, list[str]],
              roster: dict[str, dict[str, str]], isolation: str | None) -> None:  # fmt: skip
    """Every output file; ``isolation`` is why kernels were not sandboxed (None: they were)."""
    from workbook.grading import report

    write_csv(by_learner, chapters, out / "gradebook.csv")
    (out / "results.json").write_text(
        json.dumps({n: [asdict(r) for r in rs] for n, rs in by_learner.items()}, indent=1), encoding="utf-8"
    )
    report.write_report(by_learner, chapters, notes, out / "report.html", isolation)
    folder = out / "learners"
    folder.mkdir(exist_ok=True)
    for name, results in by_learner.items():
        stem = learner_file_name(name)
        mine = learner_json(name, results, chapters, notes.get(name, []))
        (folder / f"{stem}.json").write_text(json.dumps(mine, indent=1), encoding="utf-8")
        (folder / f"{stem}.html").write_text(report.render_learner(name, results, chapters, notes.get(name, [])),
                                             encoding="utf-8")  # fmt: skip
    write_canvas(by_learner, chapters, roster, out / "canvas.csv")
    write_moodle(by_learner, chapters, roster, out / "moodle.csv")
