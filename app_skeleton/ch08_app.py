"""Chapter 08's app under test: users, tokens, DELETE with the owner rule, a welcome e-mail.

The chapter-04/05 app in one self-contained module (no import from the rest of
``app_skeleton``), because the grader copies this file into a fresh folder and patches one bug
into each copy: the variants must differ from the correct app by that bug only. Every
collaborator a test wants to replace is a dependency — ``get_db`` (a session), ``get_settings``
(the key, the token lifetime, the sender), ``get_mailer`` (where mail goes) — so a test swaps it
through ``app.dependency_overrides`` instead of patching the module.

The lifespan opens the configured database (in memory by default: nothing on disk) and creates
its table; a test that overrides ``get_db`` brings its own database and does not need it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

import jwt
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import BaseModel, EmailStr, Field
from sqlalchemy import DateTime, String, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

ALGORITHM = "HS256"
# Argon2id at its cheapest sensible cost: a few ms per hash, so tests that make many users stay fast.
PASSWORDS = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1),))
DUMMY_HASH = PASSWORDS.hash(secrets.token_urlsafe(16))  # verified against for unknown users


class Settings(BaseModel):
    """What a deployment configures; tests override ``get_settings`` with their own."""

    secret_key: str = Field(default_factory=lambda: secrets.token_hex(32))
    token_minutes: int = 15
    mail_from: str = "noreply@workbook.example"
    database_url: str = "sqlite://"  # in memory: the app alone never writes a file


@cache
def get_settings() -> Settings:
    return Settings()


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=lambda: datetime.now(UTC))


def make_engine(url: str) -> Engine:
    """An engine with the table created; one shared connection for an in-memory database."""
    memory = url in ("sqlite://", "sqlite:///:memory:")
    engine = create_engine(url, connect_args={"check_same_thread": False},
                           poolclass=StaticPool if memory else None)  # fmt: skip
    Base.metadata.create_all(engine)
    return engine


@dataclass
class Mail:
    to: str
    subject: str
    body: str


@dataclass
class Outbox:
    """A mailer that keeps what it sends (a real one would speak SMTP)."""

    sent: list[Mail] = field(default_factory=list)

    def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append(Mail(to, subject, body))


OUTBOX = Outbox()


def get_mailer() -> Outbox:
    return OUTBOX


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = make_engine(get_settings().database_url)
    app.state.sessions = sessionmaker(engine, expire_on_commit=False)
    yield
    del app.state.sessions  # no session factory on a closed database
    engine.dispose()


app = FastAPI(title="Chapter 08 · the app under test", lifespan=lifespan)


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


DB = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
UserId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # SQLite's INTEGER: a larger id would be a 500, not a 422


class CreateUser(BaseModel):
    username: str = Field(min_length=3, max_length=50, pattern=r"^[a-z0-9_]+$")
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    age: int = Field(ge=18, le=120)


class UserOut(BaseModel):
    id: int
    username: str
    email: str


class Login(BaseModel):
    username: str
    password: str


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


def create_access_token(user_id: int, settings: Settings, expires_in: float | None = None) -> str:
    """A signed token naming ``user_id`` (``sub`` is a string: PyJWT 2.10+ requires it)."""
    now = int(time.time())
    lifetime = settings.token_minutes * 60 if expires_in is None else int(expires_in)
    claims = {"sub": str(user_id), "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_token(token: str, settings: Settings) -> dict[str, Any]:
    """The claims of a valid token; raises jwt.InvalidTokenError (forged, expired, malformed)."""
    return jwt.decode(token, settings.secret_key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})


bearer = HTTPBearer(auto_error=False)


def current_user(
    db: DB, settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> User:
    refused = HTTPException(401, "invalid or expired token", headers={"WWW-Authenticate": "Bearer"})
    if credentials is None:
        raise refused
    try:
        user_id = int(decode_token(credentials.credentials, settings)["sub"])
    except (jwt.InvalidTokenError, ValueError):
        raise refused from None
    user = db.get(User, user_id)
    if user is None:
        raise refused
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def welcome(mailer: Outbox, to: str, username: str, sender: str) -> None:
    mailer.send(to, "Welcome!", f"Hello {username}, your account is ready. — {sender}")


@app.post("/users", response_model=UserOut, status_code=201, responses={409: {"description": "Username taken"}})
def create_user(body: CreateUser, db: DB, settings: SettingsDep, tasks: BackgroundTasks,
                mailer: Annotated[Outbox, Depends(get_mailer)]) -> User:  # fmt: skip
    user = User(username=body.username, email=body.email.lower(), password_hash=PASSWORDS.hash(body.password))
    db.add(user)
    try:
        db.commit()  # before the response: a failed commit must not become a 201
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, "username already taken") from None
    tasks.add_task(welcome, mailer, user.email, user.username, settings.mail_from)
    return user


@app.post("/token", response_model=Token, responses={401: {"description": "Wrong username or password"}})
def login(body: Login, db: DB, settings: SettingsDep) -> Token:
    user = db.scalar(select(User).where(User.username == body.username))
    ok = PASSWORDS.verify(body.password, user.password_hash if user else DUMMY_HASH)  # same cost either way
    if user is None or not ok:
        raise HTTPException(401, "wrong username or password")
    return Token(access_token=create_access_token(user.id, settings))


@app.get("/users/me", response_model=UserOut)
def me(user: CurrentUser) -> User:
    return user


@app.get("/users/{user_id}", response_model=UserOut, responses={404: {"description": "No such user"}})
def get_user(user_id: UserId, db: DB) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, "user not found")
    return user


@app.delete("/users/{user_id}", status_code=204, responses={403: {"description": "Not your account"},
                                                            404: {"description": "No such user"}})  # fmt: skip
def delete_user(user_id: UserId, db: DB, current: CurrentUser) -> Response:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, "user not found")
    if user.id != current.id:
        raise HTTPException(403, "you can only delete your own account")
    db.delete(user)
    db.commit()
    return Response(status_code=204)
