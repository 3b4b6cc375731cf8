"""The ``workbook`` command: check a chapter's notebook from a terminal or CI.

Exit status: 0 every check passes, 1 some check fails, 2 the input is wrong.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from workbook import projects, registry
from workbook.notebooks import NotebookError, make_starter, read, write
from workbook.platforms import unavailable
from workbook.results import summary, to_json, to_text

USAGE_ERROR = 2


def _check(args: argparse.Namespace) -> int:
    from workbook.execute import grade

    chapter, exercise = registry.resolve(args.chapter)
    exercises = [exercise] if exercise else list(chapter.exercises)
    path = Path(args.notebook) if args.notebook else chapter.notebook
    read(path)  # fail fast, with exit status 2, on a missing or broken notebook
    not_here = unavailable(chapter, exercises)
    if not args.json and not_here is None:
        print(f"Running {path} in a fresh kernel, then checking chapter {chapter.id}…", file=sys.stderr)
    results = not_here or grade(chapter, path, exercises, cell_timeout=args.timeout, total_timeout=args.total_timeout)
    if path.resolve() == chapter.notebook.resolve():  # the learner's own notebook: that is progress
        from workbook import progress

        progress.record(results, chapter.root)
    print(to_json(results) if args.json else to_text(results))
    if not args.json:
        print(summary(results), file=sys.stderr)
    return 0 if results and all(r.passed for r in results) else 1


def _starters(args: argparse.Namespace) -> int:
    """Regenerate (or with --verify, compare) every starter from its solution."""
    stale = []
    only = _chapter_id(args.chapter) if args.chapter else None
    for chapter in registry.chapters():
        if only and chapter.id != only:
            continue
        if args.execute:
            _execute_in_place(chapter.solution)
        wanted = make_starter(read(chapter.solution))
        if args.verify:
            have = read(chapter.notebook) if chapter.notebook.exists() else None
            sources = lambda nb: [(c.cell_type, c.source) for c in nb.cells]  # noqa: E731
            if have is None or sources(have) != sources(wanted):
                stale.append(str(chapter.notebook))
        else:
            write(wanted, chapter.notebook)
            print(f"wrote {chapter.notebook}")
    stale += _projects(only, verify=args.verify)
    if stale:
        print("starter out of date with its solution (run `workbook starters`):", *stale, sep="\n  ")
        return 1
    return 0


def _chapter_id(given: str) -> str:
    """A registered chapter's id, or a chapter with a project that is not registered yet."""
    try:
        return registry.chapter(given).id
    except registry.RegistryError:
        if given.isdigit() and f"{int(given):02d}" in projects.PROJECTS:
            return f"{int(given):02d}"
        raise


def _projects(only: str | None, verify: bool) -> list[str]:
    """Write (or compare) the learner's project of each chapter with file exercises."""
    stale = []
    root = registry.find_root()
    for chapter_id in projects.PROJECTS:
        if only and chapter_id != only:
            continue
        solved, learner = projects.project_dirs(root, chapter_id) or (root, root)
        if verify:
            stale += [str(learner / rel) for rel in projects.stale(solved, learner)]
        else:
            projects.write(solved, learner)
            print(f"wrote {learner}/")
    return stale


def _execute_in_place(path: Path) -> None:
    """Run a solution notebook and keep its outputs (what learners see, what nbval compares)."""
    import subprocess

    print(f"executing {path}", file=sys.stderr)
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace", str(path)]
    subprocess.run(cmd, check=True, capture_output=True)


def _list(_: argparse.Namespace) -> int:
    for chapter in registry.chapters():
        print(f"{chapter.id}  {chapter.title}  ({chapter.minutes} min)")
        for ex in chapter.exercises:
            print(f"    {ex.id}  {ex.title}  [{len(ex.checks)} checks]")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="workbook", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="run a notebook in a fresh kernel and check its apps")
    check.add_argument("chapter", help='chapter id ("01", "1") or exercise id ("01.2", "1.2")')
    check.add_argument("--notebook", help="notebook to check (default: notebooks/<chapter>.ipynb)")
    check.add_argument("--json", action="store_true", help="print machine-readable results")
    check.add_argument("--timeout", type=float, default=30.0, help="seconds allowed per cell")
    check.add_argument("--total-timeout", type=float, default=300.0, help="seconds for the notebook")
    check.set_defaults(run=_check)
    starters = sub.add_parser("starters", help="regenerate starter notebooks from solutions")
    starters.add_argument("chapter", nargs="?")
    starters.add_argument("--verify", action="store_true", help="only compare; exit 1 if stale")
    starters.add_argument("--execute", action="store_true", help="first run each solution in place")
    starters.set_defaults(run=_starters)
    sub.add_parser("list", help="list chapters and exercises").set_defaults(run=_list)
    _learner_commands(sub)
    return top


def _learner_commands(sub: argparse._SubParsersAction) -> None:
    """progress, reset, watch (learners) and grade (instructors); each lives in its own module."""

    def lazy(module: str) -> Callable[[argparse.Namespace], int]:
        return lambda args: int(importlib.import_module(f"workbook.{module}").main(args))

    sub.add_parser("progress", help="chapters × exercises done, from the latest checks").set_defaults(
        run=lazy("progress")
    )
    reset = sub.add_parser("reset", help="restore a chapter's (or one exercise's) starter; backs up first")
    reset.add_argument("chapter", help='chapter id ("01", "1") or exercise id ("01.3", "1.3")')
    reset.add_argument("--exercise", help='only this exercise ("3", "1.3" or "01.3")')
    reset.add_argument("--notebook", help="notebook to reset (default: notebooks/<chapter>.ipynb)")
    reset.set_defaults(run=lazy("reset"))
    watch = sub.add_parser("watch", help="re-check a chapter every time its notebook is saved")
    watch.add_argument("chapter", help='chapter id ("01", "1") or exercise id ("01.2", "1.2")')
    watch.add_argument("--notebook", help="notebook to watch (default: notebooks/<chapter>.ipynb)")
    watch.add_argument("--interval", type=float, default=0.5, help="seconds between looks at the file")
    watch.add_argument("--runs", type=int, default=None, help=argparse.SUPPRESS)  # tests: stop after N checks
    watch.set_defaults(run=lazy("watch"))
    grade = sub.add_parser("grade", help="grade a folder of submissions (one folder or .zip per learner)")
    grade.add_argument("submissions", help="folder holding one folder or .zip per learner")
    grade.add_argument("--out", required=True, help="where to write the gradebook, reports and LMS files")
    from workbook.grading.limits import Limits

    grade.add_argument("--timeout", type=float, default=Limits.cell_timeout, help="seconds allowed per cell")
    grade.add_argument("--total-timeout", type=float, default=Limits.total_timeout, help="seconds per notebook")
    grade.add_argument("--memory-mb", type=float, default=Limits.memory_mb, help="memory a kernel may allocate")
    grade.add_argument("--workers", type=int, default=None, help="kernels at once (default: 2, or 1 core)")
    grade.add_argument("--roster", help="CSV: learner,name,email,canvas_id,sis_user_id,sis_login_id,section,id_number")
    grade.add_argument("--cluster", help="Dask scheduler address (tcp://host:8786): grade on its workers")
    grade.set_defaults(run=lazy("grading"))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (registry.RegistryError, NotebookError) as exc:
        print(f"workbook: error: {exc}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
