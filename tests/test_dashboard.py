"""The dashboard without a hub: storage and aggregation, the settings, and the reporter's promise that
check() never waits for the service. Who may post and see what is tested on a real hub
(tests/test_dashboard_hub.py), not here."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbook import registry
from workbook.dashboard import report, storage
from workbook.dashboard.config import NoRegistry, NotUnderHub, Settings
from workbook.dashboard.hub import Hub, HubUnavailable
from workbook.results import NOT_ATTEMPTED, Result

TOY = Path(__file__).parent / "toy"


def test_latest_state_failing_since_and_pass_rate(tmp_path: Path) -> None:
    async def scenario() -> dict:
        store = storage.Store(tmp_path / "d.sqlite")
        await store.open()
        fail, ok = storage.Item("01.2", "failing", 1, 3), storage.Item("01.2", "passing", 3, 3)
        await store.add("ann", [storage.Item("01.1", "passing", 2, 2), fail], at=100.0)
        await store.add("ann", [fail], at=160.0)  # still failing: the run began at 100
        await store.add("bob", [fail], at=130.0)
        await store.add("bob", [ok], at=140.0)
        await store.add("bob", [fail], at=150.0)  # failing again: a new run from 150
        await store.close()
        again = storage.Store(tmp_path / "d.sqlite")  # a restarted service sees the same rows
        await again.open()
        data = storage.summarize(await again.latest(), now=200.0, roster=["cy"])
        data["history"] = len(await again.history())
        await again.close()
        return data

    data = asyncio.run(scenario())
    assert data["history"] == 6
    assert data["exercises"] == ["01.1", "01.2"]
    rows = {r["name"]: r for r in data["learners"]}
    assert set(rows) == {"ann", "bob", "cy"}
    assert rows["ann"]["cells"]["01.2"]["failing_since"] == 100.0 and rows["ann"]["last_at"] == 160.0
    assert rows["bob"]["cells"]["01.1"]["state"] == storage.NOT_ATTEMPTED
    assert rows["cy"]["cells"]["01.2"] == {"state": storage.NOT_ATTEMPTED, "at": None} and rows["cy"]["last_at"] is None
    assert [(s["learner"], s["seconds"]) for s in data["failing_longest"]] == [("ann", 100.0), ("bob", 50.0)]
    assert data["pass_rate"]["01.1"] == {"passing": 1, "learners": 3, "rate": 0.333}
    assert "not grades" in data["note"] and "workbook grade" in data["note"]


def test_the_service_refuses_to_start_outside_a_hub() -> None:
    with pytest.raises(NotUnderHub, match="JUPYTERHUB_API_TOKEN"):
        Settings.from_env({"JUPYTERHUB_API_URL": "http://x/hub/api", "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:1"})


def test_the_service_takes_its_exercise_ids_from_the_workbooks_registry(tmp_path: Path) -> None:
    env = {"JUPYTERHUB_API_URL": "http://127.0.0.1:1/hub/api", "JUPYTERHUB_API_TOKEN": "svc",
           "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:1", "WORKBOOK_ROOT": str(TOY)}  # fmt: skip
    toy = {ex.id for chapter in registry.chapters(TOY) for ex in chapter.exercises}
    assert Settings.from_env(env).exercises == toy and "90.2" in toy
    with pytest.raises(NoRegistry, match="set WORKBOOK_ROOT"):
        Settings.from_env({**env, "WORKBOOK_ROOT": str(tmp_path)})  # no checks/registry.toml there


def test_without_a_registry_the_service_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    env = {**os.environ, "JUPYTERHUB_API_URL": "http://127.0.0.1:1/hub/api", "JUPYTERHUB_API_TOKEN": "svc",
           "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:1", "WORKBOOK_ROOT": str(tmp_path)}  # fmt: skip
    ran = subprocess.run([sys.executable, "-m", "workbook.dashboard"], env=env, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert ran.returncode == 2 and "registry.toml" in ran.stderr and "WORKBOOK_ROOT" in ran.stderr, ran


def _row(exercise: str, passed: bool, state: str = "") -> Result:
    return Result("01", exercise, "b", passed, state=state)


def test_summary_gives_each_exercise_one_of_three_states() -> None:
    rows = [_row("01.1", True), _row("01.1", True), _row("01.2", True), _row("01.2", False),
            _row("01.3", False, NOT_ATTEMPTED), _row("01.4", False, "waiting")]  # fmt: skip
    assert report.summary(rows)["results"] == [
        {"exercise": "01.1", "state": "passing", "passed": 2, "total": 2},
        {"exercise": "01.2", "state": "failing", "passed": 1, "total": 2},
        {"exercise": "01.3", "state": "not attempted", "passed": 0, "total": 1},
        {"exercise": "01.4", "state": "failing", "passed": 0, "total": 1},
    ]


def test_a_hung_or_missing_service_never_holds_a_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(report.TOKEN_ENV, "t")
    rows = [_row("01.1", False)]
    monkeypatch.delenv(report.URL_ENV, raising=False)
    assert report.report(rows) is False  # off unless the hub switched it on
    hung = socket.socket()  # accepts connections, never answers
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    url = f"http://127.0.0.1:{hung.getsockname()[1]}/services/dashboard/"
    monkeypatch.setenv(report.URL_ENV, url)
    for case in ("hung", "down"):
        before = dict(report.delivered)
        start = time.perf_counter()
        queued = [report.report(rows) for _ in range(100)]  # more than the queue holds
        took = time.perf_counter() - start
        assert took < 0.2, f"{case}: 100 reports took {took:.3f} s; report() must only queue"
        assert any(queued), case
        if case == "hung":  # the thread is stuck on one post: the bounded queue drops the overflow
            assert not all(queued) and report.delivered["dropped"] > before["dropped"]
        # down: refused at once, the thread may keep up with all 100 (that it drops none is fine)
        hung.close()  # now nothing listens there: the queued posts are refused
        assert report.flush(timeout=report.TIMEOUT + 10), case
    assert report.delivered["ok"] == 0 and report.delivered["failed"] > 0


def test_a_hub_that_does_not_answer_is_a_503_not_a_403() -> None:
    """Nothing listens where the hub should be: "cannot tell who you are", never "you may not"."""
    with socket.socket() as probe:  # a loopback port that was free a moment ago: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        hub = Hub(f"http://127.0.0.1:{port}/hub/api", "svc-token", "service-dashboard", "/cb")
        with pytest.raises(HubUnavailable, match="did not answer"):
            await hub.identify("anyone")
        assert hub.asked == 1
        await hub.aclose()

    asyncio.run(scenario())


def _read_request(conn: socket.socket) -> tuple[bytes, dict]:
    """One HTTP request as it arrived: its head, and its JSON body (by Content-Length)."""
    data, head, body, length = b"", b"", b"", 1 << 30
    while b"\r\n\r\n" not in data or len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, f"the reporter hung up before sending a whole request: {data!r}"
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        sizes = [line.split(b":")[1] for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")]
        length = int(sizes[0]) if sizes else 1 << 30
    return head, json.loads(body)


def test_check_on_a_served_app_hands_its_results_over_and_never_waits_for_a_hung_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """check() for real: the toy workbook's checks (tests/toy) against an app served in this process,
    with the dashboard a socket that accepts and never answers. The check returns as fast as with
    the dashboard off (waiting would add the reporter's 3 s timeout), and the request that reached
    the socket carries the learner's token and each exercise's state as the check found it."""
    from fastapi import FastAPI

    from workbook import checking, serving

    monkeypatch.setenv("WORKBOOK_ROOT", str(TOY))
    monkeypatch.setenv("WORKBOOK_NO_RECORD", "1")
    monkeypatch.chdir(tmp_path)  # not a solutions folder: a learner's run
    monkeypatch.delenv(report.URL_ENV, raising=False)
    monkeypatch.setenv(report.TOKEN_ENV, "the-learners-hub-token")
    values = {"answer": 42, "name": "not toy"}
    app = FastAPI()

    @app.get("/value/{key}")
    def read(key: str) -> dict[str, object]:
        return {"value": values.get(key)}

    server = serving.serve(app)
    hung = socket.socket()
    try:
        start = time.perf_counter()
        off = checking.check("90")  # the dashboard off: the baseline (and the imports warmed up)
        baseline = time.perf_counter() - start
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        hung.settimeout(10)
        monkeypatch.setenv(report.URL_ENV, f"http://127.0.0.1:{hung.getsockname()[1]}/services/dashboard/")
        start = time.perf_counter()
        on = checking.check("90")
        took = time.perf_counter() - start
        conn, _ = hung.accept()  # the reporter's thread connected: the report was queued and sent
        with conn:
            conn.settimeout(10)
            head, body = _read_request(conn)
    finally:
        server.stop()
        hung.close()
    assert off is not None and on is not None
    assert took < baseline + 1.0, f"check() took {took:.2f} s with the dashboard hung, {baseline:.2f} s with it off"
    verdicts = {r.exercise: r.passed for r in on.results}
    assert verdicts["90.1"] and not verdicts["90.2"], verdicts
    assert head.startswith(b"POST /services/dashboard/api/results ")
    assert b"authorization: token the-learners-hub-token" in head.lower()
    assert body == report.summary(on.results) and {"exercise": "90.1", "state": "passing", "passed": 1,
                                                  "total": 1} in body["results"]  # fmt: skip
    assert {"exercise": "90.2", "state": "failing", "passed": 0, "total": 1} in body["results"]
    assert report.flush(timeout=report.TIMEOUT + 10)  # the socket closed unanswered: counted, not raised
