"""Binder: prove binder/ without a Docker engine, and keep it in step with pyproject.toml.

Three proofs, cheapest first: binder/requirements.txt pins exactly pyproject's runtime
dependencies at versions that satisfy them; repo2docker's dry run accepts binder/ and
plans the expected steps (Python 3.11, one environment for server and kernel, our
requirements, postBuild); and a fresh venv built from binder/ alone (like the image)
runs postBuild and passes every registered chapter's checks on its solution.

Regenerate the pins from this venv after changing dependencies:
``.venv/bin/python tests/test_binder.py --write``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
import venv
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from workbook import registry

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
HEADER = """\
# Binder (repo2docker) reads only this folder. These pins are pyproject.toml's runtime dependencies
# at the versions the test suite ran with; `python3 dev.py lab` installs exactly them too. No `-e .`
# here: without a local path repo2docker installs this file before copying the repository, so a
# commit that changes no pin reuses the cached layer; postBuild installs the workbook (--no-deps).
# Regenerate: .venv/bin/python tests/test_binder.py --write
"""


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def runtime_requirements() -> list[Requirement]:
    return [Requirement(line) for line in _pyproject()["project"]["dependencies"]]


def binder_pins() -> dict[str, Requirement]:
    """Canonical name → pinned requirement, from binder/requirements.txt (``-e .`` excluded)."""
    pins = {}
    for raw in (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            pins[canonicalize_name(req.name)] = req
    return pins


def write_pins() -> str:
    """binder/requirements.txt for pyproject's runtime dependencies at this venv's versions."""
    lines = [HEADER]
    for req in runtime_requirements():
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        lines.append(f"{req.name}{extras}=={metadata.version(req.name)}\n")
    return "".join(lines)


def test_binder_pins_agree_with_pyproject() -> None:
    text = (BINDER / "requirements.txt").read_text(encoding="utf-8")
    local = [line for line in text.splitlines() if line.strip().startswith(("-e", ".", "-r", "file:"))]
    assert not local, f"{local}: a local path in requirements.txt makes every commit reinstall every pin"
    pins = binder_pins()
    fix = "run `.venv/bin/python tests/test_binder.py --write`"
    wanted = {canonicalize_name(r.name): r for r in runtime_requirements()}
    assert sorted(pins) == sorted(wanted), f"binder pins and pyproject dependencies differ; {fix}"
    for name, req in wanted.items():
        pin = pins[name]
        versions = [s.version for s in pin.specifier if s.operator == "=="]
        assert len(versions) == 1, f"{pin} is not pinned with =="
        assert req.specifier.contains(Version(versions[0]), prereleases=True), f"{pin} violates {req}; {fix}"
        assert pin.extras == req.extras, f"{pin} lacks the extras of {req}"


def test_binder_python_matches_requires_python() -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert match, f"runtime.txt should read python-X.Y, not {runtime!r}"
    assert SpecifierSet(_pyproject()["project"]["requires-python"]).contains(match.group(1) + ".0")
    assert not (BINDER / "environment.yml").exists(), "environment.yml would make repo2docker ignore requirements.txt"


def test_binder_overrides_are_valid_lab_settings() -> None:
    overrides = json.loads((BINDER / "overrides.json").read_text())
    assert overrides["@jupyterlab/notebook-extension:tracker"]["autoStartDefaultKernel"] is True
    assert os.access(BINDER / "postBuild", os.X_OK), "postBuild must be executable"
    assert (BINDER / "postBuild").read_text().splitlines()[1:].count("set -euo pipefail") == 1


def test_repo2docker_dry_run_plans_the_expected_image() -> None:
    exe = Path(sys.executable).with_name("repo2docker")
    if not exe.exists():
        pytest.skip("jupyter-repo2docker is not installed (dev extra)")
    cmd = [str(exe), "--no-build", "--debug", "--no-run", "--user-id", "1000", "--user-name", "jovyan", str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Building conda environment for python=3.11" in out
    # One environment for server and kernel: jupyter-server-proxy and the widget manager
    # installed by requirements.txt must be seen by the Jupyter server, not only the kernel.
    assert "ENV KERNEL_PYTHON_PREFIX=${NB_PYTHON_PREFIX}" in out
    pip_line = 'RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"'
    assert pip_line in out
    assert "RUN ./binder/postBuild" in out
    # The cache: the pins are installed from requirements.txt alone, before the repository is copied,
    # so a commit that changes no pin reuses that layer; postBuild then installs the workbook itself.
    copy_repo = out.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/")
    assert out.index(pip_line) < copy_repo < out.index("RUN ./binder/postBuild"), "pins must install before the copy"
    assert "binder/requirements.txt" in out[out.rindex("COPY", 0, out.index(pip_line)) : out.index(pip_line)]
    assert "pip install --no-cache-dir --quiet --no-deps -e ." in (BINDER / "postBuild").read_text()


def _dev_py() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEV_ONLY = ("playwright", "jupyterhub", "jupyter-repo2docker", "mypy", "ruff", "deptry", "nbval", "pytest-xdist")


def test_learner_install_is_what_binder_installs() -> None:
    """`dev.py lab` installs Binder's pins and the workbook as postBuild does, and none of the dev extra."""
    plan = _dev_py().install_plan("learner")
    assert plan == [["-r", "binder/requirements.txt"], ["--no-deps", "-e", "."]]
    assert "pip install --no-cache-dir --quiet --no-deps -e ." in (BINDER / "postBuild").read_text()
    dev_plan = _dev_py().install_plan("dev")
    assert dev_plan[: len(plan)] == plan and dev_plan[len(plan) :] == [["-e", ".[dev]"]]
    extras = _pyproject()["project"]["optional-dependencies"]
    dev_extra = {canonicalize_name(Requirement(r).name) for r in extras["dev"]}
    assert set(DEV_ONLY) <= dev_extra and not dev_extra & set(binder_pins())


