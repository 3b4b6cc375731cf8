"""app_skeleton.db: the per-app SQLite database the chapter 02 handlers call.

Plain ``asyncio.run`` per test: no async pytest plugin needed, and every test
proves the database opens and closes inside one event loop, as in a lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from app_skeleton.db import Database, DatabaseNotOpen, hash_password


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_open_creates_a_file_and_close_removes_it_and_its_threads() -> None:
    before = threading.active_count()

    async def go() -> Path:
        async with Database() as db:
            assert db.path is not None and db.path.exists()
            await db.create_user("ada", "ada@example.org", 36)
            return db.path

    path = run(go())
    assert not path.exists() and not path.parent.exists()
    assert threading.active_count() == before


def test_created_user_round_trips_with_a_hash_and_utc_time() -> None:
    async def go() -> None:
        async with Database() as db:
            made = await db.create_user("grace", "grace@example.org", 85)
            got = await db.get_user(made.id)
            assert got is not None
            assert (got.id, got.username, got.email, got.age) == (made.id, "grace", "grace@example.org", 85)
            assert got.password_hash.startswith("pbkdf2_sha256$") and got.password_hash == made.password_hash
            assert got.created_at.utcoffset() is not None and made.created_at.utcoffset() is not None
            assert got.created_at == made.created_at

    run(go())


def test_missing_zero_and_oversized_ids_are_none() -> None:
    async def go() -> None:
        async with Database() as db:
            await db.create_user("ada", "ada@example.org")
            for user_id in (2, 0, -1, 2**63, 10**30):
                assert await db.get_user(user_id) is None
                assert await db.soft_delete(user_id) is False

    run(go())


def test_soft_deleted_user_is_hidden_unless_asked_for() -> None:
    async def go() -> None:
        async with Database() as db:
            user = await db.create_user("linus", "linus@example.org", 30)
            assert await db.soft_delete(user.id) is True
            assert await db.soft_delete(user.id) is False  # already deleted
            assert await db.get_user(user.id) is None
            hidden = await db.get_user(user.id, include_deleted=True)
            assert hidden is not None and hidden.is_deleted
            assert [u.id for u in await db.list_users()] == []
            assert [u.id for u in await db.list_users(include_deleted=True)] == [user.id]

    run(go())


def test_two_databases_never_share_rows() -> None:
    async def go() -> None:
        async with Database() as one, Database() as two:
            await one.create_user("ada", "ada@example.org")
            assert await two.get_user(1) is None
            await two.create_user("ada", "other@example.org")  # same name: a different table
            assert one.path != two.path

    run(go())


def test_duplicate_username_is_an_integrity_error() -> None:
    async def go() -> None:
        async with Database() as db:
            await db.create_user("ada", "ada@example.org")
            with pytest.raises(IntegrityError):
                await db.create_user("ada", "ada2@example.org")

    run(go())


def test_using_a_closed_database_says_why() -> None:
    with pytest.raises(DatabaseNotOpen, match="serve the app"):
        run(Database().get_user(1))


def test_hash_password_is_salted() -> None:
    one, two = hash_password("secret"), hash_password("secret")
    assert one != two and one.split("$")[:2] == ["pbkdf2_sha256", "10000"]


def test_for_app_opens_in_the_lifespan_and_keeps_the_apps_own() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[None]:
        events.append("own startup")
        yield
        events.append("own shutdown")

    app = FastAPI(lifespan=own)
    db = Database.for_app(app)

    @app.post("/users", status_code=201)
    async def create() -> dict[str, int]:
        return {"id": (await db.create_user("ada", "ada@example.org")).id}

    async def go() -> Path | None:
        assert not db.is_open
        async with app.router.lifespan_context(app):
            assert db.is_open and events == ["own startup"]
            path = db.path
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                response = await client.post("/users")
            assert response.status_code == 201 and response.json() == {"id": 1}
        assert not db.is_open and events == ["own startup", "own shutdown"]
        return path

    path = run(go())
    assert path is not None and not path.exists()
