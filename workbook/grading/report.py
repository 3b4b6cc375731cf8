"""The instructor's HTML report: an overview table, then feedback for each learner.

One self-contained file (no scripts, no external CSS) that can be mailed or put on
a shared drive. Everything that came from a submission is escaped and cut short:
a notebook can print 10 MB or HTML of its own, and neither may reach the report
as more than a few lines of text.
"""

from __future__ import annotations

import time
from html import escape
from pathlib import Path

from workbook.grading.gradebook import exercise_scores, exercise_state
from workbook.registry import Chapter
from workbook.results import CORRECT, INCORRECT, NOT_ATTEMPTED, Result

MAX_MESSAGE = 1500
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}
th{background:#f3f3f3}.ok{background:#e8f5e9}.part{background:#fff8e1}.no{background:#ffebee}
pre{white-space:pre-wrap;margin:0;font-size:.85em;max-width:60em}h2{margin-top:2em;border-top:1px solid #ccc}
.note{color:#8d6e00}.na{background:#f3f3f3;color:#6e7781}
"""


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + f"\n… ({len(text) - MAX_MESSAGE} more characters)"


def _klass(score: float) -> str:
    return "ok" if score >= 1 else ("part" if score > 0 else "no")


def _anchor(name: str) -> str:
    return "learner-" + "".join(ch if ch.isalnum() else "-" for ch in name)


def _overview(by_learner: dict[str, list[Result]], exercises: list[str]) -> str:
    head = "".join(f"<th>{escape(ex)}</th>" for ex in exercises)
    rows = []
    for name, results in by_learner.items():
        score = exercise_scores(results)
        cells = "".join(
            '<td class="na" title="not attempted">–</td>' if exercise_state(results, ex) == NOT_ATTEMPTED
            else f'<td class="{_klass(score.get(ex, 0.0))}">{score.get(ex, 0.0):.2f}</td>'
            for ex in exercises
        )  # fmt: skip
        total = sum(score.get(ex, 0.0) for ex in exercises)
        link = f'<a href="#{_anchor(name)}">{escape(name)}</a>'
        rows.append(f"<tr><td>{link}</td>{cells}<td><b>{total:.2f}</b> / {len(exercises)}</td></tr>")
    return f"<table><tr><th>learner</th>{head}<th>total</th></tr>{''.join(rows)}</table>"


def _learner(name: str, results: list[Result], notes: list[str]) -> str:
    parts = [f'<h2 id="{_anchor(name)}">{escape(name)}</h2>']
    parts += [f'<p class="note">{escape(n)}</p>' for n in notes]
    score = exercise_scores(results)
    done = [ex for ex, s in score.items() if s >= 1]
    untouched = [ex for ex in score if exercise_state(results, ex) == NOT_ATTEMPTED]
    parts.append(f"<p>{len(done)} of {len(score)} exercises complete"
                 + (f", {len(untouched)} not attempted" if untouched else "") + ".</p>")  # fmt: skip
    rows = []
    for r in results:
        verdict = {CORRECT: "pass", INCORRECT: "FAIL"}.get(r.state, r.state)
        klass = {CORRECT: "ok", INCORRECT: "no"}.get(r.state, "na")
        detail = "" if r.passed else f"<pre>{escape(_short(r.message))}</pre>"
        hint = "" if r.state != INCORRECT or not r.hint else f"<br><i>hint: {escape(r.hint)}</i>"
        rows.append(
            f'<tr class="{klass}"><td>{escape(r.exercise)}</td><td>{verdict}</td>'
            f"<td>{escape(r.behaviour)}{detail}{hint}</td></tr>"
        )
    parts.append(f"<table><tr><th>exercise</th><th>verdict</th><th>behaviour</th></tr>{''.join(rows)}</table>")
    return "\n".join(parts)


def _page(title: str, body: list[str]) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def _isolation(isolation: str | None) -> str:
    if isolation is None:
        return "<p>Each kernel ran in a bubblewrap sandbox (its own files, private /tmp, own process tree).</p>"
    return (f'<p class="note"><b>Kernels were NOT isolated</b> ({escape(isolation)}): a notebook could read '
            "and change whatever the grader's user can.</p>")  # fmt: skip


def render_learner(name: str, results: list[Result], chapters: list[Chapter], notes: list[str]) -> str:
    """One learner's feedback, with nothing about anyone else: safe to hand to them."""
    titles = ", ".join(f"{c.id} {c.title}" for c in chapters)
    return _page(f"Feedback: {name}", [f"<p>Chapters {escape(titles)} · {time.strftime('%Y-%m-%d %H:%M')}</p>",
                                       _learner(name, results, notes)])  # fmt: skip


def render(by_learner: dict[str, list[Result]], chapters: list[Chapter], notes: dict[str, list[str]],
           isolation: str | None = None) -> str:  # fmt: skip
    exercises = [ex.id for c in chapters for ex in c.exercises]
    titles = ", ".join(f"{c.id} {c.title}" for c in chapters)
    body = [
        "<h1>Gradebook</h1>",
        f"<p>{len(by_learner)} learners · chapters {escape(titles)} · {time.strftime('%Y-%m-%d %H:%M')}</p>",
        "<p>Each cell is the share of an exercise's checks that pass. Verdicts were computed by the grader "
        "over HTTP against each learner's app, never by the learner's kernel.</p>",
        _isolation(isolation),
        _overview(by_learner, exercises),
        *(_learner(name, results, notes.get(name, [])) for name, results in by_learner.items()),
    ]
    return _page("Gradebook", body)


def write_report(by_learner: dict[str, list[Result]], chapters: list[Chapter], notes: dict[str, list[str]],
                 path: Path, isolation: str | None = None) -> None:  # fmt: skip
    path.write_text(render(by_learner, chapters, notes, isolation), encoding="utf-8")
