"""Show check results: an ipywidgets panel in a live kernel, plain text everywhere else.

Four kinds of row: correct (green), incorrect (red, with what was expected, what
the app answered and a hint button that reveals one hint per click), not attempted
(grey, quiet: an untouched exercise is not a mistake) and waiting on another exercise.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from workbook.notebooks import NotebookError, reveal
from workbook.registry import Chapter, Exercise
from workbook.results import CORRECT, INCORRECT, NOT_ATTEMPTED, WAITING, Result, summary, to_text

_COLOUR = {CORRECT: "#1a7f37", INCORRECT: "#cf222e", NOT_ATTEMPTED: "#6e7781", WAITING: "#9a6700"}
_ICON = {CORRECT: "✔", INCORRECT: "✘", NOT_ATTEMPTED: "○", WAITING: "…"}
_ROW_CSS = "white-space:normal;overflow-wrap:anywhere;line-height:1.4"


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def hint_ladder(result: Result, exercise: Exercise | None) -> list[str]:
    """What the hint button reveals, one per click: the check's own hint, then the exercise's."""
    ladder = [result.hint] if result.hint else []
    ladder += [h for h in (exercise.hints if exercise else ()) if h not in ladder]
    return ladder


class _Row:
    """One result row; remembers how many hints were opened across re-checks."""

    def __init__(self, result: Result, exercise: Exercise | None, opened: dict[str, int], note: bool = True) -> None:
        self.result, self.exercise, self.opened, self.note = result, exercise, opened, note
        self.key = f"{result.exercise}:{result.test or result.behaviour}"

    def widget(self) -> Any:
        import ipywidgets as w

        r = self.result
        colour = _COLOUR[r.state]
        label = "" if r.state in (CORRECT, INCORRECT) else f" <i style='color:{colour}'>— {html.escape(r.state)}</i>"
        head = w.HTML(
            f"<div style='{_ROW_CSS}'><span style='color:{colour};font-weight:bold'>{_ICON[r.state]}</span> "
            f"<code>{r.exercise}</code> {html.escape(r.behaviour)}{label}</div>",
            layout=w.Layout(flex="1 1 auto", min_width="0"),
        )
        head.add_class(f"workbook-{r.state.replace(' ', '-')}")
        if r.state == CORRECT:
            return head
        first = r.message.splitlines()[0] if r.message else ""
        if r.state != INCORRECT:  # quiet: one grey line, no hint button
            if not self.note:
                return head
            note = w.HTML(f"<div style='margin-left:1.5em;color:{colour};{_ROW_CSS}'>{html.escape(first)}</div>")
            return w.VBox([head, note])
        message = w.HTML(f"<pre style='margin:0 0 0 1.5em;white-space:pre-wrap'>{html.escape(r.message)}</pre>")
        return w.VBox([w.HBox([head, self._hints()], layout=w.Layout(align_items="flex-start")), message])

    def _hints(self) -> Any:
        import ipywidgets as w

        ladder = hint_ladder(self.result, self.exercise)
        shown = w.HTML()
        shown.add_class("workbook-hint")  # a handle for browser tests and custom CSS
        button = w.Button(layout=w.Layout(width="auto", flex="0 0 auto"), icon="lightbulb-o")
        box = w.VBox([button, shown], layout=w.Layout(flex="0 0 auto", max_width="45%"))

        def draw() -> None:
            n = self.opened.get(self.key, 0)
            items = "".join(f"<li>{html.escape(h)}</li>" for h in ladder[:n])
            shown.value = f"<ol style='margin:0;padding-left:1.4em;{_ROW_CSS}'>{items}</ol>" if n else ""
            button.disabled = n >= len(ladder)
            button.description = (
                "no more hints" if n >= len(ladder) else ("hint" if n == 0 else f"next hint ({n + 1}/{len(ladder)})")
            )

        def more(_: Any) -> None:
            self.opened[self.key] = min(self.opened.get(self.key, 0) + 1, len(ladder))
            draw()

        button.on_click(more)
        draw()
        return box


def _solution_button(chapter: Chapter, exercise: Exercise) -> Any:
    import ipywidgets as w

    out = w.HTML()
    button = w.Button(description=f"show solution {exercise.id} · {exercise.title}", icon="eye",
                      tooltip=f"the reference answer of exercise {exercise.id}",
                      layout=w.Layout(width="auto", max_width="100%"))  # fmt: skip

    def show(_: Any) -> None:
        try:
            code = reveal(chapter.solution, exercise.id)
        except NotebookError as exc:
            code = str(exc)
        out.value = f"<pre style='background:#f6f8fa;padding:6px;white-space:pre-wrap'>{html.escape(code)}</pre>"

    button.on_click(show)
    return w.VBox([button, out])


class Report:
    """What ``check()`` returns: renders itself, and can re-run the same checks."""

    def __init__(
        self,
        chapter: Chapter,
        exercises: list[Exercise],
        results: list[Result],
        rerun: Callable[[Callable[[int, int], None] | None], list[Result]] | None = None,
    ) -> None:
        self.chapter = chapter
        self.exercises = exercises
        self.results = results
        self._rerun = rerun
        self._box: Any = None
        self._opened: dict[str, int] = {}  # hint rows stay open across "check again"
        self.running = False

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def __repr__(self) -> str:
        return to_text(self.results)

    def _children(self) -> list[Any]:
        import ipywidgets as w

        colour = _COLOUR[CORRECT] if self.passed else _COLOUR[INCORRECT]
        title = w.HTML(
            f"<b>Chapter {self.chapter.id} · {html.escape(self.chapter.title)}</b> — "
            f"<span style='color:{colour}'>{summary(self.results)}</span>",
            layout=w.Layout(flex="1 1 auto"),
        )
        again = w.Button(description="check again", icon="refresh", layout=w.Layout(width="auto"))
        status = w.HTML()
        status.add_class("workbook-status")

        def click(_: Any) -> None:
            if self.running:  # a second click while a check runs does not queue another run
                return
            again.disabled, again.description, again.icon = True, "checking…", "spinner"
            status.value = "<i>running the checks against your app…</i>"

            def progress(done: int, total: int) -> None:
                status.value = f"<i>checking… {done}/{total} checks done</i>"

            self.refresh(progress)

        again.on_click(click)
        by_id = {ex.id: ex for ex in self.chapter.exercises}
        rows, noted = [], set()
        for r in self.results:  # a quiet row's note once per exercise, not on each of its rows
            rows.append(_Row(r, by_id.get(r.exercise), self._opened, note=(r.exercise, r.state) not in noted).widget())
            noted.add((r.exercise, r.state))
        unsolved = {r.exercise for r in self.results if r.state in (INCORRECT, NOT_ATTEMPTED)}
        reveals = [_solution_button(self.chapter, ex) for ex in self.exercises if ex.id in unsolved]
        return [w.HBox([title, again, status], layout=w.Layout(flex_flow="row wrap")), *rows, *reveals]

    def refresh(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Re-run the checks and redraw the panel in place."""
        self.running = True
        try:
            if self._rerun is not None:
                self.results = self._rerun(progress)
        finally:
            self.running = False
            if self._box is not None:
                self._box.children = self._children()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if not _in_kernel():
            print(self)
            return
        import ipywidgets as w

        self._box = w.VBox(self._children(), layout=w.Layout(border="1px solid #d0d7de", padding="6px"))
        self._box.add_class("workbook-panel")  # a stable handle for browser tests and custom CSS
        bundle = self._box._repr_mimebundle_()
        bundle["text/plain"] = to_text(self.results)  # for frontends without widgets
        display(bundle, raw=True)
