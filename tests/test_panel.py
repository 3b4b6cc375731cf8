"""The result panel: one row per behaviour, a hint toggle, a solution reveal, re-check."""

from __future__ import annotations

import pytest
from conftest import ROOT

from workbook import registry
from workbook.panel import Report
from workbook.results import Result, to_json, to_text

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
    assert rows[0] == {"chapter": "01", "exercise": "01.1", "behaviour": "behaviour one", "passed": True,
                       "message": "", "hint": "hint one"}  # fmt: skip


def test_widget_rows_hint_toggle_and_solution_reveal() -> None:
    report = Report(CHAPTER, EXERCISES, results(False))
    box = widgets.VBox(report._children())
    everything = walk(box)
    html = " ".join(w.value for w in everything if isinstance(w, widgets.HTML))
    assert "behaviour one" in html and "behaviour two" in html and "observed: b" in html
    hint = next(w for w in everything if isinstance(w, widgets.HTML) and "hint two" in w.value)
    assert hint.layout.display == "none"
    next(w for w in everything if isinstance(w, widgets.ToggleButton)).value = True
    assert hint.layout.display == ""
    button = next(w for w in everything if isinstance(w, widgets.Button) and "solution 01.2" in w.description)
    button.click()
    revealed = " ".join(w.value for w in walk(box) if isinstance(w, widgets.HTML))
    assert "Username = Annotated[str, Field(min_length=3" in revealed


def test_check_again_reruns_and_redraws() -> None:
    calls: list[int] = []

    def rerun() -> list[Result]:
        calls.append(1)
        return results(True)

    report = Report(CHAPTER, EXERCISES, results(False), rerun=rerun)
    report._box = widgets.VBox(report._children())
    again = next(w for w in walk(report._box) if isinstance(w, widgets.Button) and w.description == "check again")
    again.click()
    assert calls == [1] and report.passed
    assert "2/2 checks pass" in " ".join(w.value for w in walk(report._box) if isinstance(w, widgets.HTML))
