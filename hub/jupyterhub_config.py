"""A workshop hub with the instructor's live dashboard — a complete example (README, "Live dashboard").

    jupyterhub -f hub/jupyterhub_config.py

Out of the box it is a trial on one machine: anyone logs in with any password (the dummy
authenticator) and each learner's server runs as the hub's own user, home in STATE/home/NAME
(SimpleLocalProcessSpawner). For a real workshop replace those two lines with your site's login
and spawner; the dashboard block below stays as it is. Every port and path comes from an
environment variable with a default, so tests/test_dashboard_hub.py runs this very file on
loopback ports in a temporary folder:

    WORKBOOK_HUB_URL               public URL              (http://127.0.0.1:8000/)
    WORKBOOK_HUB_PORT              the hub's internal API  (8081)
    WORKBOOK_PROXY_API_PORT        configurable-http-proxy's API (8001)
    WORKBOOK_HUB_STATE             folder for the hub's database, cookie secret, homes, dashboard.sqlite (.)
    WORKBOOK_DASHBOARD_SERVICE_URL where the dashboard listens (http://127.0.0.1:10101)
    WORKBOOK_INSTRUCTORS           comma-separated user names put in the group "instructors" ()
    WORKBOOK_HUB_ADMINS            comma-separated hub admins ()
    WORKBOOK_HUB_EXTRA_CONFIG      a second config file loaded last, for site additions (none)
    WORKBOOK_ROOT                  the workbook folder the dashboard takes exercise ids from (this file's ..)
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - JupyterHub's config loader defines it


def _names(var: str) -> list[str]:
    return [n.strip() for n in os.environ.get(var, "").split(",") if n.strip()]


STATE = Path(os.environ.get("WORKBOOK_HUB_STATE", ".")).resolve()
BIN = Path(sys.executable).parent  # the hub's environment: it has the workbook installed

c.JupyterHub.bind_url = os.environ.get("WORKBOOK_HUB_URL", "http://127.0.0.1:8000/")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("WORKBOOK_HUB_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('WORKBOOK_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")

# Who logs in and where servers run: a one-machine trial. Replace both with your site's.
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = set(_names("WORKBOOK_HUB_ADMINS"))
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "home" / "{username}")
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []  # the trial's servers run as the hub's user
c.Spawner.default_url = "/lab"

# --- The instructor's dashboard (README: these are the lines to add to your jupyterhub_config.py) ---
DASHBOARD = os.environ.get("WORKBOOK_DASHBOARD_SERVICE_URL", "http://127.0.0.1:10101")
c.JupyterHub.services = [
    {
        "name": "dashboard",
        "url": DASHBOARD,  # managed: the hub starts it, restarts it if it dies, routes /services/dashboard/ to it
        "command": [sys.executable, "-m", "workbook.dashboard"],
        "environment": {
            "WORKBOOK_DASHBOARD_DB": str(STATE / "dashboard.sqlite"),  # results survive a restart
            "WORKBOOK_DASHBOARD_GROUP": "instructors",
            # the workbook whose checks/registry.toml lists the exercises (any other id is refused)
            "WORKBOOK_ROOT": os.environ.get("WORKBOOK_ROOT", str(Path(__file__).resolve().parent.parent)),
        },
        "oauth_no_confirm": True,  # instructors are not asked to confirm the hub's OAuth for it
    }
]
c.JupyterHub.load_groups = {"instructors": {"users": _names("WORKBOOK_INSTRUCTORS")}}
c.JupyterHub.load_roles = [
    # The service lists the hub's users, so a learner who never ran check() still has a row.
    {"name": "dashboard", "services": ["dashboard"], "scopes": ["list:users", "read:users:name", "read:users:groups"]},
    # Instructors may log in to the service through the hub's OAuth (admins already may).
    {"name": "instructor", "groups": ["instructors"], "scopes": ["access:services!service=dashboard"]},
]
# Switches check() reporting on in every learner's kernel; it posts with the server's own token.
c.Spawner.environment = {"WORKBOOK_DASHBOARD_URL": f"{DASHBOARD}/services/dashboard/"}
# --- end of the dashboard's lines ---

if extra := os.environ.get("WORKBOOK_HUB_EXTRA_CONFIG"):
    load_subconfig(extra)  # noqa: F821 - defined by the config loader, like get_config
