"""``python -m workbook.dashboard``: what c.JupyterHub.services runs (the hub sets the environment)."""

from __future__ import annotations

import sys


def main() -> int:
    import uvicorn

    from workbook.dashboard.app import create_app
    from workbook.dashboard.config import NoRegistry, NotUnderHub, Settings

    try:
        settings = Settings.from_env()
    except (NotUnderHub, NoRegistry) as exc:
        print(exc, file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning",
                access_log=False)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
