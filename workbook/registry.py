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


@dataclass(frozen=True)
class Chapter:
    id: str
    stem: str
    title: str
    exercises: tuple[Exercise, ...]
    minutes: int = 45
    root: Path = field(default=Path("."), compare=False)
    # The served apps (by serve() name) that tests/test_fuzz.py fuzzes from their own
    # OpenAPI document: the apps the chapter's checks grade, never its broken demos.
    fuzz: tuple[str, ...] = ("app",)

    @property
    def notebook(self) -> Path:
        return self.root / "notebooks" / f"{self.stem}.ipynb"

    @property
    def solution(self) -> Path:
        return self.root / "solutions" / f"{self.stem}.ipynb"

    @property
    def checks_module(self) -> Path:
        return self.root / "checks" / f"test_{self.stem}.py"

    def exercise(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        valid = ", ".join(e.id for e in self.exercises)
        raise RegistryError(f"unknown exercise {exercise_id!r}; chapter {self.id} has {valid}")


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
    return Exercise(ex_id, str(raw["title"]), checks, tuple(raw.get("hints", ())))


@lru_cache(maxsize=8)
def _load(root: Path, mtime_ns: int) -> tuple[Chapter, ...]:
    data = tomllib.loads((root / REGISTRY).read_text(encoding="utf-8"))
    chapters = []
    for raw in data.get("chapter", []):
        cid = str(raw["id"])
        exercises = tuple(_exercise(e, cid) for e in raw.get("exercise", []))
        fuzz = raw.get("fuzz", ["app"])
        if not isinstance(fuzz, list) or not all(isinstance(name, str) for name in fuzz):
            raise RegistryError(f"chapter {cid}: fuzz must be a list of served app names, got {fuzz!r}")
        chapters.append(
            Chapter(
                cid, str(raw["stem"]), str(raw["title"]), exercises, int(raw.get("minutes", 45)), root, tuple(fuzz)
            )
        )
    return tuple(chapters)


def chapters(root: Path | None = None) -> tuple[Chapter, ...]:
    root = (root or find_root()).resolve()
    return _load(root, (root / REGISTRY).stat().st_mtime_ns)


def chapter(chapter_id: str, root: Path | None = None) -> Chapter:
    """Look a chapter up by id ("01") or by exercise id ("01.2")."""
    wanted = chapter_id.split(".")[0].zfill(2) if chapter_id.split(".")[0].isdigit() else chapter_id
    all_chapters = chapters(root)
    for ch in all_chapters:
        if ch.id == wanted:
            return ch
    valid = ", ".join(f"{c.id} ({c.title})" for c in all_chapters)
    raise RegistryError(f"unknown chapter {chapter_id!r}; valid chapters: {valid}")
