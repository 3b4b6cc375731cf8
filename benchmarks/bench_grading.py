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

from workbook import notebooks, registry
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
    paths = []
    for n in range(learners):
        kind = ("correct", "partial", "broken")[n % 3]
        folder = into / f"learner{n:02d}_{kind}"
        folder.mkdir(parents=True)
        for chapter in chapters:
            path = folder / f"{chapter.stem}.ipynb"
            notebooks.write(submission(chapter, kind, n), path)
            paths.append(path)
    return paths


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
    args = ap.parse_args()
    chapters = gradable()
    if not chapters:
        print("no chapter has both a solution and a checks module")
        return 1
    os.environ["WORKBOOK_NO_RECORD"] = "1"
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        base = Path(tmp)
        paths = generate(base / "submissions", args.learners, chapters)
        n = len(paths)
        print(f"{args.learners} learners × {len(chapters)} chapters ({', '.join(c.id for c in chapters)}) "
              f"= {n} notebooks, {args.workers} workers, {os.cpu_count()} cores")
        started = time.monotonic()
        graded = grade_all(base / "submissions", base / "out", Limits(), args.workers, ROOT, quiet=True)
        t_grade = time.monotonic() - started
        started = time.monotonic()
        grade_all(base / "submissions", base / "out", Limits(), args.workers, ROOT, quiet=True)
        t_rerun = time.monotonic() - started
        t_plain = nbconvert_all(paths, args.workers, base / "nbconvert")
        shutil.rmtree(base / "nbconvert", ignore_errors=True)
        t_cluster: dict[int, float] = {}
        t_serial = 0.0
        if args.cluster:
            t_serial = nbconvert_all(paths, 1, base / "nbconvert")
            shutil.rmtree(base / "nbconvert", ignore_errors=True)
            from workbook.grading.cluster import local_cluster

            for size in (1, 2):
                with local_cluster(size) as address:
                    started = time.monotonic()
                    on = grade_all(base / "submissions", base / f"out-{size}", Limits(), root=ROOT, quiet=True,
                                   cluster=address)  # fmt: skip
                    t_cluster[size] = time.monotonic() - started
                verdicts = lambda by: {(n, r.test, r.passed) for n, rs in by.items() for r in rs}  # noqa: E731
                assert verdicts(on) == verdicts(graded), "the cluster's verdicts differ from the local run's"
    full = sum(all(r.passed for r in rs) for rs in graded.values())
    print(f"graded: {full} of {len(graded)} learners with every check passing (expected {(args.learners + 2) // 3})")
    print(f"workbook grade          {t_grade:7.1f} s   {t_grade / n:5.2f} s per notebook")
    print(f"re-run, nothing changed {t_rerun:7.1f} s")
    print(f"nbconvert --execute     {t_plain:7.1f} s   {t_plain / n:5.2f} s per notebook")
    print(f"grading / nbconvert     {t_grade / t_plain:7.2f}×  (same notebooks, same run, same workers)")
    for size, took in t_cluster.items():
        print(f"cluster, {size} worker{'s' if size > 1 else ' '}       {took:7.1f} s   {took / n:5.2f} s per notebook")
    if t_cluster:
        print(f"cluster speed-up 2 vs 1 {t_cluster[1] / t_cluster[2]:7.2f}×  (same verdicts as the local run)")
        print(f"nbconvert, 1 at a time  {t_serial:7.1f} s")
        print(f"bound: nbconvert 2 vs 1 {t_serial / t_plain:7.2f}×  (what two parallel runs gain on this machine now)")
    why = sandbox.unavailable()
    print("kernels sandboxed with bubblewrap" if why is None else f"kernels NOT sandboxed: {why}")
    projected = t_grade / n * 30 * 7
    verdict = "within" if projected < 120 else "over"
    print(f"30 learners × 7 chapters at this rate: {projected:.0f} s ({verdict} the 2-minute target; "
          "chapters that serve more apps or sleep take longer than this average)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
