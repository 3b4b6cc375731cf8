"""The service's configuration, read once per process from the environment (and ``.env``).

Everything reads it through ``get_settings()``, a dependency: a test replaces it with
``app.dependency_overrides[get_settings] = lambda: Settings(...)`` and the lifespan, the routes
and the rate limiter all see the test's values. ``lru_cache`` makes it one object per process
(the environment is read once, not per request).

``secret_key`` has no default (chapter 07): a deployment that forgets it fails at start-up.
``database_url`` defaults to a SQLite file in the working directory, so the service runs on a
laptop or Binder with nothing else installed; ``postgresql+asyncpg://…`` switches to PostgreSQL.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    secret_key: SecretStr  # SecretStr: repr() and logs show '**********'
    database_url: str = "sqlite+aiosqlite:///./service.sqlite3"
    environment: str = "production"
    # Connections per worker process: pool_size kept open, max_overflow more under load (PostgreSQL).
    # A deployment's total is workers × (pool_size + max_overflow); it must stay below the server's
    # max_connections (PostgreSQL's default: 100).
    pool_size: int = Field(default=5, ge=1)
    max_overflow: int = Field(default=5, ge=0)
    sqlite_busy_timeout: float = Field(default=5.0, ge=0)  # seconds a writer waits for SQLite's lock
    workers: int = Field(default=1, ge=1, validation_alias=AliasChoices("web_concurrency", "workers"))
    token_lifetime: int = Field(default=15 * 60, ge=1)  # seconds
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_sender: str = "welcome@workbook.example.org"
    rate_limit: int = Field(default=60, ge=1)  # requests per window per client (per worker process)
    rate_window: float = Field(default=60.0, gt=0)
    upstream_url: str = ""  # optional: /ready also asks this service (through the shared client)


@lru_cache
def get_settings() -> Settings:
    """The process's settings, from the environment: built on first use, then cached."""
    return Settings()  # type: ignore[call-arg]  # secret_key comes from the environment
