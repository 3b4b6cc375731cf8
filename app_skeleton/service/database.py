"""One engine per worker process, and the session dependency (chapter 04's ``get_db``).

The URL decides the database:

- ``sqlite+aiosqlite:///file`` — embedded, nothing to install. One writer at a time for the
  whole file: concurrent writers from several gunicorn workers wait for its lock (up to
  ``busy_timeout``) and past it get ``database is locked``. WAL mode lets readers go on meanwhile.
- ``postgresql+asyncpg://user@host:port/db`` — a server: every worker gets a pool of
  ``pool_size`` connections plus ``max_overflow`` more under load.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from starlette.requests import Request

from .settings import Settings


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(settings: Settings) -> AsyncEngine:
    """The engine for ``settings.database_url``, tuned for its backend."""
    url = settings.database_url
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": settings.sqlite_busy_timeout})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(
        url, pool_size=settings.pool_size, max_overflow=settings.max_overflow, pool_pre_ping=True, pool_timeout=10
    )


def connections_per_worker(settings: Settings) -> int:
    """The most connections one worker process opens: pool_size + max_overflow."""
    return settings.pool_size + settings.max_overflow


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session per request, on the engine the lifespan opened; closed (rolled back) after."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session
