"""The service's test suite, chapter-08 style: a real, migrated database per test, the app's
settings replaced through ``dependency_overrides``, a real SMTP mailbox on loopback.

``WORKBOOK_POSTGRES_URL`` (``postgresql://user@127.0.0.1:PORT/postgres``; .ci/run starts a
throw-away server and sets it) enables the PostgreSQL tests: each gets a database of its own,
dropped afterwards. Without it they are skipped — except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app_skeleton.mail import Mailbox

if _copy := os.environ.get("WORKBOOK_SERVICE_DIR"):  # a copy of the project (the learner's): test that instead
    import importlib.util
    import sys

    _spec = importlib.util.spec_from_file_location(
        "app_skeleton.service", Path(_copy, "__init__.py"), submodule_search_locations=[_copy]
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["app_skeleton.service"] = _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)

from app_skeleton.service import migrate
from app_skeleton.service.main import create_app
from app_skeleton.service.settings import Settings, get_settings

POSTGRES = os.environ.get("WORKBOOK_POSTGRES_URL", "")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file, not yet migrated."""
    return f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"


async def _admin(sql: str) -> None:
    import asyncpg  # only the PostgreSQL tests need the driver directly

    connection = await asyncpg.connect(POSTGRES)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the test server (``postgresql+asyncpg://…``)."""
    if not POSTGRES:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but WORKBOOK_POSTGRES_URL is not set: .ci/run should have started PostgreSQL")
        pytest.skip("no PostgreSQL server: set WORKBOOK_POSTGRES_URL=postgresql://user@host:port/postgres")
    name = f"workbook_{secrets.token_hex(6)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each API test runs on both databases, migrated to head (PostgreSQL: see postgres_url)."""
    url: str = request.getfixturevalue(f"{'sqlite' if request.param == 'sqlite' else 'postgres'}_url")
    migrate.upgrade(url)
    return url


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def make_settings(database_url: str, mailbox: Mailbox) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": database_url,
            "secret_key": secrets.token_hex(32),
            "smtp_port": mailbox.port,
            "environment": "test",
            **overrides,
        }
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app with this test's settings; entering TestClient runs the lifespan."""
    app = create_app()
    app.dependency_overrides[get_settings] = lambda: settings
    with TestClient(app) as test_client:
        yield test_client


def signup(client: TestClient, username: str | None = None, password: str = "correct horse") -> dict[str, object]:
    username = username or f"u_{secrets.token_hex(4)}"
    response = client.post(
        "/users", json={"username": username, "email": f"{username}@example.org", "password": password}
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def login(client: TestClient, username: str, password: str = "correct horse") -> dict[str, str]:
    response = client.post("/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
