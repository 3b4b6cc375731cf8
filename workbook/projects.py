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


def _todo_line(lines: list[str], exercise: str) -> int | None:
    mark = f"# ✏️ Exercise {exercise} — TODO"
    return next((i for i, line in enumerate(lines) if line.strip().startswith(mark)), None)


def _after(lines: list[str], start: int, anchor: str | None) -> int | None:
    """Index of the first line after ``start`` equal to ``anchor`` (None: the end of the file)."""
    if anchor is None:
        return len(lines)
    return next((i for i in range(start + 1, len(lines)) if lines[i] == anchor), None)


def restore_region(solved_text: str, mine_text: str, exercise: str) -> str | None:
    """The learner's file text with exercise ``exercise``'s region back to its starter, the rest kept.

    The learner's copy has no markers, so the region is found as the starter has it: from the
    exercise's TODO line to the first line the solved file has after the region (its anchor).
    None when the learner's file lost either line (then only the whole file can be restored).
    """
    match = next((m for m in _REGION.finditer(solved_text) if m["id"] == exercise), None)
    if match is None:
        raise ValueError(f"no region for exercise {exercise} in this file")
    following = [line for line in solved_text[match.end():].splitlines(keepends=True) if line.strip()]
    anchor = following[0] if following else None
    fresh = starter_text(solved_text).splitlines(keepends=True)
    mine = mine_text.splitlines(keepends=True)
    todo_fresh, todo_mine = _todo_line(fresh, exercise), _todo_line(mine, exercise)
    if todo_fresh is None or todo_mine is None:
        return None
    end_fresh, end_mine = _after(fresh, todo_fresh, anchor), _after(mine, todo_mine, anchor)
    if end_fresh is None or end_mine is None:
        return None
    return "".join(mine[: todo_mine + 1] + fresh[todo_fresh + 1 : end_fresh] + mine[end_mine:])


def backup(files: list[Path], base: Path) -> Path:
    """Copy ``files`` (under ``base``, the notebook's folder) into ``base/.workbook/backups/<time>/``, keeping
    their paths relative to ``base``; returns that folder. Outside the project, so the checks never see it."""
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = base / ".workbook" / "backups" / stamp, 1
    while target.exists():  # two resets in one second keep both backups
        target, n = base / ".workbook" / "backups" / f"{stamp}-{n}", n + 1
    for path in files:
        dest = target / path.relative_to(base)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    return target


def reset(chapter_id: str, root: Path, here: Path, exercise: str | None = None) -> tuple[Path | None, str] | None:
    """Restore the learner's project next to ``here`` (the notebook's folder), or one exercise's region
    in it, to the starter, after backing up every file it changes. None when the chapter has no
    project, the project is not next to ``here`` or the exercise is a notebook cell.
    Returns (backup folder, or None when there was nothing to back up; what changed)."""
    dirs = project_dirs(root, chapter_id)
    if dirs is None:
        return None
    solved = dirs[0]
    mine = here / Path(PROJECTS[chapter_id][1]).relative_to("notebooks")
    if exercise is None:
        everything = [p for p in mine.rglob("*") if p.is_file() and "__pycache__" not in p.parts]  # [] if missing
        saved = backup(everything, here) if everything else None  # databases, added files too: write() replaces all
        write(solved, mine)
        return saved, f"every file of {mine} is the starter's again"
    wanted = [r for r in regions(solved) if r.exercise == exercise]
    if not wanted:
        return None
    changed: list[str] = []
    present = [mine / r.file for r in wanted if (mine / r.file).is_file()]
    saved = backup(present, here) if present else None
    for region in wanted:
        solved_text = (solved / region.file).read_text(encoding="utf-8")
        target = mine / region.file
        mine_text = target.read_text(encoding="utf-8") if target.is_file() else None
        restored = restore_region(solved_text, mine_text, exercise) if mine_text is not None else None
        if restored is None:  # the file is gone, or its TODO line or the line after the region was edited
            restored = starter_text(solved_text)
            others = sorted({r.exercise for r in regions(solved) if r.file == region.file} - {exercise})
            changed.append(f"{region.file} (whole file: its region could not be found"
                           + (f"; exercises {', '.join(others)} reset too" if others else "") + ")")
        else:
            changed.append(region.file)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(restored, encoding="utf-8")
    return saved, f"exercise {exercise}'s region is the starter's again in {mine}: {', '.join(changed)}"


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


def beside(notebook: Path, chapter_id: str) -> list[Path]:
    """The files of chapter ``chapter_id``'s project next to ``notebook`` (a submission's copy), or [].

    A submission of such a chapter is the notebook *and* this folder: the grader's cache key
    hashes both, so an edited project file is graded again even when the notebook is unchanged.
    """
    pair = PROJECTS.get(chapter_id)
    mine = notebook.parent / Path(pair[1]).relative_to("notebooks") if pair else None
    return files(mine) if mine is not None and mine.is_dir() else []


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
