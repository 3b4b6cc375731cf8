"""app_skeleton/writers.py: the pieces of the SQLite-vs-PostgreSQL burst that need no server."""

from __future__ import annotations

import pytest

from app_skeleton import writers


def test_the_connection_budget_is_workers_times_pool_and_overflow() -> None:
    fits = writers.connection_budget(4, 5, 5, 100)
    assert "= 40 connections" in fits and "= 97: fits" in fits and "at most 9 such workers" in fits
    assert ": too many" in writers.connection_budget(12, 5, 5, 100)


def test_locked_lines_counts_only_sqlites_lock_errors() -> None:
    log = "GET /health 200\nsqlite3.OperationalError: database is locked\nPOST /users 500\n(database is locked)\n"
    assert writers.locked_lines(log) == 2


def test_the_server_comes_from_the_workbook_variable_or_a_postgresql_database_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WORKBOOK_POSTGRES_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///x.sqlite3")
    assert writers.admin_url() == ""  # SQLite: no server to measure
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://me@127.0.0.1:5432/app")
    assert writers.admin_url() == "postgresql://me@127.0.0.1:5432/app"  # asyncpg.connect's form
    monkeypatch.setenv("WORKBOOK_POSTGRES_URL", "postgresql://postgres@127.0.0.1:6543/postgres")
    assert writers.admin_url() == "postgresql://postgres@127.0.0.1:6543/postgres"


def test_an_unreachable_server_is_said_plainly_in_one_line() -> None:
    why = writers.reachable("postgresql://nobody@127.0.0.1:9/postgres")  # port 9: nothing listens
    assert why and "\n" not in why
