"""Several gunicorn workers writing at once: SQLite's one lock against PostgreSQL's server.

    .venv/bin/python benchmarks/bench_writers.py [--workers 4] [--requests 120] [--plot writers.png]

For each database the service is migrated, served by gunicorn (uvicorn workers, the Dockerfile's
command) and sent ``--requests`` concurrent sign-ups (each one INSERT + COMMIT) over loopback:

  1. SQLite, busy_timeout 0   a writer that finds the file locked fails at once ("database is locked")
  2. SQLite, busy_timeout 5 s the writers wait for the lock: all succeed, one at a time
  3. PostgreSQL               row locks, not a file lock: the workers' pools write side by side
                              (WORKBOOK_POSTGRES_URL as .ci/postgres.sh sets, or a PostgreSQL DATABASE_URL;
                              skipped, saying why, without a reachable server)

and prints, per run, the statuses, the "database is locked" lines in the server's log, the wall
time, and the connection arithmetic: workers × (pool_size + max_overflow) against PostgreSQL's
max_connections. Figures vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app_skeleton import writers  # noqa: E402
from app_skeleton.service import migrate  # noqa: E402
from app_skeleton.service.settings import Settings  # noqa: E402
from app_skeleton.timeline import Span, plot_timelines  # noqa: E402
from workbook import dockerfile  # noqa: E402
from workbook.processes import start_process  # noqa: E402


def run(label: str, database_url: str, env: dict[str, str], workers: int, count: int) -> list[Span]:
    migrate.upgrade(database_url)
    image = dockerfile.parse((ROOT / "app_skeleton" / "Dockerfile").read_text())
    server = start_process(
        [sys.executable, "-m", *image.argv], label, cwd=ROOT, ready_path="/ready", timeout=60,
        env={**image.env, "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(32), "HOST": "127.0.0.1",
             "WEB_CONCURRENCY": str(workers), "SMTP_PORT": "9", "RATE_LIMIT": "100000", **env},
    )  # fmt: skip
    try:
        statuses, spans = asyncio.run(writers.signups(server.url, count))
        time.sleep(0.3)
        locked = writers.locked_lines(server.log_text())
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
    admin = writers.admin_url()
    why_not = writers.reachable(admin) if admin else "no WORKBOOK_POSTGRES_URL: .ci/postgres.sh starts a server"
    if not why_not:
        with writers.throwaway_database(admin) as url:
            runs["PostgreSQL"] = run("PostgreSQL", url, {}, args.workers, args.requests)
        settings = Settings(secret_key="x")  # type: ignore[call-arg]  # the defaults a deployment starts from
        limit = writers.max_connections(admin)
        print("connections:", writers.connection_budget(args.workers, settings.pool_size, settings.max_overflow, limit))
    else:
        print(f"PostgreSQL: skipped ({why_not})")
    if args.plot:
        plot_timelines(runs).savefig(args.plot, dpi=80)
        print("timeline:", args.plot)


if __name__ == "__main__":
    main()
