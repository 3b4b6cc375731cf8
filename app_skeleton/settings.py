"""The app's configuration, read from the environment (and a ``.env`` file) by pydantic-settings.

What chapter 07 teaches, in code:

- ``database_url`` and ``secret_key`` have no default: a deployment that forgets them fails
  when ``Settings()`` is built — at start-up, loudly — instead of running with a dev secret.
- ``.env`` is looked up in the *current working directory* of the process, and a missing file
  is silently skipped; real environment variables win over it.
- ``extra="ignore"``: a ``.env`` shared with other tools (``POSTGRES_PASSWORD=...``) may hold
  keys this class does not declare; the default (``forbid`` for a dotenv file) would refuse them.
- ``workers`` reads ``WEB_CONCURRENCY``, the variable gunicorn and uvicorn already honour
  (or ``WORKERS``, the name the article's Dockerfile uses).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str
    secret_key: SecretStr  # SecretStr: repr() and logs show '**********', never the key
    environment: str = "production"
    debug: bool = False
    workers: int = Field(default=1, ge=1, validation_alias=AliasChoices("web_concurrency", "workers"))
