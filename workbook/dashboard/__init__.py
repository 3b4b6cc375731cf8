"""The instructor's live dashboard: a FastAPI app that runs as a JupyterHub managed service.

Learners' ``check()`` calls report each exercise's state to it (``report.py``, opt-in through
``WORKBOOK_DASHBOARD_URL``); the hub vouches for who posted (``hub.py``); results live in SQLite
(``storage.py``); instructors read a live table (``page.py``, ``app.py``). Start it with
``python -m workbook.dashboard`` from the hub's ``c.JupyterHub.services`` (see hub/jupyterhub_config.py).

Importing this package imports nothing else: the kernel-side reporter must stay cheap.
"""
