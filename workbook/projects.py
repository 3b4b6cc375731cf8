"""File exercises: a chapter whose answers are files of a real project, not notebook cells.

The solved project (chapter 09: ``app_skeleton/service``) is the single source, like a
solution notebook. Each exercise region in its files is a ``# ✏️ Exercise NN.K — TODO: …``
line followed by the same ``### BEGIN SOLUTION`` / ``### END SOLUTION`` /
``### BEGIN STARTER`` … ``### END STARTER`` markers exercise cells use. The learner's project
(``notebooks/09_service/service``) is generated from it: every file copied, every region
swapped for its starter, no caches or database files. ``workbook starters`` writes it and
``workbook starters --verify`` fails when it is stale, exactly as for starter notebooks.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbook import notebooks

# Chapter id → (solved project, learner's project), relative to the workbook root.
PROJECTS: dict[str, tuple[str, str]] = {"09": ("app_skeleton/service", "notebooks/09_service/service")}
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".ipynb_checkpoints"}
SKIP_SUFFIXES = {".pyc", ".sqlite3", ".sqlite", ".db", ".sqlite3-journal", ".sqlite3-wal", ".sqlite3-shm"}
_REGION = re.compile(
    r"^[ \t]*# ✏️ Exercise (?P<id>\d+\.\d+) — TODO:[^\n]*\n"
    r"(?P<block>[ \t]*### BEGIN SOLUTION[ \t]*\n(?P<solution>.*?)^[ \t]*### END SOLUTION[ \t]*\n"
    r"(?:^[ \t]*### BEGIN STARTER[ \t]*\n(?P<starter>.*?)^[ \t]*### END STARTER[ \t]*\n)?)",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Region:
    """One exercise region of a project file: where it is, its answer and its starter."""

    exercise: str
    file: str  # relative to the project folder, with "/" separators
    solution: str
    starter: str


def project_dirs(root: Path, chapter_id: str) -> tuple[Path, Path] | None:
    """(solved project, learner's project) for a chapter with file exercises, else None."""
    pair = PROJECTS.get(chapter_id)
    return (root / pair[0], root / pair[1]) if pair else None


def files(project: Path) -> list[Path]:
    """The project's files, sorted, without caches and database files (what a copy must hold)."""
    found = []
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        if path.is_file() and not SKIP_DIRS.intersection(rel.parts) and path.suffix not in SKIP_SUFFIXES:
            found.append(path)
    return found


def regions(project: Path) -> list[Region]:
    """Every exercise region of the project, in file order."""
    found = []
    for path in files(project):
        if path.suffix != ".py":
            continue
        rel = path.relative_to(project).as_posix()
        for m in _REGION.finditer(path.read_text(encoding="utf-8")):
            found.append(Region(m["id"], rel, m["solution"], notebooks._uncomment(m["starter"] or "")))
    return found


def starter_text(text: str) -> str:
    """A file's text with each exercise region's solution swapped for its starter (markers dropped)."""
    return notebooks.starter_source(text)


def with_solution(text: str, exercise: str, solution: str) -> str:
    """The file's text with exercise ``exercise``'s solution block replaced by ``solution``.

    For wrong answers: the rest of the file (other regions too) keeps the solved code.
    """
    def swap(m: re.Match[str]) -> str:
        if m["id"] != exercise:
            return m[0]
        body = solution if solution.endswith("\n") else solution + "\n"
        head = m[0][: m.start("block") - m.start()]
        return f"{head}### BEGIN SOLUTION\n{body}### END SOLUTION\n"

    new, count = _REGION.subn(swap, text)
    if not any(m["id"] == exercise for m in _REGION.finditer(text)):
        raise ValueError(f"no region for exercise {exercise} in this file ({count} regions)")
    return new


def render(project: Path) -> dict[str, str | bytes]:
    """The learner's project as relative path → content (starters in place of solutions)."""
    out: dict[str, str | bytes] = {}
    for path in files(project):
        rel = path.relative_to(project).as_posix()
        try:
            out[rel] = starter_text(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            out[rel] = path.read_bytes()
    return out


def write(project: Path, dest: Path) -> None:
    """Replace ``dest`` with the learner's project generated from ``project``."""
    if dest.exists():
        shutil.rmtree(dest)
    for rel, content in render(project).items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def stale(project: Path, dest: Path) -> list[str]:
    """Relative paths where ``dest`` differs from what ``write`` would produce (missing, extra, changed)."""
    wanted = render(project)
    have = {p.relative_to(dest).as_posix(): p for p in files(dest)} if dest.is_dir() else {}
    differ = sorted(set(wanted) ^ set(have))
    for rel in sorted(set(wanted) & set(have)):
        content = wanted[rel]
        current = have[rel].read_bytes()
        if current != (content if isinstance(content, bytes) else content.encode("utf-8")):
            differ.append(rel)
    return differ


def find(chapter_id: str, here: Path | None = None) -> Path:
    """The project a chapter's notebook works on: the learner's copy next to it, else the solved one.

    ``notebooks/09_service.ipynb`` runs with ``notebooks/`` as its folder and finds
    ``09_service/service``; ``solutions/09_service.ipynb`` has none next to it and works on
    ``app_skeleton/service``.
    """
    solved, learner = PROJECTS[chapter_id]
    here = (here or Path.cwd()).resolve()
    mine = here / Path(learner).relative_to("notebooks")
    if mine.is_dir():
        return mine
    from workbook.registry import find_root

    root = find_root(here)
    if here == (root / "solutions").resolve():
        return root / solved
    # Anywhere else the solved project would stand in for the learner's missing one: a
    # notebook graded without its folder must fail, not be graded on the solution.
    raise FileNotFoundError(
        f"no {mine.relative_to(here).parent}/ folder next to this notebook (in {here}): chapter "
        f"{chapter_id}'s exercises are files in it. Keep the folder beside the notebook "
        f"(`workbook starters` writes the starter copy to {Path(learner).parent}/)."
    )


def files_app(project: Path) -> Any:
    """An app serving the project's files as they are now: ``GET /files`` lists, ``/files/{path}`` reads.

    The checks fetch the learner's project from it (as CI checks out a repository) and run
    it in processes of their own, so they never import the learner's code.
    """
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import PlainTextResponse

    app = FastAPI(title="Your project's files")

    @app.get("/files")
    def listing() -> list[str]:
        return [p.relative_to(project).as_posix() for p in files(project)]

    @app.get("/files/{path:path}", response_class=PlainTextResponse, responses={404: {"description": "No such file"}})
    def read(path: str) -> str:
        if path not in listing():  # only the project's own files, never "../" anything
            raise HTTPException(status_code=404, detail="not a file of the project")
        return (project / path).read_text(encoding="utf-8")

    return app


def download(base_url: str, dest: Path, name: str = "service") -> Path:
    """Copy the project ``files_app`` serves at ``base_url`` into ``dest/name``; returns that folder."""
    import httpx

    folder = dest / name
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for rel in client.get("/files").raise_for_status().json():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(client.get(f"/files/{rel}").raise_for_status().text, encoding="utf-8")
    return folder


def package(project: Path) -> tuple[Path, str]:
    """(folder to run from, dotted package name): ``app_skeleton/service`` → (repo, "app_skeleton.service"),
    a learner's ``09_service/service`` → (``09_service``, "service"). gunicorn and alembic run from there."""
    parts = [project.name]
    root = project.parent
    while (root / "__init__.py").exists():
        parts.insert(0, root.name)
        root = root.parent
    return root, ".".join(parts)
