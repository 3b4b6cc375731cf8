"""Dependencies declared as the code imports them, kept so by deptry in `dev.py test`.

deptry reads pyproject.toml's [tool.deptry]: it scans what learners run (workbook/, app_skeleton/,
checks/, notebooks/, solutions/) and flags an import that is not declared, a declared runtime
dependency nothing imports (unless listed with its reason) and a dev tool imported at runtime.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _deptry(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("deptry")
    if not exe.exists():
        pytest.skip("deptry is not installed (dev extra)")
    return subprocess.run([str(exe), ".", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_deptry_passes() -> None:
    done = _deptry()
    assert done.returncode == 0, done.stdout + done.stderr


def test_deptry_catches_an_undeclared_import(tmp_path: Path) -> None:
    """The configuration is not a blanket ignore: drop a declared import and deptry fails."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for folder in ("workbook", "app_skeleton", "checks", "notebooks", "solutions"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    assert '    "anyio>=4",\n' in text
    pyproject.write_text(text.replace('    "anyio>=4",\n', ""))
    done = _deptry(cwd=tmp_path)
    assert done.returncode == 1 and "'anyio' imported but" in done.stdout + done.stderr, done.stdout


def test_dev_py_test_runs_deptry(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    assert spec and spec.loader
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    ran: list[tuple[str, ...]] = []
    monkeypatch.setattr(dev, "setup", lambda profile="dev": ran.append(("setup", profile)))
    monkeypatch.setattr(dev, "run", lambda *cmd, **kw: ran.append(tuple(map(str, cmd))))
    monkeypatch.setattr(dev, "_has_xdist", lambda: False)
    dev.test()
    assert ran[0] == ("setup", "dev")
    assert (str(dev.PY), "-m", "deptry", ".") in ran
