"""The result panel: one row per behaviour, a hint toggle, a solution reveal, re-check."""

from __future__ import annotations

from html import escape

import pytest
from conftest import ROOT

from workbook import registry
from workbook.panel import Report
from workbook.results import NOT_ATTEMPTED, WAITING, Result, to_json, to_text

widgets = pytest.importorskip("ipywidgets")
CHAPTER = registry.chapter("01", ROOT)
EXERCISES = list(CHAPTER.exercises[:2])


def results(passed: bool) -> list[Result]:
    return [
        Result("01", "01.1", "behaviour one", True, "", "hint one"),
        Result("01", "01.2", "behaviour two", passed, "expected: a\nobserved: b", "hint two"),
    ]


def walk(widget: object) -> list[object]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += walk(child)
    return found


def test_text_output_names_each_behaviour_and_the_hint_of_failures() -> None:
    text = to_text(results(False))
    assert "[PASS] 01.1  behaviour one" in text and "[FAIL] 01.2  behaviour two" in text
    assert "observed: b" in text and "hint: hint two" in text and "hint one" not in text
    assert text.endswith("1/2 checks pass")


def test_json_output_has_the_documented_fields() -> None:
    import json

    rows = json.loads(to_json(results(True)))
    assert rows[0] == {"chapter": "01", "exercise": "01.1", "behaviour": "behaviour one", "state": "correct",
                       "passed": True, "message": "", "hint": "hint one"}  # fmt: skip


def three_states() -> list[Result]:
    return [
        Result("01", "01.1", "behaviour one", True, "", "hint one"),
        Result("01", "01.2", "behaviour two", False, "expected: a\nobserved: b", "hint two"),
        Result("01", "01.3", "behaviour three", False, "not attempted yet: still the starter", "h3",
               state=NOT_ATTEMPTED),
        Result("01", "01.4", "behaviour four", False, "waiting on 01.1: this check cannot pass", "h4", state=WAITING),
    ]  # fmt: skip


def test_text_and_json_tell_not_attempted_and_waiting_from_wrong() -> None:
    import json

    text = to_text(three_states())
    assert "[PASS] 01.1" in text and "[FAIL] 01.2" in text
    assert "[TODO] 01.3" in text and "[WAIT] 01.4" in text and "waiting on 01.1" in text
    assert "hint: h3" not in text and "hint: h4" not in text  # quiet rows: no hint
    assert text.endswith("1/4 checks pass (1 not attempted, 1 waiting)")
    states = [row["state"] for row in json.loads(to_json(three_states()))]
    assert states == ["correct", "incorrect", "not attempted", "waiting"]


def test_passed_wins_over_a_stale_state_label() -> None:
    assert Result("01", "01.1", "b", True, state=NOT_ATTEMPTED).state == "correct"
    assert Result("01", "01.1", "b", False, state="nonsense").state == "incorrect"


def test_panel_shows_quiet_rows_without_hint_buttons() -> None:
    report = Report(CHAPTER, list(CHAPTER.exercises[:4]), three_states())
    everything = walk(widgets.VBox(report._children()))
    html = " ".join(w.value for w in everything if isinstance(w, widgets.HTML))
    assert "— not attempted" in html and "— waiting" in html and "waiting on 01.1" in html
    hint_buttons = [w for w in everything if isinstance(w, widgets.Button) and "hint" in w.description]
    assert len(hint_buttons) == 1  # only the incorrect row
    solutions = [w.description for w in everything if isinstance(w, widgets.Button) and "solution" in w.description]
    assert solutions == [f"show solution {e.id} · {e.title}" for e in CHAPTER.exercises[1:3]]


def test_widget_rows_reveal_one_hint_per_click_and_the_solution_as_code() -> None:
    report = Report(CHAPTER, EXERCISES, results(False))
    box = widgets.VBox(report._children())
    everything = walk(box)
    html = " ".join(w.value for w in everything if isinstance(w, widgets.HTML))
    assert "behaviour one" in html and "behaviour two" in html and "observed: b" in html
    assert "hint two" not in html  # nothing revealed before a click
    button = next(w for w in everything if isinstance(w, widgets.Button) and w.description == "hint")
    ladder = ["hint two", *CHAPTER.exercise("01.2").hints]
    for clicks in range(1, len(ladder) + 1):
        button.click()
        shown = next(w for w in walk(box) if "workbook-hint" in w._dom_classes).value
        assert all(escape(h) in shown for h in ladder[:clicks])
        assert clicks == len(ladder) or escape(ladder[clicks]) not in shown
    assert button.disabled and button.description == "no more hints"
    reveal = next(w for w in everything if isinstance(w, widgets.Button) and "solution 01.2" in w.description)
    reveal.click()
    revealed = " ".join(w.value for w in walk(box) if isinstance(w, widgets.HTML))
    assert "Username = Annotated[str, Field(min_length=3" in revealed and "TODO" not in revealed


def test_check_again_reruns_redraws_and_keeps_open_hints() -> None:
    calls: list[int] = []

    def rerun(progress: object = None) -> list[Result]:
        calls.append(1)
        assert report.running  # a second click now is ignored, not queued
        return results(False) if len(calls) == 1 else results(True)

    report = Report(CHAPTER, EXERCISES, results(False), rerun=rerun)
    report._box = widgets.VBox(report._children())
    next(w for w in walk(report._box) if isinstance(w, widgets.Button) and w.description == "hint").click()

    def again() -> object:
        return next(w for w in walk(report._box) if isinstance(w, widgets.Button) and "check again" in w.description)

    again().click()
    shown = next(w for w in walk(report._box) if "workbook-hint" in w._dom_classes).value
    assert "hint two" in shown, "an open hint stays open after a re-check"
    again().click()
    assert calls == [1, 1] and report.passed and not report.running
    assert "2/2 checks pass" in " ".join(w.value for w in walk(report._box) if isinstance(w, widgets.HTML))


def test_only_a_slow_first_check_shows_a_progress_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chapter 01's check answers at once: no extra output in its cell (nbval compares it)."""
    import IPython.display

    from workbook import checking

    shown: list[object] = []

    class Handle:
        def update(self, obj: object) -> None:
            shown.append(obj)

    monkeypatch.setattr(checking, "_in_ipython", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=False: shown.append(obj) or Handle())
    status = checking._Status()
    status.update(1, 10)
    assert shown == [], "a check that is still fast shows nothing"
    status.started -= checking._Status.SHOW_AFTER
    status.update(2, 10)
    status.update(3, 10)
    assert len(shown) == 2 and "3/10" in shown[-1].data  # type: ignore[attr-defined]
    status.clear()
    assert shown[-1].data == ""  # type: ignore[attr-defined]
