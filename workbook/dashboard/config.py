"""The service's settings, from the environment JupyterHub gives a managed service.

The hub sets ``JUPYTERHUB_API_URL``, ``JUPYTERHUB_API_TOKEN`` (the service's own token, also its
OAuth client secret), ``JUPYTERHUB_SERVICE_URL`` (where to listen), ``JUPYTERHUB_SERVICE_PREFIX``
(``/services/NAME/``: the proxy forwards that path unchanged), ``JUPYTERHUB_CLIENT_ID`` and
``JUPYTERHUB_OAUTH_CALLBACK_URL``. The service's ``environment`` in jupyterhub_config.py adds
``WORKBOOK_DASHBOARD_DB`` (the SQLite file), ``WORKBOOK_DASHBOARD_GROUP`` (who may view) and
``WORKBOOK_ROOT`` (the workbook whose ``checks/registry.toml`` lists the exercises a report may
name; without it, the registry next to an editable install). No registry, no service: a
dashboard that accepted any id would let a learner add columns to everyone's board.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from workbook import registry


class NotUnderHub(RuntimeError):
    """A variable the hub always sets is missing: the service was started by hand."""


class NoRegistry(RuntimeError):
    """The workbook's registry cannot be read: the service would not know which exercise ids exist."""


def known_exercises(env: Mapping[str, str]) -> frozenset[str]:
    """Every exercise id in the workbook's registry (``WORKBOOK_ROOT``, else the one registry finds)."""
    try:
        root = Path(env["WORKBOOK_ROOT"]).resolve() if env.get("WORKBOOK_ROOT") else registry.find_root()
        ids = frozenset(ex.id for chapter in registry.chapters(root) for ex in chapter.exercises)
    except (registry.RegistryError, OSError, ValueError, KeyError) as exc:
        raise NoRegistry(
            f"cannot read the workbook's {registry.REGISTRY} ({exc}): set WORKBOOK_ROOT in the "
            "service's environment to the workbook folder (hub/jupyterhub_config.py)"
        ) from exc
    if not ids:
        raise NoRegistry(f"{root / registry.REGISTRY} lists no exercises: set WORKBOOK_ROOT to the workbook folder")
    return ids


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_token: str
    prefix: str  # "/services/dashboard/"
    host: str
    port: int
    client_id: str
    callback_url: str
    base_url: str  # the hub's base URL, "/" by default: where the browser finds /hub/api/oauth2/authorize
    db: Path
    group: str
    exercises: frozenset[str]  # the ids a report may name: the registry's

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        required = ("JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_SERVICE_URL")
        missing = [k for k in required if not env.get(k)]
        if missing:
            raise NotUnderHub(f"{', '.join(missing)} not set: run the dashboard as a JupyterHub managed service "
                              "(c.JupyterHub.services, see hub/jupyterhub_config.py)")  # fmt: skip
        name = env.get("JUPYTERHUB_SERVICE_NAME", "dashboard")
        prefix = env.get("JUPYTERHUB_SERVICE_PREFIX") or f"/services/{name}/"
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        url = urlparse(env["JUPYTERHUB_SERVICE_URL"])
        return cls(
            api_url=env["JUPYTERHUB_API_URL"],
            api_token=env["JUPYTERHUB_API_TOKEN"],
            prefix=prefix,
            host=url.hostname or "127.0.0.1",
            port=url.port or 80,
            client_id=env.get("JUPYTERHUB_CLIENT_ID", f"service-{name}"),
            callback_url=env.get("JUPYTERHUB_OAUTH_CALLBACK_URL") or f"{prefix}oauth_callback",
            base_url=env.get("JUPYTERHUB_BASE_URL", "/"),
            db=Path(env.get("WORKBOOK_DASHBOARD_DB", "dashboard.sqlite")).resolve(),
            group=env.get("WORKBOOK_DASHBOARD_GROUP", "instructors"),
            exercises=known_exercises(env),
        )
