"""Read exercise cells, reveal solutions, and derive a starter from a solution.

The solution notebook is the single source: each exercise cell (tagged
``exercise-NN.K``) holds its answer between ``### BEGIN SOLUTION`` and
``### END SOLUTION``, followed by the starter version as commented lines between
``### BEGIN STARTER`` and ``### END STARTER``. The starter notebook is generated.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

TAG_PREFIX = "exercise-"
_BLOCK = re.compile(
    r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(?P<solution>.*?)^[ \t]*### END SOLUTION[ \t]*\n?"
    r"(?:^[ \t]*### BEGIN STARTER[ \t]*\n(?P<starter>.*?)^[ \t]*### END STARTER[ \t]*\n?)?",
    re.MULTILINE | re.DOTALL,
)


class NotebookError(ValueError):
    """A notebook is missing or unreadable; the message says which and why."""


class Notebook(dict[str, Any]):
    """A notebook as plain JSON with attribute access (``nb.cells``, ``cell.source``).

    Plain ``json`` on purpose: importing nbformat pulls in jsonschema's format
    checkers, which cost about 2.5 s — too slow for a ``check()`` in a kernel.
    """

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Notebook({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def read(path: Path) -> Any:
    """Load a notebook; sources are joined into one string per cell."""
    if not path.is_file():
        raise NotebookError(f"notebook not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotebookError(f"{path} is not a valid notebook (not JSON): {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or data.get("nbformat") != 4:
        raise NotebookError(f"{path} is not a version-4 Jupyter notebook (no 'cells' list)")
    for cell in data["cells"]:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return _wrap(data)


def write(nb: Any, path: Path) -> None:
    """Write like nbformat does (indent 1, sorted keys), so diffs stay small."""
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def exercise_of(cell: Any) -> str | None:
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag.startswith(TAG_PREFIX):
            return tag[len(TAG_PREFIX) :]
    return None


def exercise_cells(nb: Any) -> dict[str, list[int]]:
    """Exercise id → indexes of its cells, in order."""
    found: dict[str, list[int]] = {}
    for index, cell in enumerate(nb.cells):
        ex = exercise_of(cell)
        if ex is not None:
            found.setdefault(ex, []).append(index)
    return found


def _uncomment(block: str) -> str:
    lines = []
    for line in block.splitlines(keepends=True):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith("# "):
            lines.append(indent + stripped[2:])
        elif stripped.startswith("#"):
            lines.append(indent + stripped[1:])
        else:
            lines.append(line)
    return "".join(lines)


def starter_source(source: str) -> str:
    """An exercise cell's source with each solution block swapped for its starter."""

    def swap(match: re.Match[str]) -> str:
        starter = match.group("starter")
        return _uncomment(starter) if starter is not None else "# YOUR CODE HERE\n"

    return _BLOCK.sub(swap, source)


def solution_code(source: str) -> str:
    """Only the answer: what the learner was asked to write."""
    blocks = [m.group("solution") for m in _BLOCK.finditer(source)]
    return "\n".join(b.rstrip("\n") for b in blocks) if blocks else source


def solved_source(source: str) -> str:
    """The whole exercise cell as the solution has it, without the markers and the starter.

    What "show solution" reveals: it reads as code (a function keeps its ``def`` line
    even when only its body was the exercise), not as loose answer blocks.
    """
    text = _BLOCK.sub(lambda m: m.group("solution"), source)
    lines = text.strip("\n").splitlines()
    if lines and "Exercise" in lines[0] and "TODO" in lines[0]:
        lines = lines[1:]  # the task line: the learner has read it already
    return "\n".join(lines).strip("\n")


def make_starter(solution: Any) -> Any:
    """The starter notebook: exercise cells swapped, every output stripped."""
    nb = copy.deepcopy(solution)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.get("metadata", {}).pop("execution", None)
            if exercise_of(cell) is not None:
                cell.source = starter_source(cell.source)
    nb.metadata.pop("widgets", None)
    return nb


def reveal(solution_path: Path, exercise_id: str) -> str:
    nb = read(solution_path)
    indexes = exercise_cells(nb).get(exercise_id)
    if not indexes:
        raise NotebookError(f"{solution_path.name} has no cell tagged {TAG_PREFIX}{exercise_id}")
    sources = [nb.cells[i].source for i in indexes]
    if not any(_BLOCK.search(s) for s in sources):  # a file exercise: the answer is in the project's file
        from workbook import projects

        dirs = projects.project_dirs(solution_path.resolve().parent.parent, exercise_id.split(".")[0])
        found = [r for r in projects.regions(dirs[0])] if dirs else []
        answers = [f"# {r.file}\n{r.solution.rstrip()}" for r in found if r.exercise == exercise_id]
        if answers:
            return "\n\n".join(answers)
    return "\n\n".join(solved_source(s) for s in sources)
