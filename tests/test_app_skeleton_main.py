"""app_skeleton.settings and app_skeleton.main: the app chapter 07 deploys."""

from __future__ import annotations

import asyncio
import importlib
import os
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from app_skeleton.main import create_app
from app_skeleton.settings import Settings

KEYS = ("DATABASE_URL", "SECRET_KEY", "ENVIRONMENT", "DEBUG", "WEB_CONCURRENCY", "WORKERS")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}", secret_key="k" * 32, **extra)


def test_required_fields_fail_at_construction() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings()  # type: ignore[call-arg]
    assert {(e["loc"][0], e["type"]) for e in caught.value.errors()} == {
        ("database_url", "missing"),
        ("secret_key", "missing"),
    }


def test_dotenv_from_the_working_directory_env_wins_extra_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("DATABASE_URL=sqlite:///x.db\nSECRET_KEY=abc\nENVIRONMENT=dev\nPOSTGRES_PASSWORD=p\n")
    monkeypatch.setenv("ENVIRONMENT", "staging")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    loaded = Settings()  # type: ignore[call-arg]
    assert (loaded.database_url, loaded.environment, loaded.workers) == ("sqlite:///x.db", "staging", 3)
    assert loaded.secret_key.get_secret_value() == "abc" and "abc" not in repr(loaded)


def test_health_and_users_api(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path, environment="test"))

    async def go() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                health = (await client.get("/health")).json()
                assert health == {"status": "ok", "pid": os.getpid(), "environment": "test"}
                created = await client.post("/users", json={"username": "ada", "email": "Ada@Example.org", "age": 36})
                assert created.status_code == 201, created.text
                body = created.json()
                assert set(body) == {"id", "username", "email", "created_at"} and body["email"] == "ada@example.org"
                assert (await client.get(f"/users/{body['id']}")).json() == body
                assert (await client.get("/users/999")).status_code == 404
                assert (await client.get("/debug/block")).status_code == 404  # only with debug=True

    asyncio.run(go())
    assert (tmp_path / "app.db").exists()  # the configured database, shared by every worker


def test_importing_needs_no_environment_but_app_does(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module = importlib.reload(importlib.import_module("app_skeleton.main"))
    with pytest.raises(ValidationError):
        module.app  # noqa: B018 - built on first access, from the (empty) environment
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("SECRET_KEY", "k" * 32)
    monkeypatch.setenv("DEBUG", "true")
    built = module.app
    assert built is module.app and any(getattr(r, "path", "") == "/debug/block" for r in built.routes)
    importlib.reload(module)  # forget the built app
