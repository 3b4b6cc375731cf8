"""How check() schedules a chapter's checks: ``independent`` ones side by side first (one with a
``lead`` a moment before the others), then each
``together`` group side by side (the groups one after another), then the others one at a time —
and every outcome is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbook import registry
from workbook.runner import run_checks

CHECKS = '''
import json, os, threading, time
import pytest


def note(name, seconds):
    began = time.monotonic()
    time.sleep(seconds)
    with open(os.environ["SCHEDULE_LOG"], "a") as log:
        log.write(json.dumps([name, threading.current_thread().name, began, time.monotonic()]) + "\\n")


@pytest.mark.together("x")
def test_group_x1():
    note("group_x1", 0.2)


@pytest.mark.together("x")
def test_group_x2():
    note("group_x2", 0.2)


@pytest.mark.together("y")
def test_group_y1():
    note("group_y1", 0.2)


@pytest.mark.together("y")
def test_group_y2():
    note("group_y2", 0.2)


@pytest.mark.independent(lead=0.3)
def test_lead():
    note("lead", 0.5)


@pytest.mark.independent
def test_ind_a():
    note("ind_a", 0.2)


@pytest.mark.independent
def test_ind_b():
    note("ind_b", 0.2)


def test_timed_1():
    note("timed_1", 0.2)


def test_timed_2():
    note("timed_2", 0.2)
    assert False, "timed_2 fails on purpose"
'''
NAMES = ["group_x1", "group_x2", "group_y1", "group_y2", "lead", "ind_a", "ind_b", "timed_1", "timed_2"]


def test_groups_run_side_by_side_one_group_at_a_time_and_timed_checks_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "test_99_toy.py").write_text(CHECKS)
    exercises = tuple(registry.Exercise(f"99.{i}", n, (registry.Check(f"test_{n}", n, ""),))
                      for i, n in enumerate(NAMES, 1))  # fmt: skip
    chapter = registry.Chapter("99", "99_toy", "toy", exercises, root=tmp_path)
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("SCHEDULE_LOG", str(log))
    results = run_checks(chapter, list(exercises), {})
    assert [r.passed for r in results] == [True] * 8 + [False]
    assert "timed_2 fails on purpose" in results[-1].message
    ran = {name: (thread, start, end) for name, thread, start, end in map(json.loads, log.read_text().splitlines())}

    def overlap(a: str, b: str) -> bool:
        return ran[a][1] < ran[b][2] and ran[b][1] < ran[a][2]

    assert overlap("ind_a", "ind_b") and overlap("lead", "ind_a")  # independent: side by side
    assert ran["ind_a"][1] - ran["lead"][1] >= 0.25  # independent(lead=0.3): the others start 0.3 s later
    assert overlap("group_x1", "group_x2") and overlap("group_y1", "group_y2")  # a group: side by side
    group = {"group_x1": "x", "group_x2": "x", "group_y1": "y", "group_y2": "y", "lead": "i", "ind_a": "i",
             "ind_b": "i"}  # fmt: skip
    pairs = [(a, b) for a in NAMES for b in NAMES if a < b and group.get(a, a) != group.get(b, b)]
    assert not [pair for pair in pairs if overlap(*pair)], "checks of different groups ran at once"
    assert ran["group_x1"][0].startswith("workbook-check") and ran["timed_1"][0] == "MainThread"
