"""Concurrent writers against the service: what SQLite's one file lock and PostgreSQL do with them.

Shared by ``benchmarks/bench_writers.py`` and chapter 09's notebook, so both measure the same
thing: ``count`` sign-ups sent at once (each one INSERT + COMMIT) over loopback, their statuses
and timelines, the server log's "database is locked" lines, and the connection arithmetic a
PostgreSQL deployment must respect: workers × (pool_size + max_overflow) ≤ max_connections − 3
(PostgreSQL keeps ``superuser_reserved_connections``, 3 by default, for superusers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import httpx

Span = tuple[float, float]
RESERVED = 3  # PostgreSQL's default superuser_reserved_connections
T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end on a loop of its own, in a thread: works from a script and from a
    notebook cell alike (Jupyter's loop is already running there, so ``asyncio.run`` would refuse)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def signups(url: str, count: int, password: str = "correct horse") -> tuple[list[int], list[Span]]:
    """``count`` sign-ups at once; each request's status and (start, end) since the first was sent."""
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        t0 = time.perf_counter()

        async def one() -> tuple[int, Span]:
            name = f"w_{secrets.token_hex(5)}"
            start = time.perf_counter() - t0
            body = {"username": name, "email": f"{name}@example.org", "password": password}
            response = await client.post("/users", json=body)
            return response.status_code, (start, time.perf_counter() - t0)

        results = await asyncio.gather(*(one() for _ in range(count)))
    return [s for s, _ in results], [span for _, span in results]


def locked_lines(log: str) -> int:
    """How many lines of a server log report SQLite's "database is locked"."""
    return sum("database is locked" in line for line in log.splitlines())


def admin_url() -> str:
    """A PostgreSQL server to create throw-away databases on: ``WORKBOOK_POSTGRES_URL`` (what
    ``.ci/postgres.sh`` exports), else ``DATABASE_URL`` when it names PostgreSQL; "" for none."""
    for name in ("WORKBOOK_POSTGRES_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
            return "postgresql://" + url.split("://", 1)[1]
    return ""


async def _admin(url: str, sql: str) -> None:
    import asyncpg  # only the PostgreSQL half needs the driver directly

    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _max_connections(url: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=5)
    try:
        return int(await connection.fetchval("SHOW max_connections"))
    finally:
        await connection.close()


def max_connections(url: str) -> int:
    """The server's ``max_connections`` setting."""
    return _run(_max_connections(url))


def reachable(url: str) -> str:
    """"" when the server at ``url`` answers, else why not (one line)."""
    try:
        max_connections(url)
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here", said plainly
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return ""


@contextlib.contextmanager
def throwaway_database(url: str) -> Iterator[str]:
    """A fresh database on the server at ``url``, as a ``postgresql+asyncpg://`` URL; dropped after."""
    name = f"writers_{secrets.token_hex(4)}"
    _run(_admin(url, f'CREATE DATABASE "{name}"'))
    try:
        yield "postgresql+asyncpg://" + url.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name
    finally:
        _run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def connection_budget(workers: int, pool_size: int, max_overflow: int, limit: int) -> str:
    """The arithmetic in one sentence: the most connections ``workers`` processes open, against ``limit``."""
    per_worker, usable = pool_size + max_overflow, limit - RESERVED
    verdict = "fits" if workers * per_worker <= usable else "too many"
    return (f"{workers} workers × (pool_size {pool_size} + max_overflow {max_overflow}) = {workers * per_worker} "
            f"connections at most, of max_connections {limit} − {RESERVED} for superusers = {usable}: {verdict} "
            f"(at most {usable // per_worker} such workers)")  # fmt: skip
