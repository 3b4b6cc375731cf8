"""Generate a workshop's worth of submissions from solutions/01_models.ipynb.

Generated at test time (never committed): each is the solution, or its starter,
with one small edit that a real learner might make — or that a cheat would. The
expectations say which exercises must pass and what a failing verdict must say.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbook import notebooks

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = {"01.1", "01.2", "01.3", "01.4", "01.5"}
_BLOCK = re.compile(r"(### BEGIN SOLUTION[ \t]*\n).*?(^[ \t]*### END SOLUTION)", re.DOTALL | re.MULTILINE)


@dataclass
class Case:
    build: Callable[[Path], None]  # writes the learner's folder (or zip) under the given path
    passes: set[str] = field(default_factory=set)  # exercises whose checks must all pass
    says: dict[str, str] = field(default_factory=dict)  # exercise → a piece of its failing message


def solution() -> Any:
    return notebooks.read(ROOT / "solutions" / "01_models.ipynb")


def starter() -> Any:
    return notebooks.make_starter(solution())


def cell(nb: Any, exercise: str) -> Any:
    return nb.cells[notebooks.exercise_cells(nb)[exercise][0]]


def serve_cell(nb: Any) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "serve(build_app)" in c.source)


def add_cell(nb: Any, index: int, source: str) -> Any:
    new = copy.deepcopy(nb.cells[serve_cell(nb)])
    new.update(source=source, outputs=[], execution_count=None, metadata={})
    nb.cells.insert(index, new)
    return nb


def in_solution(nb: Any, exercise: str, code: str, where: str = "start") -> Any:
    """Put ``code`` at the start or end of an exercise's solution block."""
    def put(m: re.Match[str]) -> str:
        body = m.group(0)[len(m.group(1)) : -len(m.group(2))]
        return m.group(1) + (code + "\n" + body if where == "start" else body + code + "\n") + m.group(2)

    c = cell(nb, exercise)
    c.source = _BLOCK.sub(put, c.source, count=1)
    return nb


def folder(nb: Any | None = None, name: str = "01_models.ipynb", raw: bytes | None = None) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        path.mkdir(parents=True)
        if raw is not None:
            (path / name).write_bytes(raw)
        elif nb is not None:
            notebooks.write(nb, path / name)
        (path / "notes.txt").write_text("my notes\n")
    return build


def zipped(nb: Any) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("work/notebooks/01_models.ipynb", notebooks.json.dumps(nb))
            archive.writestr("../escape.txt", "a member that tries to leave the folder")
        path.with_suffix(".zip").write_bytes(buffer.getvalue())
    return build


def partial() -> Any:
    nb = solution()
    cell(nb, "01.2").source = notebooks.starter_source(cell(nb, "01.2").source)
    return nb


def big_output() -> Any:
    nb = add_cell(solution(), 2, 'print("x" * 10_000_000)')
    nb.cells[2].outputs = [{"output_type": "stream", "name": "stdout", "text": "x" * 10_000_000}]
    return nb


def cheat_runtime() -> Any:
    """Starter answers, plus every trick that works only inside the learner's kernel."""
    code = '''import pytest, workbook.runner, workbook.serving, workbook.results, workbook.execute
pytest.main = lambda *a, **k: 0
def _all_pass(chapter, exercises, *a, **k):
    return [workbook.results.Result(chapter.id, e.id, c.behaviour, True, "", "", c.test)
            for e in exercises for c in e.checks]
workbook.runner.run_checks = _all_pass
workbook.execute.grade = lambda chapter, *a, **k: _all_pass(chapter, chapter.exercises)
print("[PASS] 01.1  everything\\n10/10 checks pass")
print('WORKBOOK_TARGETS={"app": "http://127.0.0.1:9"}')'''
    nb = starter()
    return add_cell(nb, serve_cell(nb) + 1, code)


def cheat_files(source_root: Path) -> Any:
    """Starter answers, plus a cell that rewrites every copy of the checks it can find."""
    code = f'''import glob, os, pathlib, tempfile, workbook
names = ["test_created_user_comes_back_as_user_response", "test_response_exposes_only_declared_fields",
         "test_username_length_rules", "test_username_character_rules", "test_age_range_rules",
         "test_age_coercion", "test_email_without_at_is_422_with_message", "test_email_is_stored_lower_case",
         "test_v2_rejects_addresses_the_at_check_lets_through", "test_v2_accepts_and_lowercases_real_addresses"]
stub = "".join(f"def {{n}}():\\n    pass\\n" for n in names)
targets = [pathlib.Path(workbook.__file__).parent.parent / "checks" / "test_01_models.py",
           pathlib.Path({str(source_root)!r}) / "checks" / "test_01_models.py"]
targets += map(pathlib.Path, glob.glob(os.path.join(tempfile.gettempdir(), "*", "checks", "test_01_models.py")))
for t in targets:
    t.parent.mkdir(parents=True, exist_ok=True)
    t.write_text(stub)
runner = pathlib.Path({str(source_root)!r}) / "workbook" / "runner.py"
runner.write_text(runner.read_text() + "\\nrun_checks = lambda *a, **k: []\\n")
print("rewrote", len(targets), "check files")'''
    nb = starter()
    return add_cell(nb, serve_cell(nb), code)


def sandboxed() -> bool:
    from workbook.grading import sandbox

    return sandbox.unavailable() is None


