"""Several gunicorn workers writing at once: SQLite's one lock against PostgreSQL's server.

    .venv/bin/python benchmarks/bench_writers.py [--workers 4] [--requests 120] [--plot writers.png]

For each database the service is migrated, served by gunicorn (uvicorn workers, the Dockerfile's
command) and sent ``--requests`` concurrent sign-ups (each one INSERT + COMMIT) over loopback:

  1. SQLite, busy_timeout 0   a writer that finds the file locked fails at once ("database is locked")
  2. SQLite, busy_timeout 5 s the writers wait for the lock: all succeed, one at a time
  3. PostgreSQL               row locks, not a file lock: the workers' pools write side by side
                              (needs WORKBOOK_POSTGRES_URL, as .ci/postgres.sh sets; skipped without)

and prints, per run, the statuses, the "database is locked" lines in the server's log, the wall
time, and the connection arithmetic: workers × (pool_size + max_overflow) against PostgreSQL's
max_connections. Figures vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from app_skeleton.service import migrate  # noqa: E402
from app_skeleton.service.settings import Settings  # noqa: E402
from app_skeleton.timeline import Span, plot_timelines  # noqa: E402
from workbook import dockerfile  # noqa: E402
from workbook.processes import start_process  # noqa: E402


async def signups(url: str, count: int) -> tuple[list[int], list[Span]]:
    """``count`` sign-ups at once; each request's status and (start, end) since the first was sent."""
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        t0 = time.perf_counter()

        async def one() -> tuple[int, Span]:
            name = f"w_{secrets.token_hex(5)}"
            start = time.perf_counter() - t0
            response = await client.post("/users", json={"username": name, "email": f"{name}@example.org",
                                                         "password": "correct horse"})  # fmt: skip
            return response.status_code, (start, time.perf_counter() - t0)

        results = await asyncio.gather(*(one() for _ in range(count)))
    return [s for s, _ in results], [span for _, span in results]


async def max_connections(url: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SHOW max_connections"))
    finally:
        await connection.close()


def run(label: str, database_url: str, env: dict[str, str], workers: int, count: int) -> list[Span]:
    migrate.upgrade(database_url)
    image = dockerfile.parse((ROOT / "app_skeleton" / "Dockerfile").read_text())
    server = start_process(
        [sys.executable, "-m", *image.argv], label, cwd=ROOT, ready_path="/ready", timeout=60,
        env={**image.env, "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(32), "HOST": "127.0.0.1",
             "WEB_CONCURRENCY": str(workers), "SMTP_PORT": "9", "RATE_LIMIT": "100000", **env},
    )  # fmt: skip
    try:
        statuses, spans = asyncio.run(signups(server.url, count))
        time.sleep(0.3)
        locked = sum("database is locked" in line for line in server.log_text().splitlines())
    finally:
        server.stop()
    wall = max(end for _, end in spans)
    print(f"{label:28} {dict(sorted(collections.Counter(statuses).items()))}  "
          f"'database is locked' log lines: {locked:3}  wall {wall:5.2f} s")  # fmt: skip
    return spans


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    runs: dict[str, list[Span]] = {}
    print(f"{args.requests} concurrent sign-ups, gunicorn with {args.workers} uvicorn workers")
    with tempfile.TemporaryDirectory() as folder:
        for label, timeout in (("SQLite, busy_timeout 0", "0"), ("SQLite, busy_timeout 5 s", "5")):
            url = f"sqlite+aiosqlite:///{folder}/{timeout}.sqlite3"
            runs[label] = run(label, url, {"SQLITE_BUSY_TIMEOUT": timeout}, args.workers, args.requests)
    admin = os.environ.get("WORKBOOK_POSTGRES_URL", "")
    if admin:
        import asyncpg

        name = f"bench_{secrets.token_hex(4)}"
        asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
        try:
            url = admin.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit("/", 1)[0] + "/" + name
            runs["PostgreSQL"] = run("PostgreSQL", url, {}, args.workers, args.requests)
        finally:
            asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        settings = Settings(secret_key="x")  # type: ignore[call-arg]  # the defaults a deployment starts from
        per_worker = settings.pool_size + settings.max_overflow
        limit = asyncio.run(max_connections(admin))
        print(f"connections: {args.workers} workers × (pool_size {settings.pool_size} + max_overflow "
              f"{settings.max_overflow}) = {args.workers * per_worker} at most, of max_connections {limit} "
              f"(PostgreSQL keeps 3 for superusers): at most {(limit - 3) // per_worker} such workers")  # fmt: skip
        del asyncpg
    else:
        print("PostgreSQL: skipped (no WORKBOOK_POSTGRES_URL; .ci/postgres.sh starts a throw-away server)")
    if args.plot:
        plot_timelines(runs).savefig(args.plot, dpi=80)
        print("timeline:", args.plot)


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
