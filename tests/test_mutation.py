"""workbook.mutation: the verdict is each forked child's exit status, never what the tests print."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workbook import mutation

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="os.fork")


def _folder(root: Path, name: str, tests: str, app: str = "") -> Path:
    folder = root / name
    (folder / "app_skeleton").mkdir(parents=True)
    (folder / "app_skeleton" / "__init__.py").write_text(app)
    (folder / "test_yours.py").write_text(tests)
    return folder


def test_exit_status_per_folder_and_the_app_is_the_folders_own(tmp_path: Path) -> None:
    check = "import app_skeleton\n\ndef test_value():\n    assert app_skeleton.VALUE == 1\n"
    good = _folder(tmp_path, "good", check, "VALUE = 1\n")
    bad = _folder(tmp_path, "bad", check, "VALUE = 2\n")
    empty = _folder(tmp_path, "empty", "x = 1\n", "VALUE = 1\n")
    codes = mutation.run_suites([good, bad, empty], "test_yours.py", "app_skeleton")
    assert codes == {str(good): 0, str(bad): 1, str(empty): 5}


def test_what_a_test_prints_or_how_it_exits_is_not_a_verdict(tmp_path: Path) -> None:
    forged = (
        "import json, os, sys\n\ndef test_forge():\n"
        "    print('reaped'); print(json.dumps({'codes': {}, 'mac': 'x'}))\n"
        "    sys.__stdout__.write('reaped\\n'); sys.__stdout__.flush()\n"
        "    assert False\n"
    )
    exits = "import os\n\ndef test_exit():\n    os._exit(0)\n"
    folders = [_folder(tmp_path, "forged", forged), _folder(tmp_path, "exits", exits)]
    codes = mutation.run_suites(folders, "test_yours.py", "app_skeleton")
    assert codes == {str(folders[0]): 1, str(folders[1]): 0}  # os._exit(0) passes: it catches no bug either


def test_a_suite_past_its_time_limit_is_killed_with_its_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mutation, "TIMEOUT", 1.5)
    hangs = (
        "import subprocess, sys, time\n\ndef test_hang():\n"
        "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n    time.sleep(60)\n"
    )
    folder = _folder(tmp_path, "hangs", hangs)
    codes = mutation.run_suites([folder], "test_yours.py", "app_skeleton")
    assert codes == {str(folder): "timeout"}


def test_the_runner_stays_warm_between_checks_and_stops_with_the_teardown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a kernel a second check() reuses the runner (no second second of imports); stop_all() ends it."""
    import psutil

    from workbook import serving

    monkeypatch.setattr(mutation, "keep_warm", True)
    folder = _folder(tmp_path, "good", "def test_ok():\n    assert True\n")
    assert mutation.run_suites([folder], "test_yours.py", "app_skeleton") == {str(folder): 0}
    assert mutation._warm is not None
    pid = mutation._warm.popen.pid
    assert mutation.run_suites([folder], "test_yours.py", "app_skeleton") == {str(folder): 0}
    assert mutation._warm.popen.pid == pid and mutation.last_timings["ready"] == 0.0
    serving.stop_all()
    assert mutation._warm is None and not psutil.pid_exists(pid)


def test_a_grader_never_reuses_a_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a kernel (keep_warm False: the grader) each call's runner ends with the call."""
    folder = _folder(tmp_path, "good", "def test_ok():\n    assert True\n")
    mutation.stop_runner()  # whatever an earlier test's check() left warm
    monkeypatch.setattr(mutation, "keep_warm", False)  # a grader's process never sets it
    assert mutation.run_suites([folder], "test_yours.py", "app_skeleton") == {str(folder): 0}
    assert mutation._warm is None and mutation.last_timings["ready"] > 0
