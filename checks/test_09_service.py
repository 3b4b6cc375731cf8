"""Chapter 09 checks: your project, migrated and served by gunicorn in processes of the checks' own.

The checks never import your code. They fetch your project folder from the notebook's app
(``GET /files``, as CI checks out a repository), copy it into a fresh temporary folder, run
``alembic upgrade`` on a fresh SQLite database there and start gunicorn with uvicorn workers on
it (the project's own ``gunicorn.conf.py``), with a random ``SECRET_KEY`` the checks know, so they
can sign real tokens and forge others. Then they grade it over HTTP with random users; the
welcome e-mail goes over real SMTP to a mailbox (aiosmtpd, loopback) in the checks' own process.
Each check also runs the project's own tests for its part (``app_skeleton/tests``, the workbook's copy,
never yours) against your files, in a subprocess beside the HTTP part: "your test suite passes on your
service", one exercise at a time. Every process is stopped in a ``finally``; nothing is written into your
folder.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt

import app_skeleton
from app_skeleton.auth import create_access_token, hash_password
from app_skeleton.mail import Mailbox
from workbook import projects
from workbook.processes import ProcessServer, start_process
from workbook.testing import expect, show

rng = random.Random()
PASSWORD = "correct horse battery"
SUITE = Path(app_skeleton.__file__).resolve().parent / "tests"  # the project's tests, as the workbook ships them
SUITE_TIMEOUT = 120.0


class Project:
    """The learner's project copied into a temp folder, with its own database and secret key."""

    def __init__(self, app: httpx.Client, folder: Path) -> None:
        self.root = folder
        self.package = projects.download(str(app.base_url), folder)
        self.db = folder / "service.sqlite3"
        self.secret = secrets.token_hex(32)

    def alembic(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "alembic", "-c", "service/alembic.ini", *args]
        env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{self.db}"}
        return subprocess.run(cmd, cwd=self.root, env=env, capture_output=True, text=True, timeout=60)

    def upgrade(self, target: str = "head") -> None:
        done = self.alembic("upgrade", target)
        expect(done.returncode == 0, f"`alembic upgrade {target}` succeeds", done.stderr[-1500:])

    @contextlib.contextmanager
    def suite(self, *tests: str) -> Iterator[None]:
        """Run the project's tests named ``tests`` on these files while the block runs; then expect them
        to pass. SQLite only (no PostgreSQL URL, no CI flag: those tests skip), plugins off, a time limit."""
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "WORKBOOK_POSTGRES_URL", "DATABASE_URL")}
        env |= {"WORKBOOK_SERVICE_DIR": str(self.package), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        args = [str(SUITE / spec) for spec in tests]
        cmd = [sys.executable, "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider", *args]
        with tempfile.TemporaryFile("w+") as out:
            running = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
            try:
                yield
                code = running.wait(SUITE_TIMEOUT)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                if running.poll() is None:
                    running.kill()
                    running.wait()
            out.seek(0)
            lines = out.read().splitlines()
        names = ", ".join(t.split("::")[-1] for t in tests)
        failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))] or lines[-6:]
        expect(code == 0, f"the project's own tests pass on your files ({names})",
               "still running after 2 minutes" if code is None else "\n".join(failed)[-900:])  # fmt: skip

    @contextlib.contextmanager
    def served(self, **settings: str) -> Iterator[ProcessServer]:
        argv = [sys.executable, "-m", "gunicorn", "-c", "service/gunicorn.conf.py", "service.main:app"]
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.db}",
            "SECRET_KEY": self.secret,
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "1",  # one worker: the rate limiter's counts live in the worker
            "SMTP_PORT": "9",  # the welcome e-mail fails and is logged; graded by the 09.5 check, which sets it
            **settings,
        }
        server = start_process(argv, "09-check", env=env, cwd=self.root, ready_path="/health", timeout=60)
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def project(app: httpx.Client) -> Iterator[Project]:
    with tempfile.TemporaryDirectory(prefix="workbook-09-") as tmp:
        yield Project(app, Path(tmp))


def name() -> str:
    return f"u_{secrets.token_hex(5)}"


def signup(client: httpx.Client, username: str | None = None) -> httpx.Response:
    username = username or name()
    body = {"username": username, "email": f"{username}@example.org", "password": PASSWORD}
    return client.post("/users", json=body)


