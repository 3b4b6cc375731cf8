"""Starter generation and solution reveal from the marker blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbook import notebooks

CELL = """# ✏️ Exercise 01.2 — TODO: a username type.
### BEGIN SOLUTION
Username = Annotated[str, Field(min_length=3)]  # why
### END SOLUTION
### BEGIN STARTER
# Username = str
### END STARTER
print(Username)
"""

INDENTED = """def f(v):
    ### BEGIN SOLUTION
    return v.lower()
    ### END SOLUTION
    ### BEGIN STARTER
    # return v
    ### END STARTER
"""


def test_starter_swaps_the_solution_for_the_uncommented_starter() -> None:
    expected = "# ✏️ Exercise 01.2 — TODO: a username type.\nUsername = str\nprint(Username)\n"
    assert notebooks.starter_source(CELL) == expected


def test_indented_blocks_keep_their_indentation() -> None:
    assert notebooks.starter_source(INDENTED) == "def f(v):\n    return v\n"


def test_solution_code_is_only_the_answer() -> None:
    assert notebooks.solution_code(CELL) == "Username = Annotated[str, Field(min_length=3)]  # why"


def test_read_rejects_what_is_not_a_notebook(tmp_path: Path) -> None:
    with pytest.raises(notebooks.NotebookError, match="not found"):
        notebooks.read(tmp_path / "missing.ipynb")
    (tmp_path / "x.ipynb").write_text("[1, 2]")
    with pytest.raises(notebooks.NotebookError, match="version-4"):
        notebooks.read(tmp_path / "x.ipynb")
    (tmp_path / "y.ipynb").write_bytes(b"\xff\xfe{")
    with pytest.raises(notebooks.NotebookError, match="not JSON"):
        notebooks.read(tmp_path / "y.ipynb")


def test_a_solution_without_starter_block_becomes_a_comment() -> None:
    source = "x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\n"
    assert notebooks.starter_source(source) == "x = 1\n# YOUR CODE HERE\n"
