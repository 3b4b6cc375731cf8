"""``%%tests 08.1``: a notebook cell that is a test *file* — run with pytest, and kept for the checks.

Why not only ``%%ipytest``: ipytest runs the tests defined in the notebook's own namespace, so
they can lean on anything an earlier cell defined, and there is no file a grader could run
against other versions of the app. A ``%%tests`` cell is written to a fresh folder as a test
file of its own and run there with ``pytest.main`` (the fixtures come from a pytest plugin, ``-p``),
exactly as a terminal run of that file would; its source is recorded in ``SOURCES`` so the
chapter's app can serve it at ``GET /exercises/08.K`` for the checks to fetch.

Load it with ``%load_ext workbook.pytest_cells``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from workbook.runner import quiet_pytest_env

SOURCES: dict[str, str] = {}  # exercise id → the source of its last-run %%tests cell
PLUGIN = "app_skeleton.ch08_testing"
FLAGS = ["-q", "--no-header", "--color=no", "-p", "no:cacheprovider", "-p", "no:faulthandler",
         "-p", "no:unraisableexception", "-p", "no:threadexception", "-W", "ignore::DeprecationWarning",
         "-W", "ignore::pytest.PytestAssertRewriteWarning"]  # fmt: skip


def run_file(source: str, name: str = "test_cell.py", plugin: str = PLUGIN, extra: list[str] | None = None) -> int:
    """Write ``source`` as ``name`` in a fresh folder and run pytest on it here; pytest's exit status."""
    import pytest

    with tempfile.TemporaryDirectory(prefix="workbook-tests-") as folder:
        path = Path(folder) / name
        path.write_text(source, encoding="utf-8")
        args = [str(path), *FLAGS, "-p", plugin, "--rootdir", folder, "-c", os.devnull,
                "--basetemp", str(Path(folder) / "tmp"), *(extra or [])]  # fmt: skip
        before = set(sys.modules)
        try:
            with quiet_pytest_env():
                return int(pytest.main(args))
        finally:
            for module in set(sys.modules) - before:  # the test module itself: the next run re-imports it
                if module == path.stem or module.endswith(f".{path.stem}") or module.startswith("test_cell"):
                    sys.modules.pop(module, None)


def tests(line: str, cell: str) -> None:
    """The cell magic: ``%%tests 08.1`` records the cell for exercise 08.1 and runs it."""
    exercise = line.split("#")[0].strip()  # "%%tests 08.1  # ✏️ Exercise 08.1 — TODO: ..."
    if exercise:
        SOURCES[exercise] = cell
    run_file(cell, f"test_{exercise.replace('.', '_') or 'cell'}.py")


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(tests, "cell", "tests")
