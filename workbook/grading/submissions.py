"""A class's submissions: one folder or ``.zip`` per learner, only ever read.

Each learner is copied once into the grader's scratch folder (regular files and safe
zip members only: no symlinks, no ``..``, nothing over ``MAX_FILE``); everything after
that works on the copy, so grading leaves the submissions byte-identical.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from workbook import registry

MAX_FILE = 50 * 2**20  # a bigger file in a submission is not copied (nor graded)
SKIP = (".ipynb_checkpoints", "__MACOSX", ".backup-")


def learners(folder: Path) -> dict[str, Path]:
    """Learner name → their folder or zip, sorted by name."""
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            found[entry.name] = entry
        elif entry.suffix.lower() == ".zip" and entry.is_file():
            found.setdefault(entry.stem, entry)
    return found


def copy_in(source: Path, into: Path) -> list[str]:
    """Copy a learner's regular files (or safe zip members) into ``into``; return what was skipped."""
    skipped: list[str] = []
    into.mkdir(parents=True)
    if source.is_dir():
        for path in source.rglob("*"):
            rel = path.relative_to(source)
            if path.is_symlink() or not path.is_file() or any(s in str(rel) for s in SKIP):
                continue
            if path.stat().st_size > MAX_FILE:
                skipped.append(f"{rel} (over {MAX_FILE >> 20} MB)")
                continue
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, into / rel)
        return skipped
    try:
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                name = PurePosixPath(info.filename)
                if info.is_dir() or name.is_absolute() or ".." in name.parts or any(s in info.filename for s in SKIP):
                    continue
                if info.file_size > MAX_FILE:
                    skipped.append(f"{name} (over {MAX_FILE >> 20} MB)")
                    continue
                target = into.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 2**20)
    except (zipfile.BadZipFile, OSError) as exc:
        skipped.append(f"{source.name} is not a readable zip: {exc}")
    return skipped


def find_notebook(folder: Path, chapter: registry.Chapter) -> Path | None:
    """The learner's notebook for ``chapter``: ``<stem>.ipynb``, else ``<id>_*.ipynb``; the shallowest wins."""
    for pattern in (f"{chapter.stem}.ipynb", f"{chapter.id}_*.ipynb"):
        hits = sorted(folder.rglob(pattern), key=lambda p: (len(p.parts), str(p)))
        if hits:
            return hits[0]
    return None


def file_hashes(source: Path) -> dict[str, str]:
    """Content hash of every file of a submission (to prove grading changed none)."""
    paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
