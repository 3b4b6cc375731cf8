"""The kernel's side: after each check(), hand the exercise states to the dashboard, never waiting on it.

Off unless the hub's spawner sets ``WORKBOOK_DASHBOARD_URL`` (and the server has its
``JUPYTERHUB_API_TOKEN``, which says who is posting). ``report()`` only puts one summary on a
bounded queue (``put_nowait``: a full queue drops the report) and returns; a daemon thread posts
it with short timeouts and swallows every error. A check therefore never waits for the service and
never fails because of it, whether the service is slow, down or refusing.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable
from typing import Any

from workbook.results import CORRECT, NOT_ATTEMPTED, Result

URL_ENV = "WORKBOOK_DASHBOARD_URL"
TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
CONNECT_TIMEOUT, TIMEOUT = 1.0, 3.0
_QUEUE: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue(maxsize=32)
_STARTED = threading.Lock()
_thread: threading.Thread | None = None
delivered = {"ok": 0, "failed": 0, "dropped": 0}  # what this kernel's reporter did (tests, curiosity)


def summary(results: Iterable[Result]) -> dict[str, Any]:
    """Per exercise: passing (every check passes), not attempted (its cells are the starter's), else failing
    (a check *waiting* on another exercise counts as failing: this exercise does not work yet)."""
    by_exercise: dict[str, list[Result]] = {}
    for r in results:
        by_exercise.setdefault(r.exercise, []).append(r)
    items = []
    for exercise, rows in by_exercise.items():
        passed = sum(r.state == CORRECT for r in rows)
        if passed == len(rows):
            state = "passing"
        elif all(r.state == NOT_ATTEMPTED for r in rows):
            state = "not attempted"
        else:
            state = "failing"
        items.append({"exercise": exercise, "state": state, "passed": passed, "total": len(rows)})
    return {"results": items}


def report(results: list[Result]) -> bool:
    """Queue ``results`` for the dashboard; True if queued. Returns at once in every case."""
    url, token = os.environ.get(URL_ENV), os.environ.get(TOKEN_ENV)
    if not url or not token or not results:
        return False
    try:
        if _solution_run():
            return False
        _QUEUE.put_nowait((url.rstrip("/") + "/api/results", token, summary(results)))
        _ensure_thread()
    except queue.Full:
        delivered["dropped"] += 1
        return False
    except Exception:  # noqa: BLE001 - e.g. no thread can start: the learner's check is not concerned
        return False
    return True


def flush(timeout: float = 5.0) -> bool:
    """Wait up to ``timeout`` s for the queue to drain (tests; check() never calls this)."""
    done = threading.Event()

    def wait() -> None:
        _QUEUE.join()
        done.set()

    threading.Thread(target=wait, daemon=True).start()
    return done.wait(timeout)


def _solution_run() -> bool:
    """Running a solution notebook is not progress (as for workbook progress)."""
    from workbook import progress, registry

    try:
        return progress._is_solution_run(registry.find_root())
    except registry.RegistryError:
        return False


def _ensure_thread() -> None:
    global _thread
    with _STARTED:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_post_forever, name="workbook-dashboard-reporter", daemon=True)
            _thread.start()


def _post_forever() -> None:
    import httpx

    with httpx.Client(timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT), trust_env=False) as http:
        while True:
            url, token, body = _QUEUE.get()
            try:
                got = http.post(url, json=body, headers={"Authorization": f"token {token}"})
                delivered["ok" if got.status_code == 201 else "failed"] += 1
            except Exception:  # noqa: BLE001 - whatever happens, the learner's check is not concerned
                delivered["failed"] += 1
            finally:
                _QUEUE.task_done()
