"""How long does `workbook grade` take for a workshop, and what does it add to running the notebooks?

Generates LEARNERS submissions (a third correct, a third with one exercise left at its
starter, a third broken: starter answers plus a syntax error) for every registered
chapter that has a solution and a checks module, then in the same run:

1. grades them with ``grade_all`` on WORKERS processes (one fresh kernel per notebook);
2. executes the very same notebooks with plain ``jupyter nbconvert --execute``,
   WORKERS at a time.

It prints both totals, the per-notebook cost of each and their ratio (the grader's
overhead: snapshot, copies, a kernel per notebook, the checks over HTTP), and the
projection to 30 learners × 7 chapters. Ratios are measured in the same run because
the machine is shared; absolute seconds move with its load.

With ``--cluster`` it then grades the same notebooks on a local Dask cluster of one worker and
of two (``workbook grade --cluster``; loopback, single-threaded workers) and prints the speed-up,
next to the machine's own bound measured in the same run: plain nbconvert one notebook at a time
against two at a time (on a shared 2-core machine two workers cannot gain more than that).

    .venv/bin/python benchmarks/bench_grading.py [--learners 30] [--workers 2] [--cluster]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from workbook import notebooks, projects, registry
from workbook.grading import sandbox
from workbook.grading.command import grade_all
from workbook.grading.limits import Limits

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"(### BEGIN SOLUTION[ \t]*\n)", re.MULTILINE)


def gradable() -> list[registry.Chapter]:
    return [c for c in registry.chapters(ROOT) if c.solution.exists() and c.checks_module.exists()]


def submission(chapter: registry.Chapter, kind: str, learner: int) -> object:
    nb = notebooks.read(chapter.solution)
    cells = notebooks.exercise_cells(nb)
    ids = sorted(cells)
    if kind == "partial":  # one exercise left as its starter
        index = cells[ids[learner % len(ids)]][0]
        nb.cells[index].source = notebooks.starter_source(nb.cells[index].source)
    elif kind == "broken":  # starter answers and a syntax error
        nb = notebooks.make_starter(nb)
        index = cells[ids[learner % len(ids)]][0]
        nb.cells[index].source += "\nthis is not python ("
    return nb


def generate(into: Path, learners: int, chapters: list[registry.Chapter]) -> list[Path]:
    """Each learner's notebooks, and beside a chapter whose exercises are files (09) its project
    folder: the solved project for a correct learner, the starter's for the others."""
    paths = []
    for n in range(learners):
        kind = ("correct", "partial", "broken")[n % 3]
        folder = into / f"learner{n:02d}_{kind}"
        folder.mkdir(parents=True)
        for chapter in chapters:
            path = folder / f"{chapter.stem}.ipynb"
            notebooks.write(submission(chapter, kind, n), path)
            paths.append(path)
            if (dirs := projects.project_dirs(ROOT, chapter.id)) is not None:
                solved, starter = dirs
                mine = folder / starter.relative_to(ROOT / "notebooks")
                shutil.copytree(solved if kind == "correct" else starter, mine,
                                ignore=shutil.ignore_patterns("__pycache__", "*.db", "*.sqlite*"))  # fmt: skip
    return paths


class Cores:
    """How many cores the whole machine kept busy between ``start()`` and ``busy()``: one grading
    worker is a kernel, its apps and the checks, so it can use more than one core, and then two
    workers on this machine cannot reach 2× one."""

    def start(self) -> None:
        self.began, self.cpu = time.monotonic(), psutil.cpu_times()

    def busy(self) -> float:
        now = psutil.cpu_times()
        idle = (now.idle - self.cpu.idle) + (getattr(now, "iowait", 0.0) - getattr(self.cpu, "iowait", 0.0))
        total = sum(now) - sum(self.cpu)
        return (total - idle) / (time.monotonic() - self.began)


