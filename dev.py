#!/usr/bin/env python3
"""Set up the workbook and run it — needs only Python 3.11+.

    python3 dev.py lab     # create .venv with what Binder installs, open JupyterLab at chapter 01
    python3 dev.py test    # the same plus the developer tools, then run the whole test suite
    python3 dev.py setup   # only the developer install (what `test` runs first); `setup learner`: lab's

A learner gets exactly Binder's environment: the pins of binder/requirements.txt, the workbook
itself without dependencies, and binder/overrides.json as JupyterLab's settings (kernel started
on open, no news pop-up). `test` adds the dev extra (pytest plugins, Playwright, JupyterHub,
repo2docker, mypy, ruff, deptry) on top of those same pins, so tests run the learners' versions.

Why a script and not make: a fresh learner machine may have Python but no make.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("WORKBOOK_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*cmd: str | Path, **kw: object) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[arg-type]


def install_plan(profile: str) -> list[list[str]]:
    """The pip arguments of one install profile, in order: "learner" (Binder's) or "dev"."""
    learner = [["-r", "binder/requirements.txt"], ["--no-deps", "-e", "."]]  # as binder/postBuild
    return learner if profile == "learner" else [*learner, ["-e", ".[dev]"]]


def lab_settings() -> Path:
    """Where JupyterLab of this venv reads overrides.json (its application settings folder)."""
    return VENV / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def setup(profile: str = "dev") -> None:
    """Create the venv and install ``profile``; skip when its inputs did not change since."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script must run (and explain) on old Pythons
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating {VENV}")
        venv.create(VENV, with_pip=True)
    inputs = b"".join((ROOT / name).read_bytes() for name in ("pyproject.toml", "binder/requirements.txt"))
    want = hashlib.sha256(inputs).hexdigest()
    stamp = VENV / f".installed-{profile}"
    if stamp.exists() and stamp.read_text() == want:
        return
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    for args in install_plan(profile):
        run(PY, "-m", "pip", "install", "--quiet", *args)
    lab_settings().parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "binder" / "overrides.json", lab_settings())
    stamp.write_text(want)


def lab() -> None:
    setup("learner")
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
    setup("dev")
    run(PY, "-m", "ruff", "check", ".")
    run(PY, "-m", "mypy")
    run(PY, "-m", "deptry", ".")
    run(PY, "-m", "workbook", "starters", "--verify")
    run(PY, "-m", "pytest", "-q", "-n", "2" if _has_xdist() else "0", "--durations=10")
    run(PY, "-m", "pytest", "-q", "--nbval-lax", "--nbval-current-env",
        "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "-p", "no:randomly", "solutions/")  # fmt: skip


def _has_xdist() -> bool:
    return subprocess.run([str(PY), "-c", "import xdist"], capture_output=True).returncode == 0


if __name__ == "__main__":
    commands = {"lab": lab, "test": test, "setup": setup}
    args = sys.argv[1:]
    # `setup learner` installs only what `lab` installs (tests and measurements use it)
    if not (args[:1] and args[0] in commands and (len(args) == 1 or args[:1] == ["setup"] and len(args) == 2
                                                  and args[1] in ("learner", "dev"))):  # fmt: skip
        sys.exit(__doc__)
    try:
        commands[args[0]](*args[1:])
    except subprocess.CalledProcessError as exc:
        sys.exit(f"dev.py: `{' '.join(map(str, exc.cmd))}` failed with exit status {exc.returncode}")
