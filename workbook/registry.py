"""The one table of contents: chapters → exercises → checks and hints.

It is read from ``checks/registry.toml`` of a workbook root (the repository, or a
toy workbook in the tests). Paths follow from a chapter's stem, never from a map:
``notebooks/<stem>.ipynb``, ``solutions/<stem>.ipynb``, ``checks/test_<stem>.py``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REGISTRY = Path("checks") / "registry.toml"


class RegistryError(ValueError):
    """A registry entry is malformed or a chapter/exercise id is unknown."""


@dataclass(frozen=True)
class Check:
    test: str  # the pytest function in the chapter's checks module
    behaviour: str  # what a learner reads in the result row
    hint: str


@dataclass(frozen=True)
class Exercise:
    id: str  # "01.3": chapter id, dot, number
    title: str
    checks: tuple[Check, ...]
    hints: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()  # exercises whose work these checks rely on ("waiting on 01.1")


@dataclass(frozen=True)
class Chapter:
    id: str
    stem: str
    title: str
    exercises: tuple[Exercise, ...]
    minutes: int = 45
    root: Path = field(default=Path("."), compare=False)
    # sys.platform values the chapter runs on ("linux", "darwin", "win32"); empty: all of them
    platforms: tuple[str, ...] = ()
    # The served apps (by serve() name) that tests/test_fuzz.py fuzzes from their own
    # OpenAPI document: the apps the chapter's checks grade, never its broken demos.
    fuzz: tuple[str, ...] = ("app",)
    # Seconds a graded run of this chapter's notebook may need at least (registry ``grade_timeout``);
    # None: the grader's default. Read through ``grading.limits.Limits.for_chapter``.
    grade_timeout: float | None = None

    @property
    def notebook(self) -> Path:
        return self.root / "notebooks" / f"{self.stem}.ipynb"

    @property
    def solution(self) -> Path:
        return self.root / "solutions" / f"{self.stem}.ipynb"

    @property
    def checks_module(self) -> Path:
        return self.root / "checks" / f"test_{self.stem}.py"

    def exercise(self, exercise_id: str | int) -> Exercise:
        """This chapter's exercise "01.3", also written "1.3", "01.03" or just "3"."""
        given = str(exercise_id).strip()
        head, dot, tail = given.rpartition(".")
        number = tail.lstrip("0") or tail
        if not dot or _same_id(head, self.id):
            for exercise in self.exercises:
                if exercise.id.rpartition(".")[2].lstrip("0") == number:
                    return exercise
        raise RegistryError(f"unknown exercise {given!r}; valid ids: {self.valid_ids()}")

    def valid_ids(self) -> str:
        """The ids check(), hint(), solution() and the CLI accept for this chapter, for error messages."""
        return ", ".join([self.id, *(e.id for e in self.exercises)])


def _same_id(given: str, chapter_id: str) -> bool:
    """ "1" and "01" name chapter "01"; a non-numeric id must match exactly."""
    if given.isdigit() and chapter_id.isdigit():
        return int(given) == int(chapter_id)
    return given == chapter_id


def find_root(start: Path | None = None) -> Path:
    """The workbook root: $WORKBOOK_ROOT, else the nearest folder up with a registry."""
    if env := os.environ.get("WORKBOOK_ROOT"):
        return Path(env).resolve()
    for folder in [(start or Path.cwd()).resolve(), *(start or Path.cwd()).resolve().parents]:
        if (folder / REGISTRY).is_file():
            return folder
    here = Path(__file__).resolve().parent.parent  # an editable install of the repository
    if (here / REGISTRY).is_file():
        return here
    raise RegistryError(f"no {REGISTRY} found above {Path.cwd()}; set WORKBOOK_ROOT")


def _exercise(raw: dict, chapter_id: str) -> Exercise:
    ex_id = str(raw["id"])
    if not ex_id.startswith(chapter_id + "."):
        raise RegistryError(f"exercise {ex_id!r} is not numbered under chapter {chapter_id}")
    checks = tuple(Check(str(c["test"]), str(c["behaviour"]), str(c["hint"])) for c in raw["check"])
    needs = tuple(str(n) for n in raw.get("needs", ()))
    return Exercise(ex_id, str(raw["title"]), checks, tuple(raw.get("hints", ())), needs)


@lru_cache(maxsize=8)
def _load(root: Path, mtime_ns: int) -> tuple[Chapter, ...]:
    data = tomllib.loads((root / REGISTRY).read_text(encoding="utf-8"))
    chapters = []
    for raw in data.get("chapter", []):
        cid = str(raw["id"])
        exercises = tuple(_exercise(e, cid) for e in raw.get("exercise", []))
        platforms = tuple(str(p) for p in raw.get("platforms", ()))
        fuzz = raw.get("fuzz", ["app"])
        if not isinstance(fuzz, list) or not all(isinstance(name, str) for name in fuzz):
            raise RegistryError(f"chapter {cid}: fuzz must be a list of served app names, got {fuzz!r}")
        chapters.append(
            Chapter(
                cid, str(raw["stem"]), str(raw["title"]), exercises, int(raw.get("minutes", 45)), root, platforms,
                tuple(fuzz), float(raw["grade_timeout"]) if "grade_timeout" in raw else None,
            )
        )
    return tuple(chapters)


def chapters(root: Path | None = None) -> tuple[Chapter, ...]:
    root = (root or find_root()).resolve()
    return _load(root, (root / REGISTRY).stat().st_mtime_ns)


def chapter(chapter_id: str | int, root: Path | None = None) -> Chapter:
    """Look a chapter up by id ("01", "1") or by one of its exercise ids ("01.2", "1.2")."""
    return resolve(chapter_id, root)[0]


def _span(chapter: Chapter) -> str:
    """ " (01.1–01.5)": a chapter's exercise ids, short enough for an error message."""
    ids = [e.id for e in chapter.exercises]
    return f" ({ids[0]}–{ids[-1]})" if len(ids) > 1 else f" ({ids[0]})" if ids else ""


def resolve(what: str | int, root: Path | None = None) -> tuple[Chapter, Exercise | None]:
    """The one id syntax of check(), hint(), solution(), reset, watch and the CLI.

    "1" and "01" name chapter 01 (exercise None); "1.2" and "01.2" name exercise 01.2.
    An unknown id raises RegistryError listing the valid ones, whichever caller asked.
    """
    given = str(what).strip()
    head, dot, _ = given.partition(".")
    all_chapters = chapters(root)
    for ch in all_chapters:
        if _same_id(head, ch.id):
            return ch, (ch.exercise(given) if dot else None)
    valid = ", ".join(c.id + _span(c) for c in all_chapters)
    kind = "exercise" if dot else "chapter"
    raise RegistryError(f"unknown {kind} {given!r}; valid ids: chapters {valid}")
