"""The app a learner graduates to: settings in, users API and a health check out.

``create_app(settings)`` builds it from explicit settings (tests pass their own). The module
attribute ``app`` — what ``gunicorn app_skeleton.main:app`` imports — is built on first access
from ``Settings()``, i.e. from the environment: importing this module needs no environment
variables, serving it does (and fails at start-up when they are missing).
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, EmailStr, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app_skeleton.db import Database
from app_skeleton.models import Base
from app_skeleton.settings import Settings


class SharedDatabase(Database):
    """``Database`` on the configured URL instead of a private temporary file.

    Every worker process opens its own engine (its own connection pool) on the same database,
    so a user created through one worker is found through another.
    """

    def __init__(self, url: str = "") -> None:
        super().__init__()
        self.url = url  # set before the lifespan opens it

    async def open(self) -> None:
        if self.is_open:
            return
        self._engine = create_async_engine(self.url)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        for attempt in range(20):  # workers start together: one may create the table first
            try:
                async with self._engine.begin() as conn:
                    await conn.run_sync(Base.metadata.create_all)
                return
            except OperationalError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.05)


class CreateUserRequest(BaseModel):
    username: str = Field(min_length=3, max_length=50, pattern=r"^[a-z0-9_]+$")
    email: EmailStr
    age: int = Field(ge=18, le=120)


class UserResponse(BaseModel):
    id: int
    username: str
    email: str
    created_at: datetime


def create_app(settings: Settings) -> FastAPI:
    """The production app for ``settings``; a fresh database connection per process."""
    app = FastAPI(title="User API", version="1.0.0", debug=settings.debug)
    app.state.settings = settings
    db = SharedDatabase.for_app(app)  # opened by the app's lifespan, in each worker process
    db.url = settings.database_url

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Which process answered, in which environment (never a secret)."""
        return {"status": "ok", "pid": os.getpid(), "environment": settings.environment}

    @app.post("/users", response_model=UserResponse, status_code=201)
    async def create_user(body: CreateUserRequest) -> Any:
        return await db.create_user(body.username, body.email.lower(), body.age)

    @app.get("/users/{user_id}", response_model=UserResponse)
    async def get_user(user_id: int) -> Any:
        user = await db.get_user(user_id)
        if user is None:
            raise HTTPException(status_code=404, detail="user not found")
        return user

    if settings.debug:  # a test hook, never mounted in production

        @app.get("/debug/block")
        async def block(seconds: float = 60.0) -> dict[str, float]:
            """A handler stuck in a blocking call: the event loop (and the worker) freezes."""
            time.sleep(seconds)
            return {"slept": seconds}

    return app


def __getattr__(name: str) -> Any:
    """``app_skeleton.main.app``: built from the environment on first use, then kept."""
    if name == "app":
        built = create_app(Settings())  # type: ignore[call-arg]  # fields come from the environment
        globals()["app"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
