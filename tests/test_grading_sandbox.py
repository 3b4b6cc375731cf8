"""Hostile notebooks against the grading sandbox (bubblewrap): each reports what it could see or do
through the toy chapter's app (its answer to check 90.1, which the check's message shows), and the
test asserts it saw and did nothing. The same probe, run with the sandbox switched off, must see the
secrets: that proves the probe works, and that the grader then warns and says so in the report."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "grading_fixtures"))
import make  # noqa: E402

from workbook import notebooks  # noqa: E402
from workbook.grading import sandbox  # noqa: E402
from workbook.grading.command import grade_all  # noqa: E402
from workbook.grading.limits import Limits  # noqa: E402

LIMITS = Limits(cell_timeout=15, total_timeout=60, memory_mb=600, tmp_mb=16)
TOKEN = "wbhostile7731"  # in the daemon's command line: how the test finds it

PEEK = '''import json, os, pathlib
found = {}
for p in %(paths)r:
    p = pathlib.Path(p)
    try:
        found[str(p)] = sorted(os.listdir(p)) if p.is_dir() else p.read_text()[:80]
    except OSError:
        pass
here = pathlib.Path.cwd()
found["neighbours"] = sorted(x.name for x in here.parent.iterdir() if x != here) if here.parent.exists() else []
VALUE["answer"] = json.dumps(found)'''

TAMPER = '''import json, pathlib
done = []
for p in %(paths)r:
    try:
        pathlib.Path(p).write_text("hacked")
        done.append(p)
    except OSError:
        pass
VALUE["answer"] = json.dumps(done)'''

DAEMON = '''import subprocess, sys
code = "import os, sys, time\\nif os.fork(): sys.exit(0)\\ntime.sleep(4)\\n" + \\
       "for p in %(paths)r:\\n    try: open(p, 'w').write('rewritten')\\n    except OSError: pass\\n"
subprocess.Popen(["setsid", sys.executable, "-c", code, "%(token)s"], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
VALUE["answer"] = "daemon started"'''

FILL = '''import json, os
written = 0
try:
    with open("/tmp/fill", "wb") as f:
        while written < (1 << 30):
            f.write(b"x" * (1 << 20)); f.flush(); written += 1 << 20
except OSError as exc:
    error = exc.__class__.__name__
else:
    error = None
VALUE["answer"] = json.dumps({"mb": written >> 20, "error": error})'''


def seen(results: list, exercise: str = "90.1") -> str:
    return "\n".join(r.message for r in results if r.exercise == exercise)


def answer(results: list) -> object:
    """What the hostile cell put into VALUE["answer"], read back from check 90.1's message."""
    text = seen(results)
    match = re.search(r'"value":\s*("(?:[^"\\]|\\.)*")', text)
    assert match, text[:500]
    return json.loads(json.loads(match.group(1)))


def make_class(base: Path, learners: dict[str, str]) -> tuple[Path, Path, Path]:
    """Submissions (one toy notebook each), an output folder with a gradebook already in it, a home."""
    subs, out, home = base / "submissions", base / "out", base / "home"
    for folder in (subs, out, home):
        folder.mkdir(parents=True)
    (home / "secret.txt").write_text("the instructor's secret")
    (out / "gradebook.csv").write_text("learner,total\n")
    for name, code in learners.items():
        (subs / name).mkdir()
        notebooks.write(make.toy(code), subs / name / "90_toy.ipynb")
        (subs / name / "private.txt").write_text(f"{name}'s own work")
    return subs, out, home


def processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def grade(base: Path, learners: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[dict, Path, Path, Path]:
    root = make.toy_root(base / "root")
    subs, out, home = make_class(base, learners)
    monkeypatch.setenv("HOME", str(home))
    return grade_all(subs, out, LIMITS, workers=2, root=root, quiet=True), subs, out, home


needs_bwrap = pytest.mark.skipif(sandbox.unavailable() is not None, reason=f"no sandbox: {sandbox.unavailable()}")


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("sandboxed")
    targets = [str(base / "submissions" / "good" / "private.txt"), str(base / "submissions"), str(base / "out"),
               str(base / "home" / "secret.txt"), "/root", str(base / "root" / "checks")]  # fmt: skip
    writes = [str(base / "out" / "gradebook.csv"), str(base / "out" / "hacked.txt"), str(base / "out" / ".cache.json")]
    learners = {
        "good": "",
        "peek": PEEK % {"paths": targets},
        "tamper": TAMPER % {"paths": writes},
        "daemon": DAEMON % {"paths": writes, "token": TOKEN},
        "fill": FILL,
    }
    mp = pytest.MonkeyPatch()
    try:
        results, subs, out, home = grade(base, learners, mp)
        after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
        alive = processes_with(TOKEN)  # right after grading: every notebook's verdict is written
        time.sleep(5)  # the daemon, had it survived, would have rewritten the gradebook by now
        later = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    finally:
        mp.undo()
    return {"results": results, "out": out, "after": after, "later": later, "alive": alive, "targets": targets}


@needs_bwrap
@pytest.mark.slow
def test_a_notebook_sees_only_its_own_copy(sandboxed: dict) -> None:
    found = answer(sandboxed["results"]["peek"])
    # The one thing under /root it may see is the way to the Python it runs on (when that lives there).
    runtime = {Path(d).relative_to("/root").parts[0] for d in sandbox._python_dirs() if d.startswith("/root/")}
    assert set(found.pop("/root", [])) <= runtime
    assert found == {"neighbours": []}, f"the sandboxed kernel could see {found}"
    assert all(r.passed for r in sandboxed["results"]["good"] if r.exercise == "90.1"), "loopback still works"


@needs_bwrap
@pytest.mark.slow
def test_a_notebook_cannot_write_the_gradebook(sandboxed: dict) -> None:
    assert answer(sandboxed["results"]["tamper"]) == []
    assert "hacked.txt" not in sandboxed["after"]
    assert b"hacked" not in sandboxed["after"]["gradebook.csv"]


@needs_bwrap
@pytest.mark.slow
def test_nothing_a_notebook_starts_outlives_its_verdict(sandboxed: dict) -> None:
    assert "daemon started" in seen(sandboxed["results"]["daemon"]), "the daemon cell really ran"
    assert sandboxed["alive"] == [], "a setsid, double-forked daemon survived grading"
    assert sandboxed["later"] == sandboxed["after"], "something rewrote the grader's output after grading"


@needs_bwrap
@pytest.mark.slow
def test_filling_tmp_fills_only_a_private_tmp(sandboxed: dict) -> None:
    filled = answer(sandboxed["results"]["fill"])
    assert filled["error"] == "OSError" and filled["mb"] <= LIMITS.tmp_mb, filled  # ENOSPC at the size limit
    assert all(r.passed for r in sandboxed["results"]["good"] if r.exercise == "90.1")
    assert "Each kernel ran in a bubblewrap sandbox" in (sandboxed["out"] / "report.html").read_text()


@pytest.mark.slow
def test_without_a_sandbox_grading_warns_and_the_report_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(sandbox.DISABLE, "1")  # as on a machine without bubblewrap or user namespaces
    targets = [str(tmp_path / "home" / "secret.txt"), str(tmp_path / "submissions" / "good" / "private.txt")]
    results, _, out, _ = grade(tmp_path, {"good": "", "peek": PEEK % {"paths": targets}}, monkeypatch)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "NOT isolated" in line]
    assert len(warnings) == 1, warnings
    assert "Kernels were NOT isolated" in (out / "report.html").read_text()
    found = answer(results["peek"])  # the probe works: unsandboxed, it reads the neighbour and the home
    assert found[targets[0]] == "the instructor's secret" and found["neighbours"] == ["learner0000"], found


@pytest.mark.skipif(sandbox.hiding([]) is None, reason="no mount namespace (unshare) here")
def test_processes_the_checks_start_see_no_private_folder_and_keep_their_pid(tmp_path: Path) -> None:
    """Chapter 07's checks run learners' files through workbook.processes: the grader's wrapper hides
    its private folders from them, and execs (the started PID is the command: worker counts hold)."""
    import subprocess

    from workbook import processes

    secret = tmp_path / "private"
    secret.mkdir()
    (secret / "key.txt").write_text("s3cret")
    wrap = sandbox.hiding([str(secret)])
    assert wrap is not None
    probe = [sys.executable, "-c", f"import os; print(sorted(os.listdir({str(secret)!r})))"]
    assert subprocess.run(probe, capture_output=True, text=True).stdout.strip() == "['key.txt']"
    hidden = subprocess.run(wrap(probe), capture_output=True, text=True)
    assert "key.txt" not in hidden.stdout + hidden.stderr
    processes.wrap_command = wrap
    try:
        server = processes.start_process([sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
                                         "probe", cwd=tmp_path)  # fmt: skip
    finally:
        processes.wrap_command = None
    try:
        assert "http.server" in Path(f"/proc/{server.pid}/cmdline").read_bytes().decode()
        assert "key.txt" not in server.client.get("/private/").text, "the server could list the private folder"
    finally:
        server.stop()
