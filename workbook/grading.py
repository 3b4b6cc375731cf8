"""``workbook grade SUBMISSIONS --out DIR``: grade a workshop's notebooks at once.

SUBMISSIONS holds one folder or ``.zip`` per learner. Every notebook found for a
registered chapter runs in its own kernel on a worker (``grading_pool``), on a
temporary copy: the submissions are only ever read. Verdicts are cached in DIR by
a hash of the notebook, the grader's snapshot of registry + checks + runtime and
the limits, so a re-run regrades only what changed. DIR gets ``gradebook.csv``
(learner × exercise, totals), ``report.html`` (per-learner feedback) and
``results.json`` (every row).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict
from pathlib import Path, PurePosixPath

from workbook import registry
from workbook.grading_pool import run_all
from workbook.grading_worker import Limits, Task, digest, take_snapshot
from workbook.results import Result

GRADER_VERSION = "1"
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


def _copy_in(source: Path, into: Path) -> list[str]:
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


class _Progress:
    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.quiet = total, 0, quiet
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def step(self, label: str) -> None:
        with self.lock:
            self.done += 1
            if self.quiet:
                return
            width = 30
            filled = width * self.done // max(self.total, 1)
            took = time.monotonic() - self.started
            line = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}  {took:5.1f} s  {label[:40]}"
            end = "\n" if self.done == self.total or not sys.stderr.isatty() else ""
            print(f"\r{line:<100}", end=end, file=sys.stderr, flush=True)


def grade_all(
    submissions: Path,
    out: Path,
    limits: Limits | None = None,
    workers: int | None = None,
    root: Path | None = None,
    quiet: bool = False,
) -> dict[str, list[Result]]:
    """Grade every learner in ``submissions``; write the gradebook into ``out``; return learner → results."""
    from workbook.gradebook_html import write_report

    limits = limits or Limits()
    root = (root or registry.find_root()).resolve()
    snap = take_snapshot(root)  # before any learner code runs
    chapters = {c.id: c for c in registry.chapters(root)}
    key_base = f"{GRADER_VERSION}|{digest(snap)}|{asdict(limits)}"
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / ".cache.json"
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    who = learners(submissions)
    before = {name: file_hashes(src) for name, src in who.items()}
    graded: dict[tuple[str, str], list[Result]] = {}
    notes: dict[str, list[str]] = {}
    tasks: list[Task] = []
    keys: dict[tuple[str, str], str] = {}
    with tempfile.TemporaryDirectory(prefix="workbook-grade-") as scratch:
        for index, (name, src) in enumerate(who.items()):
            copy = Path(scratch) / f"learner{index:04d}"
            notes[name] = _copy_in(src, copy)
            for cid, chapter in chapters.items():
                nb = find_notebook(copy, chapter)
                content = nb.read_bytes() if nb else b"<missing>"
                keys[name, cid] = hashlib.sha256(f"{key_base}|{cid}|".encode() + content).hexdigest()
                hit = cache.get(f"{name}/{cid}")
                if hit and hit.get("key") == keys[name, cid]:
                    graded[name, cid] = [Result(**r) for r in hit["results"]]
                    continue
                why = f"no {chapter.stem}.ipynb in this submission (chapter {cid} missing)"
                tasks.append(Task(name, cid, str(nb) if nb else None, why))
        bar = _Progress(len(tasks), quiet)
        if not quiet:
            reused = len(keys) - len(tasks)
            counts = f"{len(who)} learners, {len(keys)} notebooks: {len(tasks)} to grade, {reused} unchanged"
            print(counts, file=sys.stderr)

        def done(task: Task, results: list[Result]) -> None:
            graded[task.learner, task.chapter] = results
            bar.step(f"{task.learner} {task.chapter}")

        run_all(tasks, chapters, snap, limits, workers or min(2, os.cpu_count() or 1), done)
    cache = {
        f"{n}/{c}": {"key": keys[n, c], "results": [asdict(r) for r in rs]} for (n, c), rs in graded.items()
    }
    cache_path.write_text(json.dumps(cache), encoding="utf-8")
    by_learner = {name: [r for cid in chapters for r in graded[name, cid]] for name in who}
    changed = [name for name, src in who.items() if file_hashes(src) != before[name]]
    for name in changed:  # never expected: say it loudly rather than hide it
        notes[name].append("WARNING: this submission's files changed while it was being graded")
    if take_snapshot(root) != snap:
        print("warning: the workbook's files changed during grading; verdicts used the snapshot taken at start",
              file=sys.stderr)
    write_csv(by_learner, list(chapters.values()), out / "gradebook.csv")
    (out / "results.json").write_text(
        json.dumps({n: [asdict(r) for r in rs] for n, rs in by_learner.items()}, indent=1), encoding="utf-8"
    )
    write_report(by_learner, list(chapters.values()), notes, out / "report.html")
    return by_learner


def exercise_scores(results: list[Result]) -> dict[str, float]:
    """Exercise id → share of its checks that pass (1.0: done)."""
    per: dict[str, list[bool]] = {}
    for r in results:
        per.setdefault(r.exercise, []).append(r.passed)
    return {ex: sum(v) / len(v) for ex, v in per.items()}


def write_csv(by_learner: dict[str, list[Result]], chapters: list[registry.Chapter], path: Path) -> None:
    exercises = [ex.id for c in chapters for ex in c.exercises]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["learner", *exercises, *(f"chapter {c.id}" for c in chapters), "total", "out of"])
        for name, results in by_learner.items():
            score = exercise_scores(results)
            per_chapter = [sum(score.get(ex.id, 0.0) for ex in c.exercises) for c in chapters]
            writer.writerow([
                name,
                *(f"{score.get(ex, 0.0):.2f}" for ex in exercises),
                *(f"{v:.2f}" for v in per_chapter),
                f"{sum(per_chapter):.2f}",
                len(exercises),
            ])


def main(args: argparse.Namespace) -> int:
    submissions = Path(args.submissions)
    if not submissions.is_dir():
        print(f"workbook: error: {submissions} is not a folder of submissions", file=sys.stderr)
        return 2
    limits = Limits(args.timeout, args.total_timeout, args.memory_mb)
    started = time.monotonic()
    results = grade_all(submissions, Path(args.out), limits, args.workers)
    out = Path(args.out)
    print(f"graded {len(results)} learners in {time.monotonic() - started:.1f} s")
    print(f"  {out / 'gradebook.csv'}\n  {out / 'report.html'}")
    return 0
