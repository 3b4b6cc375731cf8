"""Shared fixtures: the repository's root, and notebooks derived from the solutions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
collect_ignore_glob = ["toy/*"]  # the toy workbook's checks run only through the runner


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def replace_solution(source: str, code: str) -> str:
    """Swap the code between the solution markers of an exercise cell for ``code``."""
    pattern = re.compile(r"(### BEGIN SOLUTION[ \t]*\n).*?(^[ \t]*### END SOLUTION)", re.DOTALL | re.MULTILINE)
    new, count = pattern.subn(lambda m: m.group(1) + code.strip("\n") + "\n" + m.group(2), source, count=1)
    assert count == 1, "exercise cell has no solution block"
    return new
