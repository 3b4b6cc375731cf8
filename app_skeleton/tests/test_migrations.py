"""Alembic owns the schema: 0001 creates users, 0002 adds display_name to a table with rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from app_skeleton.service import migrate


async def _run(url: str, *statements: str, params: list[dict[str, object]] | None = None) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            rows: list[tuple[object, ...]] = []
            for sql in statements:
                result = await conn.execute(text(sql), params or {})
                if result.returns_rows:
                    rows = [tuple(r) for r in result]
            return rows
    finally:
        await engine.dispose()


async def _columns(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("users")})
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0002_backfills_existing_rows_then_requires_the_column(backend: str, request: pytest.FixtureRequest) -> None:
    url: str = request.getfixturevalue(f"{backend}_url")
    migrate.upgrade(url, "0001")
    assert "display_name" not in asyncio.run(_columns(url))
    now = datetime.now(UTC)
    rows = [{"u": f"user_{i}", "e": f"u{i}@example.org", "h": "x", "c": now} for i in range(3)]
    asyncio.run(_run(url, "INSERT INTO users (username, email, password_hash, created_at) VALUES (:u, :e, :h, :c)",
                     params=rows))  # fmt: skip
    migrate.upgrade(url)  # head: 0002 on a table with three rows
    found = asyncio.run(_run(url, "SELECT username, display_name FROM users ORDER BY id"))
    assert found == [(r["u"], r["u"]) for r in rows]
    assert asyncio.run(_run(url, "SELECT version_num FROM alembic_version")) == [("0002",)]
    with pytest.raises(IntegrityError):  # NOT NULL now holds for new rows
        asyncio.run(_run(url, "INSERT INTO users (username, email, password_hash, created_at, display_name) "
                              "VALUES ('n', 'n@example.org', 'x', '2026-01-01', NULL)"))  # fmt: skip
    migrate.downgrade(url, "0001")
    assert "display_name" not in asyncio.run(_columns(url))
    assert len(asyncio.run(_run(url, "SELECT id FROM users"))) == 3  # the rows survive a downgrade
