"""`workbook grade` reads each submitted notebook exactly once (while copying the learner) and
never reads a copy back: the cache key and the grading worker use the bytes of that one read.
Counted with an audit hook on every file open of this process; the worker process proves it by
grading correctly although its copy on disk is overwritten with garbage after the copy."""

from __future__ import annotations

import io
import sys
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "grading_fixtures"))
import make  # noqa: E402

from workbook import notebooks  # noqa: E402
from workbook.grading import command, submissions  # noqa: E402
from workbook.grading.command import grade_all  # noqa: E402
from workbook.grading.limits import Limits  # noqa: E402

LIMITS = Limits(cell_timeout=8, total_timeout=60, memory_mb=600)
_opens: Counter[tuple[str, str]] | None = None  # (path, "r" or "w") → how often; None: not counting


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opens is not None and event == "open" and isinstance(args[0], str | Path) and str(args[0]).endswith(
        (".ipynb", ".zip")
    ):
        mode = str(args[1] or "r")
        _opens[str(Path(args[0]).resolve()), "w" if any(c in mode for c in "wax+") else "r"] += 1


sys.addaudithook(_audit)  # audit hooks cannot be removed: it counts only while _opens is set


@pytest.mark.slow
def test_each_notebook_is_read_once_and_no_copy_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    global _opens
    root = make.toy_root(tmp_path / "root")
    subs = tmp_path / "subs"
    (subs / "folder").mkdir(parents=True)
    notebooks.write(make.toy(), subs / "folder" / "90_toy.ipynb")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("work/90_toy.ipynb", (subs / "folder" / "90_toy.ipynb").read_bytes())
    (subs / "zipped.zip").write_bytes(buffer.getvalue())
    copies: list[Path] = []
    real = submissions.copy_in

    def copy_then_spoil(source: Path, into: Path) -> submissions.Copied:
        copied = real(source, into)
        for path in copied.notebooks:  # a re-read would now find garbage: "not a valid notebook"
            copies.append(path.resolve())
            path.write_text("not a notebook any more")
        return copied

    monkeypatch.setattr(command, "copy_in", copy_then_spoil)
    _opens = Counter()
    try:
        results = grade_all(subs, tmp_path / "out", LIMITS, workers=2, root=root, quiet=True)
    finally:
        opens, _opens = _opens, None
    sources = [(subs / "folder" / "90_toy.ipynb").resolve(), (subs / "zipped.zip").resolve()]
    assert [opens[str(s), "r"] for s in sources] == [1, 1], opens
    assert len(copies) == 2 and all(opens[str(c), "r"] == 0 for c in copies), opens
    for name in ("folder", "zipped"):  # graded from the bytes of the one read: 90.1 passes, as in the toy
        assert all(r.passed for r in results[name] if r.exercise == "90.1"), [r.message for r in results[name]]
