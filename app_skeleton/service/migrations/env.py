"""Alembic's environment for the service: async engine, URL from the config or DATABASE_URL.

``migrate.upgrade(url)`` (this package) sets ``sqlalchemy.url`` on the config; the
``alembic`` command leaves it unset and the URL comes from the environment like the app's.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def _project_models() -> object:
    """The ``models`` module of the package this folder sits in, wherever the project was copied.

    ``app_skeleton/service/migrations`` → ``app_skeleton.service.models``; a learner's copy
    ``09_service/service/migrations`` → ``service.models`` (its folder is put on ``sys.path``).
    """
    package = Path(__file__).resolve().parent.parent
    parts = [package.name]
    root = package.parent
    while (root / "__init__.py").exists():
        parts.insert(0, root.name)
        root = root.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(".".join([*parts, "models"]))

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = _project_models().Base.metadata  # type: ignore[attr-defined]  # for autogenerate
DEFAULT_URL = "sqlite+aiosqlite:///./service.sqlite3"  # the service's own default (settings.py)


def url() -> str:
    return config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL") or DEFAULT_URL


def run_offline() -> None:
    """``alembic upgrade head --sql``: print the SQL instead of running it."""
    context.configure(url=url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER a column in place; batch mode copies the table.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