def cases(source_root: Path) -> dict[str, Case]:
    """Learner name → how to build their submission and what grading must say."""
    sol = solution()
    died = "the kernel died"
    return {
        "a_cheat_files": Case(folder(cheat_files(source_root))),
        "a_cheat_runtime": Case(folder(cheat_runtime())),
        "correct": Case(folder(sol), EXERCISES),
        "correct_zip": Case(zipped(sol), EXERCISES),
        "big_output": Case(folder(big_output()), EXERCISES),
        "endless_loop": Case(folder(in_solution(solution(), "01.5", "while True:\n    pass")),
                             set(), {"01.5": "ran longer than"}),
        "ignores_interrupt": Case(folder(in_solution(solution(), "01.3", (
            "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
        ))), set(), {"01.3": "ignored the interrupt"}),
        # In the sandbox the kernel's parent is the namespace's PID 1, which ignores the signal: the grader
        # is out of reach and the notebook runs on. Unsandboxed, the grading process dies for it.
        "kills_grader": Case(folder(in_solution(solution(), "01.2", "import os, signal\nos.kill(os.getppid(), 9)")),
                             EXERCISES, {}) if sandboxed() else
                        Case(folder(in_solution(solution(), "01.2", "import os, signal\nos.kill(os.getppid(), 9)")),
                             set(), {"01.2": "grading process was killed"}),
        "memory_1gb": Case(folder(in_solution(solution(), "01.1", "_big = bytearray(1 << 30)")),
                           set(), {"01.1": "MemoryError"}),
        "missing_chapter": Case(folder(None), set(), {"01.1": "no 01_models.ipynb"}),
        "not_json": Case(folder(raw=b"{ this is not json"), set(), {"01.3": "not JSON"}),
        "os_exit": Case(folder(in_solution(solution(), "01.2", "import os\nos._exit(1)")), set(), {"01.5": died}),
        "partial": Case(folder(partial()), EXERCISES - {"01.2"}, {"01.2": "422"}),
        "sigkill": Case(folder(in_solution(solution(), "01.3", "import os\nos.kill(os.getpid(), 9)")),
                        set(), {"01.1": died}),
        "squatted_port": Case(folder(add_cell(solution(), 2, (
            "import socket\n_squat = socket.socket()\n_squat.bind(('127.0.0.1', 8765))\n_squat.listen()"
        ))), EXERCISES),
        "starter": Case(folder(starter()), set()),
        "syntax_error": Case(folder(in_solution(solution(), "01.3", "Age = Annotated[int, Field(ge=18 le=120)]")),
                             set(), {"01.3": "SyntaxError"}),
        "sys_exit": Case(folder(in_solution(solution(), "01.5", "import sys\nsys.exit(3)")),
                         set(), {"01.5": "SystemExit"}),
    }


def build_all(into: Path, source_root: Path, only: set[str] | None = None) -> dict[str, Case]:
    into.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, case in cases(source_root).items():
        if only is None or name in only:
            case.build(into / name)
            made[name] = case
    return made


def workbook_root(into: Path, chapter: str = "01") -> Path:
    """A private copy of the workbook with only ``chapter`` registered (others may be mid-edit)."""
    import shutil

    text = (ROOT / "checks" / "registry.toml").read_text(encoding="utf-8")
    head, *blocks = text.split("[[chapter]]")
    mine = next(b for b in blocks if re.search(rf'^id = "{chapter}"$', b, re.MULTILINE))
    (into / "checks").mkdir(parents=True)
    (into / "checks" / "registry.toml").write_text(head + "[[chapter]]" + mine.rstrip() + "\n", encoding="utf-8")
    stem = re.search(r'^stem = "(.+)"$', mine, re.MULTILINE).group(1)  # type: ignore[union-attr]
    shutil.copy(ROOT / "checks" / f"test_{stem}.py", into / "checks")
    return _with_runtime(into, ROOT, stem)


def _with_runtime(into: Path, source: Path, stem: str) -> Path:
    """Give a private workbook root the runtime (workbook/, app_skeleton/) and one chapter's notebooks."""
    import shutil

    for folder in ("workbook", "app_skeleton"):
        for path in (ROOT / folder).rglob("*.py"):
            (into / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, into / path.relative_to(ROOT))
    for folder in ("notebooks", "solutions"):
        (into / folder).mkdir()
        shutil.copy(source / folder / f"{stem}.ipynb", into / folder)
    return into


TOY = ROOT / "tests" / "toy"


def toy_root(into: Path) -> Path:
    """A private workbook whose only chapter is the toy chapter 90 (fast: one tiny app)."""
    import shutil

    text = (TOY / "checks" / "registry.toml").read_text(encoding="utf-8")
    (into / "checks").mkdir(parents=True)
    (into / "checks" / "registry.toml").write_text(text.split("[[chapter]]\nid = \"91\"")[0], encoding="utf-8")
    shutil.copy(TOY / "checks" / "test_90_toy.py", into / "checks")
    return _with_runtime(into, TOY, "90_toy")


def toy(answer_code: str = "") -> Any:
    """The toy chapter's solution, with ``answer_code`` run where 90.1 sets its answer: the code puts
    what it found into ``VALUE["answer"]``, which the check for 90.1 then shows in its message."""
    nb = notebooks.read(TOY / "solutions" / "90_toy.ipynb")
    if answer_code:
        nb.cells[notebooks.exercise_cells(nb)["90.1"][0]].source = answer_code
    return nb


def regrade(subs: Path, out: Path, limits: Any, root: Path) -> tuple[dict[str, Any], list[str]]:
    """Grade ``subs`` again and say which (learner/chapter) tasks really ran: the cache must skip the rest."""
    import workbook.grading.command as grading

    seen: list[str] = []
    real = grading.run_all

    def spy(tasks, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.extend(f"{t.learner}/{t.chapter}" for t in tasks)
        return real(tasks, *args, **kwargs)

    grading.run_all = spy
    try:
        return grading.grade_all(subs, out, limits, workers=2, root=root, quiet=True), seen
    finally:
        grading.run_all = real
