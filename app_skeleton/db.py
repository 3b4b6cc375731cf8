"""The ``db`` the article's handlers call: a real SQLite database per app.

The article writes ``await db.get_user(...)`` and ``await db.create_user(...)`` but
never says what ``db`` is. Here it is a small async repository over SQLAlchemy 2 +
aiosqlite. Each ``Database`` owns its own SQLite file in a fresh temporary folder,
opened by the app's lifespan and deleted at shutdown, so re-running a cell or
grading two notebooks at once never shows one app the other's rows::

    app = FastAPI(title="User API", version="1.0.0")
    db = Database.for_app(app)  # the lifespan opens it at startup, removes it at shutdown

Rows come back detached (``expire_on_commit=False``): a handler can return them
after the session has closed, which is what lets a ``password_hash`` leak when no
response model filters it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app_skeleton.models import Base, User

_SQLITE_MAX_INT = 2**63 - 1  # a larger id cannot be a row: SQLite would raise OverflowError


class DatabaseNotOpen(RuntimeError):
    """``db`` was used outside the app's lifespan (the app is not being served)."""


def hash_password(password: str, iterations: int = 10_000) -> str:
    """A salted PBKDF2-SHA256 hash in ``pbkdf2_sha256$iterations$salt$hash`` form.

    10 000 iterations keep the workbook fast (checks create many users on 2 cores);
    production code should use its library's current recommendation (600 000+ for
    PBKDF2-SHA256) or argon2/bcrypt.
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"pbkdf2_sha256${iterations}${b64(salt)}${b64(digest)}"


def _as_utc(user: User) -> User:
    """SQLite drops the offset of a stored datetime; put UTC back on a detached row."""
    if user.created_at is not None and user.created_at.tzinfo is None:
        user.created_at = user.created_at.replace(tzinfo=UTC)
    return user


class Database:
    """One app's users table. ``open()``/``close()`` are called by the lifespan."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self.sessions_opened = 0  # every session handed out since creation (chapter 04 counts per request)

    # -- lifecycle -----------------------------------------------------------------
    @classmethod
    def for_app(cls, app: Any) -> Database:
        """A new database that ``app``'s lifespan opens at startup and deletes at shutdown.

        Wraps the lifespan the app already has (``FastAPI(lifespan=...)`` still runs),
        so the article's ``app = FastAPI(title=..., version=...)`` line stays as written.
        """
        db = cls()
        inner: Callable[[Any], Any] = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(scope_app: Any) -> AsyncIterator[Any]:
            async with db, inner(scope_app) as state:
                yield state

        app.router.lifespan_context = lifespan
        return db

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    @property
    def path(self) -> Path | None:
        """The SQLite file while open (handy for a look with the sqlite3 module)."""
        return None if self._folder is None else self._folder / "users.sqlite3"

    async def open(self) -> None:
        """Create a fresh, empty database file and the ``users`` table."""
        if self.is_open:
            return
        self._folder = Path(tempfile.mkdtemp(prefix="workbook-db-"))
        self._engine = create_async_engine(f"sqlite+aiosqlite:///{self.path}")
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        async with self._engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def close(self) -> None:
        """Dispose of the connections (their threads end) and delete the file."""
        engine, folder = self._engine, self._folder
        self._engine = self._sessions = self._folder = None
        if engine is not None:
            await engine.dispose()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def session(self) -> AsyncSession:
        """A new ``AsyncSession`` on this database: the article's ``async_session_factory()``.

        Use it as ``async with db.session() as session:`` (closing it rolls back whatever
        was not committed). Rows stay readable after a commit (``expire_on_commit=False``).
        """
        return self._session()

    def _session(self) -> AsyncSession:
        if self._sessions is None:
            raise DatabaseNotOpen(
                "the database is not open: it opens when the app starts — serve the app "
                "(or use `async with Database() as db:`) before calling it"
            )
        self.sessions_opened += 1
        return self._sessions()

    # -- queries -----------------------------------------------------------------------
    async def get_user(self, user_id: int, include_deleted: bool = False) -> User | None:
        """The row with this id, or None when there is none or it is soft-deleted and
        ``include_deleted`` is false (callers decide what "not found" means)."""
        if not 0 < user_id <= _SQLITE_MAX_INT:
            return None
        async with self._session() as session:
            user = await session.get(User, user_id)
        if user is None or (user.is_deleted and not include_deleted):
            return None
        return _as_utc(user)

    async def create_user(self, username: str, email: str, age: int | None = None) -> User:
        """Insert a user with a random password's hash, so every row has a secret.

        A duplicate username raises ``sqlalchemy.exc.IntegrityError`` (the column is unique).
        """
        user = User(username=username, email=email, age=age, password_hash=hash_password(secrets.token_urlsafe(12)))
        async with self._session() as session:
            session.add(user)
            await session.commit()
        return _as_utc(user)

    async def soft_delete(self, user_id: int) -> bool:
        """Flag the row as deleted (it stays in the table); False if there is no such live row."""
        if not 0 < user_id <= _SQLITE_MAX_INT:
            return False
        async with self._session() as session:
            user = await session.get(User, user_id)
            if user is None or user.is_deleted:
                return False
            user.is_deleted = True
            await session.commit()
        return True

    async def list_users(self, include_deleted: bool = False) -> list[User]:
        """Every row in id order (soft-deleted ones only on request)."""
        query = select(User).order_by(User.id)
        if not include_deleted:
            query = query.where(User.is_deleted.is_(False))
        async with self._session() as session:
            rows = (await session.scalars(query)).all()
        return [_as_utc(user) for user in rows]