@pytest.mark.slow
def test_learner_venv_has_exactly_the_binder_pins(tmp_path: Path) -> None:
    """A real `dev.py setup learner` (what `dev.py lab` runs): the pins, the lab settings, no dev tools."""
    where = tmp_path / "learner"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "WORKBOOK_ROOT")}
    env["WORKBOOK_VENV"] = str(where)
    subprocess.run([sys.executable, "dev.py", "setup", "learner"], cwd=ROOT, env=env, check=True, timeout=1200)
    listing = subprocess.run([where / "bin" / "python", "-m", "pip", "list", "--format=json"], capture_output=True,
                             text=True, check=True, timeout=120)  # fmt: skip
    installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listing.stdout)}
    for name, pin in binder_pins().items():
        assert installed.get(name) == next(iter(pin.specifier)).version, (name, installed.get(name), str(pin))
    assert not set(DEV_ONLY) & set(installed), set(DEV_ONLY) & set(installed)
    paths = subprocess.run([where / "bin" / "jupyter", "lab", "path"], capture_output=True, text=True, env=env,
                           check=True, timeout=60)  # fmt: skip
    app_dir = re.search(r"Application directory:\s*(\S+)", paths.stdout)
    assert app_dir, paths.stdout
    settings = Path(app_dir.group(1)) / "settings" / "overrides.json"
    assert json.loads(settings.read_text()) == json.loads((BINDER / "overrides.json").read_text())


def _fresh_binder_venv(where: Path) -> Path:
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-r", "binder/requirements.txt"],
                   cwd=ROOT, check=True, timeout=600)  # fmt: skip
    return python


@pytest.mark.slow
def test_fresh_venv_from_binder_alone_runs_the_solutions(tmp_path: Path) -> None:
    python = _fresh_binder_venv(tmp_path / "venv")
    bin_dir = python.parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", NB_PYTHON_PREFIX=str(tmp_path / "venv"))
    env.pop("VIRTUAL_ENV", None)
    env.pop("WORKBOOK_ROOT", None)
    subprocess.run(["bash", "binder/postBuild"], cwd=ROOT, env=env, check=True, timeout=120)
    settings = tmp_path / "venv" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(settings.read_text()) == json.loads((BINDER / "overrides.json").read_text())

    # What the Jupyter server of the image loads: the proxy extension and the widget manager.
    ext = subprocess.run([bin_dir / "jupyter", "server", "extension", "list"], env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert re.search(r"jupyter_server_proxy.*enabled", ext.stdout + ext.stderr), ext.stdout + ext.stderr
    labext = subprocess.run([bin_dir / "jupyter", "labextension", "list"], env=env, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert "@jupyter-widgets/jupyterlab-manager" in labext.stdout + labext.stderr

    listed = subprocess.run([bin_dir / "workbook", "list"], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True, timeout=60)  # fmt: skip
    assert re.search(r"^01\s", listed.stdout, re.MULTILINE), listed.stdout
    failures = {}
    for chapter in registry.chapters(ROOT):
        if not chapter.solution.exists():
            continue
        proc = subprocess.run([bin_dir / "workbook", "check", chapter.id, "--notebook", str(chapter.solution),
                               "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
        if proc.returncode != 0:
            failures[chapter.id] = (proc.stdout + proc.stderr)[-2000:]
    assert not failures, failures


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        (BINDER / "requirements.txt").write_text(write_pins(), encoding="utf-8")
        print(f"wrote {BINDER / 'requirements.txt'}")
    else:
        sys.exit(__doc__)
