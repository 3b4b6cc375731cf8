"""A class's submissions: one folder or ``.zip`` per learner, only ever read.

Each learner is copied once into the grader's scratch folder (regular files and safe
zip members only: no symlinks, no ``..``, nothing over ``MAX_FILE``); everything after
that works on the copy, so grading leaves the submissions byte-identical. The notebooks'
bytes are kept from that one read (``Copied.notebooks``): the cache key and the worker use
them, so no notebook is read again.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass, field
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


@dataclass
class Copied:
    skipped: list[str] = field(default_factory=list)  # what was not copied, and why
    notebooks: dict[Path, bytes] = field(default_factory=dict)  # each copied .ipynb → its bytes


def _put(target: Path, data: bytes, copied: Copied) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    if target.suffix == ".ipynb":
        copied.notebooks[target] = data


def copy_in(source: Path, into: Path) -> Copied:
    """Copy a learner's regular files (or safe zip members) into ``into``, each read once."""
    copied = Copied()
    into.mkdir(parents=True)
    if source.is_dir():
        for path in source.rglob("*"):
            rel = path.relative_to(source)
            if path.is_symlink() or not path.is_file() or any(s in str(rel) for s in SKIP):
                continue
            if path.stat().st_size > MAX_FILE:
                copied.skipped.append(f"{rel} (over {MAX_FILE >> 20} MB)")
                continue
            if path.suffix == ".ipynb":
                _put(into / rel, path.read_bytes(), copied)
            else:
                (into / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, into / rel)
        return copied
    try:
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                name = PurePosixPath(info.filename)
                if info.is_dir() or name.is_absolute() or ".." in name.parts or any(s in info.filename for s in SKIP):
                    continue
                if info.file_size > MAX_FILE:
                    copied.skipped.append(f"{name} (over {MAX_FILE >> 20} MB)")
                    continue
                target = into.joinpath(*name.parts)
                if target.suffix == ".ipynb":
                    _put(target, archive.read(info), copied)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 2**20)
    except (zipfile.BadZipFile, OSError) as exc:
        copied.skipped.append(f"{source.name} is not a readable zip: {exc}")
    return copied


def find_notebook(folder: Path, chapter: registry.Chapter) -> Path | None:
    """The learner's notebook for ``chapter``: ``<stem>.ipynb``, else ``<id>_*.ipynb``; the shallowest wins."""
    for pattern in (f"{chapter.stem}.ipynb", f"{chapter.id}_*.ipynb"):
        hits = sorted(folder.rglob(pattern), key=lambda p: (len(p.parts), str(p)))
        if hits:
            return hits[0]
    return None


def file_stamps(source: Path) -> dict[str, tuple[int, int, int]]:
    """Size, mtime and ctime of every file of a submission, to prove grading changed none without
    reading them again. Any write moves ctime, and no unprivileged process can set it back."""
    paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    stamps = {}
    for path in paths:
        st = path.stat()
        stamps[str(path)] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return stamps
