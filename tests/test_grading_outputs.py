"""What `workbook grade` writes besides the gradebook: one feedback file per learner (JSON + HTML,
nothing about anyone else) and the CSV layouts Canvas and Moodle import, with a roster mapping.
No kernels: results are made up, chapters are the toy workbook's (tests/toy)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from conftest import ROOT

from workbook import registry
from workbook.grading import gradebook
from workbook.grading.limits import failing
from workbook.results import Result

TOY = Path(__file__).parent / "toy"


@pytest.fixture
def chapters() -> list[registry.Chapter]:
    return list(registry.chapters(TOY))


def results_for(chapters: list[registry.Chapter], passed: set[str], secret: str) -> list[Result]:
    return [
        Result(c.id, ex.id, check.behaviour, ex.id in passed, "" if ex.id in passed else f"expected 42, got {secret}",
               check.hint, check.test)  # fmt: skip
        for c in chapters for ex in c.exercises for check in ex.checks
    ]


@pytest.fixture
def graded(chapters: list[registry.Chapter], tmp_path: Path) -> dict:
    rng = random.Random()
    ids = [ex.id for c in chapters for ex in c.exercises]
    passes = {name: set(rng.sample(ids, rng.randint(0, len(ids)))) for name in ("ada", "bob", "../eve")}
    by_learner = {n: results_for(chapters, p, f"{n}-secret-{rng.randint(0, 10**9)}") for n, p in passes.items()}
    roster = {"ada": {"learner": "ada", "name": "Ada Lovelace", "email": "ada@example.org", "canvas_id": "101",
                      "sis_user_id": "S-1", "sis_login_id": "ada", "section": "A", "id_number": "N1"}}  # fmt: skip
    gradebook.write_all(tmp_path, by_learner, chapters, {"bob": ["a note for bob"]}, roster, None)
    return {"by_learner": by_learner, "passes": passes, "out": tmp_path, "ids": ids}


def test_each_learner_gets_only_their_own_results(graded: dict, chapters: list[registry.Chapter]) -> None:
    folder = graded["out"] / "learners"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["ada.json", "ada.html", "bob.json", "bob.html", "_eve.json", "_eve.html"]
    ), "one JSON and one HTML per learner, inside learners/ whatever the name"
    for name in graded["by_learner"]:
        stem = gradebook.learner_file_name(name)
        mine = json.loads((folder / f"{stem}.json").read_text())
        assert mine["learner"] == name
        done = {ex for ex, e in mine["exercises"].items() if e["score"] == 1.0}
        assert done == graded["passes"][name]
        for ex, entry in mine["exercises"].items():
            for check in entry["checks"]:
                assert check["passed"] == (ex in graded["passes"][name])
                assert bool(check["hint"]) == (not check["passed"]), "a hint for what fails, none for what passes"
        html = (folder / f"{stem}.html").read_text()
        for other, theirs in graded["by_learner"].items():
            secret = next((r.message for r in theirs if not r.passed), None)
            if other != name and secret:
                assert secret not in html and secret not in json.dumps(mine), f"{other}'s results in {name}'s file"
    assert "a note for bob" in (folder / "bob.html").read_text()
    assert "Kernels were NOT isolated" not in (graded["out"] / "report.html").read_text()


def test_canvas_csv_has_the_import_layout(graded: dict, chapters: list[registry.Chapter]) -> None:
    rows = list(csv.reader((graded["out"] / "canvas.csv").open(encoding="utf-8")))
    head, points, *learners = rows
    assert head[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert head[5:] == [f"Workbook {c.id} {c.title}" for c in chapters]
    assert points[0] == "Points Possible" and points[5:] == [str(len(c.exercises)) for c in chapters]
    ada = next(r for r in learners if r[0] == "Ada Lovelace")
    assert ada[1:5] == ["101", "S-1", "ada", "A"], "identity columns come from the roster"
    for row in learners:
        name = "ada" if row[0] == "Ada Lovelace" else row[0]
        wanted = [sum(ex.id in graded["passes"][name] for ex in c.exercises) for c in chapters]
        assert [float(v) for v in row[5:]] == wanted


def test_moodle_csv_maps_by_email_or_id_number(graded: dict, chapters: list[registry.Chapter]) -> None:
    rows = list(csv.DictReader((graded["out"] / "moodle.csv").open(encoding="utf-8")))
    assert list(rows[0])[:3] == ["Email address", "ID number", "Full name"]
    ada = next(r for r in rows if r["Full name"] == "Ada Lovelace")
    assert (ada["Email address"], ada["ID number"]) == ("ada@example.org", "N1")
    bob = next(r for r in rows if r["Full name"] == "bob")
    wanted = {f"Workbook {c.id} {c.title}": sum(ex.id in graded["passes"]["bob"] for ex in c.exercises)
              for c in chapters}  # fmt: skip
    assert {k: float(v) for k, v in bob.items() if k.startswith("Workbook")} == wanted


def test_roster_needs_a_learner_column(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("name,email\nAda,ada@example.org\n")
    with pytest.raises(ValueError, match="learner"):
        gradebook.read_roster(tmp_path / "r.csv")
    (tmp_path / "r.csv").write_text("\ufefflearner,email\n ada ,ada@example.org\n")
    assert gradebook.read_roster(tmp_path / "r.csv")["ada"]["email"] == "ada@example.org"


def test_failing_gives_every_check_the_reason(chapters: list[registry.Chapter]) -> None:
    chapter = chapters[0]
    rows = failing(chapter, "why")
    assert len(rows) == sum(len(ex.checks) for ex in chapter.exercises)
    assert all(not r.passed and r.message == "why" for r in rows)
    assert {r.exercise for r in failing(chapter, "x", chapter.exercises[:1])} == {chapter.exercises[0].id}


def test_cli_rejects_a_roster_without_a_learner_column(tmp_path: Path) -> None:
    from workbook.cli import main

    (tmp_path / "subs").mkdir()
    (tmp_path / "roster.csv").write_text("name,email\nAda,ada@example.org\n")
    args = ["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--roster", str(tmp_path / "roster.csv")]
    assert main(args) == 2
    assert not (tmp_path / "out").exists(), "nothing graded, nothing written"


def test_feedback_tells_not_attempted_and_waiting_from_wrong(tmp_path: Path) -> None:
    """A learner handed their file sees an untouched exercise as not attempted, not as a failure."""
    from workbook.grading import report
    from workbook.results import NOT_ATTEMPTED, WAITING

    chapter = registry.chapter("01", ROOT)
    first, second, third = chapter.exercises[:3]
    rows = [Result("01", first.id, c.behaviour, True, test=c.test) for c in first.checks]
    rows += [Result("01", second.id, c.behaviour, False, "expected 422", "a hint", c.test) for c in second.checks]
    rows += [Result("01", third.id, c.behaviour, False, "not attempted yet", "h", c.test, NOT_ATTEMPTED)
             for c in third.checks]  # fmt: skip
    rows.append(Result("01", chapter.exercises[3].id, "b", False, "waiting on 01.1", "h", "t", WAITING))
    mine = gradebook.learner_json("ada", rows, [chapter], [])
    states = {ex: mine["exercises"][ex]["state"] for ex in (first.id, second.id, third.id, chapter.exercises[3].id)}
    assert list(states.values()) == ["correct", "incorrect", "not attempted", "waiting"]
    assert {c["state"] for c in mine["exercises"][third.id]["checks"]} == {NOT_ATTEMPTED}
    page = report.render_learner("ada", rows, [chapter], [])
    assert "not attempted</td>" in page and "FAIL</td>" in page and "1 not attempted" in page
    assert "hint: h" not in page  # a quiet row has no hint
    overview = report.render({"ada": rows}, [chapter], {})
    assert 'title="not attempted">–</td>' in overview