def nbconvert_all(paths: list[Path], workers: int, out: Path) -> float:
    jupyter = Path(sys.executable).with_name("jupyter")

    def run(path: Path) -> None:
        subprocess.run(
            [str(jupyter), "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
             "--ExecutePreprocessor.timeout=30", "--output-dir", str(out / path.parent.name), str(path)],
            cwd=path.parent, capture_output=True, check=False,
        )  # fmt: skip

    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, paths))
    return time.monotonic() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cluster", action="store_true", help="also time a local Dask cluster of 1 and 2 workers")
    ap.add_argument("--chapters", nargs="*", help="only these chapter ids (default: every gradable one)")
    args = ap.parse_args()
    chapters = [c for c in gradable() if not args.chapters or c.id in args.chapters]
    if not chapters:
        print("no chapter has both a solution and a checks module")
        return 1
    if args.cluster and shutil.which("dask", path=str(Path(sys.executable).parent)) is None:
        print("--cluster needs Dask distributed in this environment (python3 dev.py setup installs it)")
        return 1
    os.environ["WORKBOOK_NO_RECORD"] = "1"
    say = lambda line: print(line, flush=True)  # noqa: E731 - each figure as soon as it is measured
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        base = Path(tmp)
        paths = generate(base / "submissions", args.learners, chapters)
        n = len(paths)
        say(f"{args.learners} learners × {len(chapters)} chapters ({', '.join(c.id for c in chapters)}) "
            f"= {n} notebooks, {args.workers} workers, {os.cpu_count()} cores")
        started = time.monotonic()
        graded = grade_all(base / "submissions", base / "out", Limits(), args.workers, ROOT, quiet=True)
        t_grade = time.monotonic() - started
        full = sum(all(r.passed for r in rs) for rs in graded.values())
        say(f"graded: {full} of {len(graded)} learners with every check passing (expected {(args.learners + 2) // 3})")
        say(f"workbook grade          {t_grade:7.1f} s   {t_grade / n:5.2f} s per notebook")
        started = time.monotonic()
        grade_all(base / "submissions", base / "out", Limits(), args.workers, ROOT, quiet=True)
        say(f"re-run, nothing changed {time.monotonic() - started:7.1f} s")
        t_plain = nbconvert_all(paths, args.workers, base / "nbconvert")
        shutil.rmtree(base / "nbconvert", ignore_errors=True)
        say(f"nbconvert --execute     {t_plain:7.1f} s   {t_plain / n:5.2f} s per notebook")
        say(f"grading / nbconvert     {t_grade / t_plain:7.2f}×  (same notebooks, same run, same workers)")
        if args.cluster:
            from workbook.grading.cluster import local_cluster

            t_cluster: dict[int, float] = {}
            busy: dict[int, float] = {}
            cores = Cores()
            for size in (1, 2):
                with local_cluster(size) as address:
                    started = time.monotonic()
                    cores.start()
                    on = grade_all(base / "submissions", base / f"out-{size}", Limits(), root=ROOT, quiet=True,
                                   cluster=address)  # fmt: skip
                    t_cluster[size] = took = time.monotonic() - started
                    busy[size] = cores.busy()
                verdicts = lambda by: {(n, r.test, r.passed) for n, rs in by.items() for r in rs}  # noqa: E731
                assert verdicts(on) == verdicts(graded), "the cluster's verdicts differ from the local run's"
                say(f"cluster, {size} worker{'s' if size > 1 else ' '}       {took:7.1f} s   {took / n:5.2f} s per "
                    f"notebook, {busy[size]:.2f} of {os.cpu_count()} cores busy (same verdicts as the local run)")
            say(f"cluster speed-up 2 vs 1 {t_cluster[1] / t_cluster[2]:7.2f}×")
            cpus = os.cpu_count() or 1
            say(f"bound from cores busy   {min(2.0, cpus / busy[1]):7.2f}×  ({cpus} cores / {busy[1]:.2f} busy "
                "with one worker: the most a second worker on this machine can add)")
            t_serial = nbconvert_all(paths, 1, base / "nbconvert")
            shutil.rmtree(base / "nbconvert", ignore_errors=True)
            say(f"nbconvert, 1 at a time  {t_serial:7.1f} s")
            say(f"bound: nbconvert 2 vs 1 {t_serial / t_plain:7.2f}×  (what two parallel runs gain on this machine)")
    why = sandbox.unavailable()
    print("kernels sandboxed with bubblewrap" if why is None else f"kernels NOT sandboxed: {why}")
    projected = t_grade / n * 30 * 7
    verdict = "within" if projected < 120 else "over"
    print(f"30 learners × 7 chapters at this rate: {projected:.0f} s ({verdict} the 2-minute target; "
          "chapters that serve more apps or sleep take longer than this average)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
