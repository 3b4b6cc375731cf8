"""Which exercises' checks rely on another exercise being solved (the registry's ``needs``).

Not a test (it runs one notebook per exercise, minutes of kernel time): a maintainer's
tool. For each exercise X of a chapter it takes the solution, puts X back to its starter,
grades it, and lists the other exercises whose checks then fail: each of those needs X.

    .venv/bin/python tests/find_needs.py 01 04
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from workbook import notebooks, registry
from workbook.execute import grade


def needs_of(chapter: registry.Chapter) -> dict[str, set[str]]:
    """exercise id → the exercises it needs."""
    found: dict[str, set[str]] = {ex.id: set() for ex in chapter.exercises}
    cells = notebooks.exercise_cells(notebooks.read(chapter.solution))
    with tempfile.TemporaryDirectory() as tmp:
        for ex in chapter.exercises:
            nb = notebooks.read(chapter.solution)
            for i in cells[ex.id]:
                nb.cells[i].source = notebooks.starter_source(nb.cells[i].source)
            path = Path(tmp) / chapter.solution.name
            notebooks.write(nb, path)
            broken = {r.exercise for r in grade(chapter, path) if not r.passed and r.exercise != ex.id}
            for other in broken:
                found[other].add(ex.id)
            print(f"{ex.id} reset to its starter breaks: {sorted(broken) or 'nothing else'}", flush=True)
    return found


if __name__ == "__main__":
    for chapter_id in sys.argv[1:] or [c.id for c in registry.chapters()]:
        chapter = registry.chapter(chapter_id)
        for ex, needs in needs_of(chapter).items():
            if needs:
                print(f'{ex}: needs = {sorted(needs)!r}'.replace("'", '"'))