def wait_for(probe: Callable[[], Any], within: float) -> Any:
    """``probe()``'s first truthy answer within ``within`` seconds (polled), else its last one."""
    deadline = time.monotonic() + within
    while not (found := probe()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_only_the_owner_reaches_an_account(app: httpx.Client) -> None:
    with project(app) as p, p.suite("test_api.py::test_owner_rule",
                                     "test_api.py::test_every_bad_token_is_a_401_with_www_authenticate"):
        p.upgrade()
        with p.served(RATE_LIMIT="1000") as server, httpx.Client(base_url=server.url, timeout=15) as client:
            users = [signup(client) for _ in range(rng.randint(2, 4))]
            expect(all(r.status_code == 201 for r in users), "POST /users → 201", show(users[-1]))
            me, other = rng.sample([r.json() for r in users], 2)
            leaked = "password_hash" in me or "password" in me
            expect(not leaked, "no password (hash) in the response", str(me))
            token = create_access_token(me["id"], p.secret)
            own = client.get(f"/users/{me['id']}", headers=bearer(token))
            expect(own.status_code == 200 and own.json() == me, f"GET /users/{me['id']} with its own token → 200",
                   show(own))  # fmt: skip
            mine = client.get("/users/me", headers=bearer(token))
            expect(mine.status_code == 200 and mine.json() == me, "GET /users/me → 200, the same fields as sign-up "
                   "(response_model: no password hash on any route)", show(mine))  # fmt: skip
            missing = max(u.json()["id"] for u in users) + rng.randint(1000, 9999)
            for target in (other["id"], missing):
                for method in ("GET", "DELETE"):
                    r = client.request(method, f"/users/{target}", headers=bearer(token))
                    expect(r.status_code == 403, f"{method} /users/{target} (not the token's user, "
                           f"{'existing' if target == other['id'] else 'missing'}) → 403 like every other id",
                           show(r))  # fmt: skip
            forged = jwt.encode({"sub": str(other["id"]), "exp": 2**31}, secrets.token_hex(32), algorithm="HS256")
            expired = create_access_token(me["id"], p.secret, expires_in=0)
            for label, bad in (("a forged token (another key)", forged), ("an expired token", expired)):
                r = client.get("/users/me", headers=bearer(bad))
                expect(r.status_code == 401, f"GET /users/me with {label} → 401", show(r))


def test_the_rate_limit_follows_the_verified_identity(app: httpx.Client) -> None:
    limit = rng.randint(4, 7)
    with project(app) as p, p.suite("test_api.py::test_the_rate_limit_is_per_verified_user"):
        p.upgrade()
        with p.served(RATE_LIMIT=str(limit), RATE_WINDOW="600") as server, \
                httpx.Client(base_url=server.url, timeout=15) as client:  # fmt: skip
            first = signup(client)
            expect(first.status_code == 201, "POST /users → 201", show(first))
            statuses = [signup(client).status_code for _ in range(limit + 1)]
            expect(statuses[-1] == 429, f"after {limit} requests from one address without a token → 429 "
                   f"(RATE_LIMIT={limit})", str(statuses))  # fmt: skip
            refused = signup(client)
            wait = refused.headers.get("retry-after", "")
            expect(refused.status_code == 429 and wait.isdigit() and 1 <= int(wait) <= 600
                   and isinstance(refused.json().get("detail"), str),
                   "the 429 says when to come back: Retry-After in whole seconds (1–600, RATE_WINDOW=600) and a "
                   "JSON {'detail': ...}", show(refused) + f" Retry-After: {wait!r}")  # fmt: skip
            token = create_access_token(first.json()["id"], p.secret)
            mine = client.get("/users/me", headers=bearer(token))
            expect(mine.status_code == 200, "a verified user has a budget of their own: GET /users/me with a "
                   "valid token → 200 while the address's budget is spent", show(mine))  # fmt: skip
            claim = {"sub": str(rng.randint(10_000, 99_999)), "exp": 2**31}
            forged = jwt.encode(claim, secrets.token_hex(32), algorithm="HS256")
            u = name()
            body = {"username": u, "email": f"{u}@example.org", "password": PASSWORD}
            sneaky = client.post("/users", headers=bearer(forged), json=body)
            expect(sneaky.status_code in (401, 429), "a forged token (any 'sub', wrong key) buys no new budget: "
                   "POST /users with it → 401 (or 429), never 201", show(sneaky))  # fmt: skip


def test_the_migration_backfills_rows_that_exist(app: httpx.Client) -> None:
    with project(app) as p, p.suite("test_migrations.py"):
        p.upgrade("0001")
        olds = [name() for _ in range(rng.randint(2, 5))]
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLAlchemy stores it in SQLite
        with sqlite3.connect(p.db) as db:
            for username in olds:
                db.execute(
                    "INSERT INTO users (username, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
                    (username, f"{username}@example.org", hash_password(PASSWORD), now),
                )
        p.upgrade("head")
        with sqlite3.connect(p.db) as db:
            columns = {row[1]: row for row in db.execute("PRAGMA table_info(users)")}
        expect("display_name" in columns, "after `alembic upgrade head`, users has a display_name column",
               str(sorted(columns)))  # fmt: skip
        with p.served(RATE_LIMIT="1000") as server, httpx.Client(base_url=server.url, timeout=15) as client:
            who = rng.choice(olds)
            token = client.post("/auth/token", json={"username": who, "password": PASSWORD})
            expect(token.status_code == 200, f"a user from before the migration ({who}) logs in", show(token))
            me = client.get("/users/me", headers=bearer(token.json()["access_token"]))
            expect(me.status_code == 200 and me.json().get("display_name") == who,
                   f"GET /users/me of a user from before the migration → 200, display_name = their username "
                   f"{who!r}", show(me))  # fmt: skip
        expect(columns["display_name"][3] == 1, "display_name is NOT NULL once every row has one",
               f"nullable (PRAGMA table_info notnull = {columns['display_name'][3]})")  # fmt: skip


def test_ready_only_once_the_database_is_migrated(app: httpx.Client) -> None:
    with project(app) as p, p.suite("test_api.py::test_health_is_liveness_and_ready_reads_the_migration",
                                     "test_api.py::test_ready_is_503_on_a_database_that_was_never_migrated"):
        p.db.touch()  # reachable, but no migration has run
        with p.served() as server, httpx.Client(base_url=server.url, timeout=15) as client:
            health, before = client.get("/health"), client.get("/ready")
            expect(health.status_code == 200, "GET /health → 200 (the process answers)", show(health))
            expect(before.status_code == 503, "GET /ready before `alembic upgrade head` → 503 (not ready)",
                   show(before))  # fmt: skip
            p.upgrade()
            after = client.get("/ready")
            expect(after.status_code == 200 and after.json().get("revision") == "0002",
                   "GET /ready after `alembic upgrade head` → 200 with revision '0002'", show(after))  # fmt: skip


def test_the_welcome_email_follows_the_commit(app: httpx.Client) -> None:
    with project(app) as p, Mailbox() as mailbox, \
            p.suite("test_api.py::test_signup_sends_the_welcome_email_and_hides_the_hash"):  # fmt: skip
        p.upgrade()
        with p.served(RATE_LIMIT="1000", SMTP_PORT=str(mailbox.port)) as server, \
                httpx.Client(base_url=server.url, timeout=15) as client:  # fmt: skip
            username = name()
            email = f"{username}@{rng.choice(['example.org', 'example.net', 'mail.example.com'])}"
            first = client.post("/users", json={"username": username, "email": email, "password": PASSWORD})
            expect(first.status_code == 201, "POST /users → 201", show(first))
            arrived = wait_for(lambda: mailbox.to(email), 5.0)  # a background task's e-mail takes ~0.1 s here
            expect(arrived, f"the welcome e-mail arrives at the address signed up with ({email})",
                   f"in 5 s, delivered to {[m.to for m in mailbox.messages] or 'nobody'}")  # fmt: skip
            expect(username in arrived[0].body, f"the welcome e-mail names the user ({username})",
                   repr(arrived[0].body))  # fmt: skip

            taken = f"{name()}@example.org"  # the same username again, another address
            again = client.post("/users", json={"username": username, "email": taken, "password": PASSWORD})
            is_json = again.headers.get("content-type", "").startswith("application/json")
            detail = again.json().get("detail") if is_json else None
            expect(again.status_code == 409 and isinstance(detail, str),
                   "the same username again → 409 {'detail': '...'} (the domain error's handler)", show(again))
            secret = secrets.token_hex(3)  # 6 characters: too short a password, and a username with capitals
            bad = f"{name()}@example.org"
            invalid = client.post("/users", json={"username": "No Capitals", "email": bad, "password": secret})
            errors = invalid.json().get("detail") if invalid.status_code == 422 else None
            fields = {"loc", "msg", "type"}
            shaped = isinstance(errors, list) and errors and all(isinstance(e, dict) and fields <= e.keys()
                                                                 for e in errors)  # fmt: skip
            expect(invalid.status_code == 422 and shaped and secret not in invalid.text,
                   "an invalid sign-up → 422 listing loc, msg and type per error, never echoing the password",
                   show(invalid))  # fmt: skip
            time.sleep(1.0)  # an e-mail sent anyway would have arrived by now (the mailbox answers at once)
            stray = mailbox.to(taken) + mailbox.to(bad)
            expect(not stray, "no welcome e-mail for a sign-up that was refused (409, 422): send it only once the "
                   "user is committed", f"e-mails to {[m.to for m in stray]}")  # fmt: skip

            mailbox.delay = 0.8  # a slow mail provider: each message takes 0.8 s
            slow = name()
            started = time.time()
            late = signup(client, slow)
            answered = time.time()
            expect(late.status_code == 201, "POST /users → 201", show(late))
            arrived = wait_for(lambda: mailbox.to(f"{slow}@example.org"), 5.0)
            expect(arrived, f"the welcome e-mail arrives at {slow}@example.org", "nothing arrived in 5 s")
            delivered = arrived[0].delivered
            expect(answered < delivered, "the 201 arrives before the e-mail is delivered (SMTP takes 0.8 s here): "
                   "the e-mail is a background task, not awaited in the handler",
                   f"201 after {answered - started:.2f} s, e-mail delivered after {delivered - started:.2f} s")
