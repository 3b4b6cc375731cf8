"""The grader's snapshot: registry, checks, runtime and app support, read into memory once.

Why: learner code runs on the same machine as the grader. Everything a verdict depends
on is read before any learner code runs; workers write their private copies from it,
and the cache key hashes it, so a file changed later cannot change a verdict.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

Snapshot = dict[str, bytes]  # path relative to the workbook root → content
KERNEL_PARTS = ("workbook/", "app_skeleton/", "checks/registry.toml")
_KINDS = (".py", ".toml", ".typed", ".txt", ".sql", ".ini", ".mako")  # .ini/.mako: the service's Alembic set-up


def take_snapshot(root: Path) -> Snapshot:
    """Everything a grade depends on, read once: registry, checks, runtime (with its packages), app support."""
    snap: Snapshot = {}
    parts = (("checks", "*"), ("workbook", "**/*.py"), ("workbook", "py.typed"), ("app_skeleton", "**/*"))
    for folder, pattern in parts:
        for path in sorted((root / folder).glob(pattern)):
            if path.is_file() and path.suffix in _KINDS and "__pycache__" not in path.parts:  # service/, tests/ too
                snap[path.relative_to(root).as_posix()] = path.read_bytes()
    return snap


def digest(snap: Snapshot, prefix: str = "") -> str:
    h = hashlib.sha256()
    for name in sorted(snap):
        if name.startswith(prefix):
            h.update(name.encode() + b"\0" + hashlib.sha256(snap[name]).digest())
    return h.hexdigest()


def write_snapshot(snap: Snapshot, into: Path, parts: tuple[str, ...]) -> None:
    for name, data in snap.items():
        if name.startswith(parts):
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def read_tree(folder: Path) -> Snapshot:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
