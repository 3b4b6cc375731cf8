"""Show check results: an ipywidgets panel in a live kernel, plain text everywhere else."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from workbook.notebooks import NotebookError, reveal
from workbook.registry import Chapter, Exercise
from workbook.results import Result, summary, to_text

_CSS_OK = "color:#1a7f37"
_CSS_BAD = "color:#cf222e"


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def _row(result: Result) -> Any:
    import ipywidgets as w

    icon, css = ("✔", _CSS_OK) if result.passed else ("✘", _CSS_BAD)
    head = w.HTML(
        f"<span style='{css};font-weight:bold'>{icon}</span> "
        f"<code>{result.exercise}</code> {html.escape(result.behaviour)}"
    )
    if result.passed:
        return head
    message = w.HTML(f"<pre style='margin:0 0 0 1.5em;white-space:pre-wrap'>{html.escape(result.message)}</pre>")
    hint_box = w.HTML(f"<div style='margin-left:1.5em'><b>Hint:</b> {html.escape(result.hint)}</div>")
    hint_box.add_class("workbook-hint")  # a handle for browser tests and custom CSS
    hint_box.layout.display = "none"
    toggle = w.ToggleButton(description="hint", icon="lightbulb-o", layout=w.Layout(width="80px"))

    def flip(change: dict[str, Any]) -> None:
        hint_box.layout.display = "" if change["new"] else "none"

    toggle.observe(flip, names="value")
    return w.VBox([w.HBox([head, toggle]), message, hint_box])


def _solution_button(chapter: Chapter, exercise: Exercise) -> Any:
    import ipywidgets as w

    out = w.HTML()
    button = w.Button(description=f"show solution {exercise.id}", icon="eye")

    def show(_: Any) -> None:
        try:
            code = reveal(chapter.solution, exercise.id)
        except NotebookError as exc:
            code = str(exc)
        out.value = f"<pre style='background:#f6f8fa;padding:6px'>{html.escape(code)}</pre>"

    button.on_click(show)
    return w.VBox([button, out])


class Report:
    """What ``check()`` returns: renders itself, and can re-run the same checks."""

    def __init__(
        self,
        chapter: Chapter,
        exercises: list[Exercise],
        results: list[Result],
        rerun: Callable[[], list[Result]] | None = None,
    ) -> None:
        self.chapter = chapter
        self.exercises = exercises
        self.results = results
        self._rerun = rerun
        self._box: Any = None

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def __repr__(self) -> str:
        return to_text(self.results)

    def _children(self) -> list[Any]:
        import ipywidgets as w

        colour = _CSS_OK if self.passed else _CSS_BAD
        title = w.HTML(
            f"<b>Chapter {self.chapter.id} · {html.escape(self.chapter.title)}</b> — "
            f"<span style='{colour}'>{summary(self.results)}</span>"
        )
        again = w.Button(description="check again", icon="refresh")
        again.on_click(lambda _: self.refresh())
        rows = [_row(r) for r in self.results]
        failing = {r.exercise for r in self.results if not r.passed}
        reveals = [_solution_button(self.chapter, ex) for ex in self.exercises if ex.id in failing]
        return [w.HBox([title, again]), *rows, *reveals]

    def refresh(self) -> None:
        """Re-run the checks and redraw the panel in place."""
        if self._rerun is not None:
            self.results = self._rerun()
        if self._box is not None:
            self._box.children = self._children()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if not _in_kernel():
            print(self)
            return
        import ipywidgets as w

        self._box = w.VBox(self._children(), layout=w.Layout(border="1px solid #d0d7de", padding="6px"))
        bundle = self._box._repr_mimebundle_()
        bundle["text/plain"] = to_text(self.results)  # for frontends without widgets
        display(bundle, raw=True)
