"""Does skipping the ``workbook-demo`` cells change any verdict? Grade every solution, starter and
wrong answer of the chapters that tag demos twice — demos skipped (what ``workbook grade`` does)
and demos run — and compare every check's state; print the time each way (not a CI test: minutes).

    .venv/bin/python benchmarks/demo_verdicts.py [--chapters 01 09] [--workers 2]

Exit status 1 if any check's state differs. tests/test_chapters.py proves the expected verdicts
with demos skipped on every CI run; this proves they are the ones a full run gives, check by check.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import replace_solution  # noqa: E402
from test_chapters import _wrong_answers, _wrong_project  # noqa: E402

from workbook import notebooks, registry  # noqa: E402
from workbook.grading.execute import DEMO_TAG, grade  # noqa: E402


def has_demos(chapter: registry.Chapter) -> bool:
    return any(DEMO_TAG in c.get("metadata", {}).get("tags", []) for c in notebooks.read(chapter.solution).cells)


def cases(chapter: registry.Chapter, into: Path) -> list[tuple[str, Path]]:
    """(label, notebook) for the solution, the starter and each wrong answer, written under ``into``."""
    found = [("solution", chapter.solution), ("starter", chapter.notebook)]
    for n, (ch, wrong) in enumerate(w for w in _wrong_answers() if w[0].id == chapter.id):
        folder = into / f"{chapter.id}-wrong{n}"
        folder.mkdir(parents=True)
        nb = notebooks.read(ch.solution)
        if "file" in wrong:
            _wrong_project(ch, wrong, folder)
        else:
            (index,) = notebooks.exercise_cells(nb)[wrong["exercise"]][:1]
            nb.cells[index].source = replace_solution(nb.cells[index].source, wrong["code"])
        notebooks.write(nb, folder / ch.solution.name)
        found.append((f"wrong {wrong['exercise']} → {wrong['fails']}", folder / ch.solution.name))
    return found


def graded(job: tuple[str, str, bool]) -> tuple[float, list[tuple[str, str]]]:
    """One notebook graded in this process: seconds, and (check, state) for every check."""
    chapter_id, path, skip = job
    started = time.monotonic()
    results = grade(registry.chapter(chapter_id, ROOT), Path(path), skip_demos=skip)
    return time.monotonic() - started, [(r.test, r.state) for r in results]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chapters", nargs="*", help="chapter ids (default: every chapter that tags a demo)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    chapters = [c for c in registry.chapters(ROOT) if (not args.chapters or c.id in args.chapters) and has_demos(c)]
    if not chapters:
        print("no chosen chapter tags a cell workbook-demo")
        return 1
    differ = 0
    seconds = {True: 0.0, False: 0.0}
    with tempfile.TemporaryDirectory(prefix="demo-verdicts-") as tmp, ProcessPoolExecutor(args.workers) as pool:
        todo = [(c, label, path) for c in chapters for label, path in cases(c, Path(tmp))]
        print(f"{len(todo)} notebooks ({', '.join(c.id for c in chapters)}), each graded twice, "
              f"{args.workers} at a time", flush=True)  # fmt: skip
        futures = {(n, skip): pool.submit(graded, (c.id, str(path), skip))
                   for n, (c, _, path) in enumerate(todo) for skip in (True, False)}  # fmt: skip
        for n, (c, label, _) in enumerate(todo):  # by position: two wrong answers may share a label
            t_skip, skipped = futures[n, True].result()
            t_full, full = futures[n, False].result()
            seconds[True] += t_skip
            seconds[False] += t_full
            same = skipped == full
            differ += not same
            print(f"{c.id} {label:60.60} {'same' if same else 'DIFFERENT'} verdicts   "
                  f"{t_skip:5.1f} s skipped / {t_full:5.1f} s run", flush=True)  # fmt: skip
            if not same:
                for (test, a), (_, b) in zip(skipped, full, strict=False):
                    if a != b:
                        print(f"    {test}: {a} with demos skipped, {b} with demos run")
    ratio = seconds[True] / seconds[False]
    print(f"{len(todo) - differ} of {len(todo)} notebooks: every check's state the same; grading time "
          f"{seconds[True]:.0f} s with demos skipped vs {seconds[False]:.0f} s run ({ratio:.2f}×)")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
