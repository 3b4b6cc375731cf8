"""The app factory: ``create_app()`` wires settings, lifespan, handlers and routers.

    gunicorn -c app_skeleton/service/gunicorn.conf.py app_skeleton.service.main:app

The lifespan runs once per worker process: one engine (its own connection pool), one shared
``httpx.AsyncClient`` (chapter 03), one SMTP client; all closed at shutdown. It reads settings
through ``get_settings`` *including overrides*, so a test's
``app.dependency_overrides[get_settings]`` also picks the database the lifespan opens.
It never creates tables: the schema is Alembic's (``alembic upgrade head`` at deploy).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker

from app_skeleton.mail import EmailClient

from . import errors
from .database import make_engine
from .ratelimit import RateLimiter
from .routers import auth, health, users
from .settings import Settings, get_settings


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.dependency_overrides.get(get_settings, get_settings)()
    engine = make_engine(settings)
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
    app.state.email = EmailClient(settings.smtp_host, settings.smtp_port, settings.mail_sender)
    async with httpx.AsyncClient(timeout=5) as client:
        app.state.http = client
        try:
            yield
        finally:
            await engine.dispose()


def create_app() -> FastAPI:
    """A new app. Nothing is read from the environment until it starts (its lifespan)."""
    app = FastAPI(title="User API", version="1.0.0", lifespan=lifespan)
    errors.install(app)
    limited = [Depends(RateLimiter())]  # this app's own counts
    app.include_router(health.router)
    app.include_router(auth.router, dependencies=limited, responses={429: {"description": "Rate limit exceeded"}})
    app.include_router(users.router, dependencies=limited, responses={429: {"description": "Rate limit exceeded"}})
    return app


def __getattr__(name: str) -> Any:
    """``app_skeleton.service.main:app`` for gunicorn: built on first use, then kept."""
    if name == "app":
        built = globals()["app"] = create_app()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
