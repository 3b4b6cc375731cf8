"""``alembic upgrade head`` from Python: the deploy step, run before gunicorn starts.

    python -m app_skeleton.service.migrate            # DATABASE_URL from the environment
    alembic -c app_skeleton/service/alembic.ini upgrade head  # the same, with Alembic's command

Run it once per deployment, not in each worker's start-up: several workers migrating the same
database at once race each other. ``upgrade`` runs its own event loop (``asyncio.run`` in
env.py), so call it from plain code or a thread, not from inside a running loop.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

INI = Path(__file__).resolve().parent / "alembic.ini"  # script_location: migrations/ next to it


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(INI))
    config.attributes["configure_logger"] = False  # keep the caller's logging as it is
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolation
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


if __name__ == "__main__":
    upgrade(sys.argv[1] if len(sys.argv) > 1 else None)
