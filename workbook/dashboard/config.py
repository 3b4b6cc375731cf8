"""The service's settings, from the environment JupyterHub gives a managed service.

The hub sets ``JUPYTERHUB_API_URL``, ``JUPYTERHUB_API_TOKEN`` (the service's own token, also its
OAuth client secret), ``JUPYTERHUB_SERVICE_URL`` (where to listen), ``JUPYTERHUB_SERVICE_PREFIX``
(``/services/NAME/``: the proxy forwards that path unchanged), ``JUPYTERHUB_CLIENT_ID`` and
``JUPYTERHUB_OAUTH_CALLBACK_URL``. The service's ``environment`` in jupyterhub_config.py adds
``WORKBOOK_DASHBOARD_DB`` (the SQLite file) and ``WORKBOOK_DASHBOARD_GROUP`` (who may view).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse


class NotUnderHub(RuntimeError):
    """A variable the hub always sets is missing: the service was started by hand."""


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
        )
