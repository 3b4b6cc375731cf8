"""One id syntax for every entry point, and chapters that say so where they cannot run.

Ids: "1", "01", "1.2" and "01.2" mean the same to check(), hint(), solution(), reset,
watch and `workbook check`; an unknown id gets one error listing the valid ones.
Platforms are simulated (``sys.platform`` monkeypatched): this suite runs on Linux only.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import time
from pathlib import Path

import pytest

from workbook import checking, cli, platform_note, platforms, registry

ROOT = Path(__file__).resolve().parent.parent
TOY = Path(__file__).parent / "toy"


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBOOK_ROOT", str(ROOT))
    monkeypatch.setenv("WORKBOOK_NO_RECORD", "1")  # never touch a learner's progress
    monkeypatch.delenv(checking.GRADING_ENV, raising=False)


def _out(call: object, *args: object) -> str:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        result = call(*args)  # type: ignore[operator]
    return sink.getvalue() + ("" if result is None else f"\n[returned {result!r}]")


@pytest.mark.parametrize("given", ["1", "01", 1, " 01 "])
def test_chapter_id_forms(given: object) -> None:
    chapter, exercise = registry.resolve(given)  # type: ignore[arg-type]
    assert (chapter.id, exercise) == ("01", None)


@pytest.mark.parametrize("given", ["1.2", "01.2", "01.02"])
def test_exercise_id_forms(given: str) -> None:
    chapter, exercise = registry.resolve(given)
    assert chapter.id == "01" and exercise is not None and exercise.id == "01.2"
    assert chapter.exercise(given) is exercise and chapter.exercise("2") is exercise


def test_check_accepts_the_short_exercise_id() -> None:
    """check("1.2") checks exactly exercise 01.2 (no app is served, so its checks fail and say why)."""
    report = checking.check("1.2")
    assert report is not None
    assert {r.exercise for r in report.results} == {"01.2"}
    assert all("no app named 'app'" in r.message for r in report.results)


def test_hint_and_solution_accept_every_form() -> None:
    assert _out(checking.hint, "1.3", 1) == _out(checking.hint, "01.3", 1) != ""
    assert "Hint 1/" in _out(checking.hint, "1.3", 1)
    with pytest.raises(registry.RegistryError, match="is a chapter; name one of its exercises: 01, 01.1"):
        checking.hint("1")


@pytest.mark.parametrize("bad", ["1.9", "42", "42.1", "abc"])  # 9 and 9.1 exist since chapter 09
def test_one_clear_error_for_an_unknown_id_everywhere(bad: str) -> None:
    with pytest.raises(registry.RegistryError) as caught:
        registry.resolve(bad)
    message = str(caught.value)
    assert message.startswith(("unknown exercise", "unknown chapter")) and "valid ids:" in message
    assert ("01.1" in message) and (bad in message)
    for call in (checking.check, checking.hint, checking.solution):
        with pytest.raises(registry.RegistryError, match="valid ids:"):
            call(bad)
    for argv in (["check", bad], ["reset", bad], ["watch", bad]):
        out = _out(cli.main, argv)
        assert "[returned 2]" in out and message in out, (argv, out)


def test_reset_takes_an_exercise_id_in_any_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`workbook reset 1.3` is `workbook reset 01 --exercise 3`: only 01.3's cells change."""
    from workbook.notebooks import exercise_cells, read

    chapter = registry.chapter("01")
    mine = tmp_path / "mine.ipynb"
    shutil.copy(chapter.solution, mine)
    before = read(mine)
    out = _out(cli.main, ["reset", "1.3", "--notebook", str(mine)])
    assert "exercise 01.3" in out and "[returned 0]" in out, out
    after = read(mine)
    changed = {i for i, (a, b) in enumerate(zip(before.cells, after.cells, strict=True)) if a.source != b.source}
    assert changed and changed <= set(exercise_cells(after)["01.3"])


# -- platforms ------------------------------------------------------------------------------


@pytest.fixture
def linux_only_toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The toy workbook with chapter 90 declared Linux-only."""
    toy = tmp_path / "toy"
    shutil.copytree(TOY, toy)
    registry_file = toy / "checks" / "registry.toml"
    text = registry_file.read_text()
    registry_file.write_text(text.replace('minutes = 1\n', 'minutes = 1\nplatforms = ["linux"]\n', 1))
    monkeypatch.setenv("WORKBOOK_ROOT", str(toy))
    return toy


def test_platforms_field_defaults_to_everywhere(linux_only_toy: Path) -> None:
    toy90, toy91 = registry.chapters(linux_only_toy)
    assert toy90.platforms == ("linux",) and toy91.platforms == ()
    for platform in ("linux", "darwin", "win32"):
        assert platforms.supported(toy91, platform)
    assert platforms.supported(toy90, "linux") and not platforms.supported(toy90, "darwin")


def test_chapter_07_is_not_offered_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    chapter = registry.chapter("07")
    assert platforms.supported(chapter, "linux") and platforms.supported(chapter, "darwin")
    monkeypatch.setattr(sys, "platform", "win32")
    assert "runs on Linux (WSL included) and macOS, not on Windows" in _out(platform_note, "07")
    assert _out(platform_note, "01") == ""  # chapters without the field run everywhere


def test_platform_note_is_silent_where_the_chapter_runs(linux_only_toy: Path) -> None:
    assert _out(platform_note, "90") == ""


@pytest.mark.parametrize("elsewhere", ["darwin", "win32"])
def test_checks_on_an_unsupported_platform_say_so_instead_of_running(
    linux_only_toy: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: str
) -> None:
    monkeypatch.setattr(sys, "platform", elsewhere)
    note = _out(platform_note, "90")
    assert note.startswith("Chapter 90 (Toy chapter) runs on Linux (WSL included), not on ")

    started = time.monotonic()
    report = checking.check("90")
    assert report is not None and report.results
    assert time.monotonic() - started < 1.0  # nothing ran: no pytest, no kernel
    expected = sum(len(ex.checks) for ex in registry.chapter("90").exercises)
    assert len(report.results) == expected
    assert all(not r.passed and r.message.startswith("not available on this platform") for r in report.results)

    # The terminal: `workbook check 90` answers the same without starting a kernel; watch declines.
    out = _out(cli.main, ["check", "90", "--json"])
    assert "[returned 1]" in out and out.count("not available on this platform") == expected, out
    assert "Traceback" not in out
    watched = _out(cli.main, ["watch", "90", "--runs", "1"])
    assert "not available on this platform" in watched and "[returned 1]" in watched


def test_unavailable_is_none_where_the_chapter_runs(linux_only_toy: Path) -> None:
    chapter = registry.chapter("90")
    assert platforms.unavailable(chapter, list(chapter.exercises)) is None


NO_UVLOOP = """
import asyncio, importlib, pkgutil, sys
sys.modules["uvloop"] = None  # `import uvloop` now raises ImportError, as on Windows
import httpx, workbook
for module in pkgutil.iter_modules(workbook.__path__):
    if module.name != "__main__":
        importlib.import_module("workbook." + module.name)
from fastapi import FastAPI
app = FastAPI()

@app.get("/")
async def loop_kind() -> str:
    return type(asyncio.get_running_loop()).__module__

server = workbook.serve(app)
print(httpx.get(server.url, timeout=10).json())
server.stop()
"""


def test_nothing_in_the_runtime_needs_uvloop() -> None:
    """uvloop does not install on Windows: every module imports, and serve() answers, without it."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", NO_UVLOOP], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "asyncio.unix_events", done.stdout
