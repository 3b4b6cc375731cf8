#!/usr/bin/env python3
"""Set up the workbook and run it — needs only Python 3.11+.

    python3 dev.py lab     # create .venv, install, open JupyterLab at chapter 01
    python3 dev.py test    # create .venv, install, run the whole test suite

Why a script and not make: a fresh learner machine may have Python but no make.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("WORKBOOK_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".installed"


def run(*cmd: str | Path, **kw: object) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[arg-type]


def setup() -> None:
    """Create the venv and install the project with its dev extra; skip when nothing changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script must run (and explain) on old Pythons
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating {VENV}")
        venv.create(VENV, with_pip=True)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(want)


def lab() -> None:
    setup()
    print("\nOpening JupyterLab at chapter 01. On a machine without a browser, open the URL it prints.\n")
    args = ["--browser=default" if _has_display() else "--no-browser"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and classroom VMs often run as root
    try:
        run(BIN / "jupyter", "lab", "--LabApp.default_url=/lab/tree/notebooks/01_models.ipynb", *args)
    except KeyboardInterrupt:
        print("\nJupyterLab stopped.")


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32"))


def test() -> None:
    setup()
    run(PY, "-m", "ruff", "check", ".")
    run(PY, "-m", "mypy")
    run(PY, "-m", "workbook", "starters", "--verify")
    run(PY, "-m", "pytest", "-q", "-n", "2" if _has_xdist() else "0", "--durations=10")
    run(PY, "-m", "pytest", "-q", "--nbval-lax", "--nbval-current-env",
        "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "-p", "no:randomly", "solutions/")  # fmt: skip


def _has_xdist() -> bool:
    return subprocess.run([str(PY), "-c", "import xdist"], capture_output=True).returncode == 0


if __name__ == "__main__":
    commands = {"lab": lab, "test": test, "setup": setup}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    try:
        commands[sys.argv[1]]()
    except subprocess.CalledProcessError as exc:
        sys.exit(f"dev.py: `{' '.join(map(str, exc.cmd))}` failed with exit status {exc.returncode}")
