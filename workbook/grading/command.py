"""``workbook grade SUBMISSIONS --out DIR``: grade a workshop's notebooks at once.

SUBMISSIONS holds one folder or ``.zip`` per learner. Every notebook found for a
registered chapter runs in its own kernel on a worker (``grading_pool``), on a
temporary copy: the submissions are only ever read. Verdicts are cached in DIR by
a hash of the notebook, the grader's snapshot of registry + checks + runtime and
the limits, so a re-run regrades only what changed. DIR gets ``gradebook.csv``
(learner × exercise, totals), ``report.html`` (the class overview), ``results.json``,
``learners/`` (one JSON + HTML file per learner, to hand out) and ``canvas.csv`` /
``moodle.csv`` (see ``gradebook``). Kernels run in a sandbox where bubblewrap can (``sandbox``);
``--cluster`` runs the same tasks on a Dask cluster (``cluster``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

from workbook import projects, registry
from workbook.grading import gradebook, sandbox
from workbook.grading.limits import Limits, Task
from workbook.grading.pool import run_all
from workbook.grading.snapshot import digest, take_snapshot
from workbook.grading.submissions import copy_in, file_stamps, find_notebook, learners
from workbook.results import Result

GRADER_VERSION = "2"


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
    roster: dict[str, dict[str, str]] | None = None,
    cluster: str | None = None,
) -> dict[str, list[Result]]:
    """Grade every learner in ``submissions``; write the gradebook into ``out``; return learner → results."""
    limits = limits or Limits()
    isolation = None if cluster else sandbox.unavailable()  # on a cluster: what its workers report
    if isolation is not None:  # even when quiet: the instructor must know
        print(sandbox.warning(isolation), file=sys.stderr)
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
    hide = (str(submissions.resolve()), str(out.resolve()), str(Path.home()))
    before = {name: file_stamps(src) for name, src in who.items()}
    graded: dict[tuple[str, str], list[Result]] = {}
    notes: dict[str, list[str]] = {}
    tasks: list[Task] = []
    keys: dict[tuple[str, str], str] = {}
    with tempfile.TemporaryDirectory(prefix="workbook-grade-") as scratch:
        for index, (name, src) in enumerate(who.items()):
            copy = Path(scratch) / f"learner{index:04d}"
            copied = copy_in(src, copy)
            notes[name] = copied.skipped
            for cid, chapter in chapters.items():
                nb = find_notebook(copy, chapter)
                data = copied.notebooks.get(nb) if nb else None
                if nb and data is None:  # not expected: find_notebook looks only at what was copied
                    data = nb.read_bytes()
                content = data if data is not None else b"<missing>"
                for path in projects.beside(nb, cid) if nb else []:  # chapter 09: its project folder is graded too
                    rel = path.relative_to(copy).as_posix().encode()
                    content += b"|" + rel + b"\0" + hashlib.sha256(path.read_bytes()).digest()
                keys[name, cid] = hashlib.sha256(f"{key_base}|{cid}|".encode() + content).hexdigest()
                hit = cache.get(f"{name}/{cid}")
                if hit and hit.get("key") == keys[name, cid]:
                    graded[name, cid] = [Result(**r) for r in hit["results"]]
                    continue
                why = f"no {chapter.stem}.ipynb in this submission (chapter {cid} missing)"
                if nb and cid in projects.PROJECTS and not projects.beside(nb, cid):  # say so; boot no kernel for it
                    folder = Path(projects.PROJECTS[cid][1]).relative_to("notebooks").parent
                    why = (f"no {folder}/ folder next to {nb.name} in this submission: chapter {cid}'s exercises are "
                           f"files in it, so submit the folder with the notebook")  # fmt: skip
                    nb = None
                tasks.append(Task(name, cid, str(nb) if nb else None, why, str(copy), hide, data))
        # Longest first (a registry grade_timeout marks chapter 09, which boots gunicorn several times),
        # so a run does not end on one long notebook while the other slots sit idle; missing ones last.
        tasks.sort(key=lambda t: (t.notebook is None, -(chapters[t.chapter].grade_timeout or limits.total_timeout)))
        bar = _Progress(len(tasks), quiet)
        if not quiet:
            reused = len(keys) - len(tasks)
            counts = f"{len(who)} learners, {len(keys)} notebooks: {len(tasks)} to grade, {reused} unchanged"
            print(counts, file=sys.stderr)

        def done(task: Task, results: list[Result]) -> None:
            graded[task.learner, task.chapter] = results
            bar.step(f"{task.learner} {task.chapter}")

        if cluster:
            from workbook.grading.cluster import run_on_cluster

            isolation = run_on_cluster(cluster, tasks, chapters, snap, limits, done)
            if isolation is not None:
                print(sandbox.warning(isolation), file=sys.stderr)
        else:
            run_all(tasks, chapters, snap, limits, workers or min(2, os.cpu_count() or 1), done)
    cache = {
        f"{n}/{c}": {"key": keys[n, c], "results": [asdict(r) for r in rs]} for (n, c), rs in graded.items()
    }
    cache_path.write_text(json.dumps(cache), encoding="utf-8")
    by_learner = {name: [r for cid in chapters for r in graded[name, cid]] for name in who}
    changed = [name for name, src in who.items() if file_stamps(src) != before[name]]
    for name in changed:  # never expected: say it loudly rather than hide it
        notes[name].append("WARNING: this submission's files changed while it was being graded")
    if take_snapshot(root) != snap:
        print("warning: the workbook's files changed during grading; verdicts used the snapshot taken at start",
              file=sys.stderr)
    gradebook.write_all(out, by_learner, list(chapters.values()), notes, roster or {}, isolation)
    return by_learner


def main(args: argparse.Namespace) -> int:
    submissions = Path(args.submissions)
    if not submissions.is_dir():
        print(f"workbook: error: {submissions} is not a folder of submissions", file=sys.stderr)
        return 2
    limits = Limits(args.timeout, args.total_timeout, args.memory_mb)
    try:
        roster = gradebook.read_roster(Path(args.roster)) if args.roster else None
    except (OSError, ValueError) as exc:
        print(f"workbook: error: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    results = grade_all(submissions, Path(args.out), limits, args.workers, roster=roster, cluster=args.cluster)
    out = Path(args.out)
    print(f"graded {len(results)} learners in {time.monotonic() - started:.1f} s")
    for name in ("gradebook.csv", "report.html", "learners/", "canvas.csv", "moodle.csv"):
        print(f"  {out / name}")
    return 0
