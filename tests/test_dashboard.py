"""The dashboard without a hub: storage and aggregation, the routes' access rules (a fake hub that
knows three tokens), and the reporter's promise that check() never waits for the service."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from workbook.dashboard import report, storage
from workbook.dashboard.app import COOKIE, create_app
from workbook.dashboard.config import NotUnderHub, Settings
from workbook.dashboard.hub import Hub, HubUnavailable, Identity
from workbook.results import NOT_ATTEMPTED, Result

PREFIX = "/services/dashboard"


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


class FakeHub(Hub):
    """Three users the way /hub/api/user would describe them; OAuth code "good" → ann's token."""

    PEOPLE = {"t-bob": Identity("bob", False, ()), "t-ann": Identity("ann", False, ("instructors",)),
              "t-root": Identity("root", True, ())}  # fmt: skip

    def __init__(self) -> None:
        super().__init__("http://hub.invalid/hub/api", "svc", "service-dashboard", f"{PREFIX}/oauth_callback")

    async def identify(self, token: str) -> Identity | None:
        return self.PEOPLE.get(token)

    async def exchange(self, code: str, verifier: str) -> str | None:
        self.verifier = verifier
        return "t-ann" if code == "good" else None

    async def learners(self, group: str) -> list[str]:
        return ["bob", "dee"]


@pytest.fixture
def client(tmp_path: Path) -> FastAPI:
    env = {"JUPYTERHUB_API_URL": "http://hub.invalid/hub/api", "JUPYTERHUB_API_TOKEN": "svc",
           "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:1", "JUPYTERHUB_SERVICE_PREFIX": PREFIX + "/",
           "WORKBOOK_DASHBOARD_DB": str(tmp_path / "d.sqlite")}  # fmt: skip
    settings = Settings.from_env(env)
    return create_app(settings, hub=FakeHub())


def _run(app: object, scenario: object) -> None:
    async def go() -> None:
        async with LifespanManager(app) as manager:  # type: ignore[arg-type]
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
                await scenario(http)  # type: ignore[operator]

    asyncio.run(go())


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


BODY = {"results": [{"exercise": "01.2", "state": "failing", "passed": 1, "total": 3}]}


def test_who_posts_is_whoever_the_hub_says_owns_the_token(client: object) -> None:
    async def scenario(http: httpx.AsyncClient) -> None:
        got = await http.post(f"{PREFIX}/api/results", json=BODY, headers=_auth("t-bob"))
        assert got.status_code == 201 and got.json() == {"learner": "bob", "recorded": 1}
        forged = await http.post(f"{PREFIX}/api/results", json={**BODY, "learner": "ann"}, headers=_auth("t-bob"))
        assert forged.status_code == 422  # the body never names the learner
        assert (await http.post(f"{PREFIX}/api/results", json=BODY)).status_code == 401
        assert (await http.post(f"{PREFIX}/api/results", json=BODY, headers=_auth("nope"))).status_code == 403
        cookie_only = await http.post(f"{PREFIX}/api/results", json=BODY, headers={"Cookie": f"{COOKIE}=t-bob"})
        assert cookie_only.status_code == 401  # no cross-site post from a logged-in browser
        data = (await http.get(f"{PREFIX}/api/export", headers=_auth("t-ann"))).json()
        assert [(h["learner"], h["exercise"]) for h in data["history"]] == [("bob", "01.2")]
        assert [r["name"] for r in data["learners"]] == ["bob", "dee"]  # dee: on the hub, never checked

    _run(client, scenario)


def test_only_instructors_see_the_page_and_its_json(client: object) -> None:
    async def scenario(http: httpx.AsyncClient) -> None:
        for path in ("/", "/api/progress", "/api/export"):
            assert (await http.get(PREFIX + path, headers=_auth("t-bob"))).status_code == 403, path
            for token in ("t-ann", "t-root"):  # a member of the group, a hub admin
                assert (await http.get(PREFIX + path, headers=_auth(token))).status_code == 200, (path, token)
        page = (await http.get(f"{PREFIX}/", headers=_auth("t-ann"))).text
        assert "not grades" in page and "workbook grade" in page
        assert "<script src" not in page and "<link" not in page  # everything inline: works offline

    _run(client, scenario)


def test_a_browser_logs_in_through_the_hubs_oauth(client: object) -> None:
    async def scenario(http: httpx.AsyncClient) -> None:
        first = await http.get(f"{PREFIX}/")
        assert first.status_code == 302
        target = urlparse(first.headers["location"])
        query = parse_qs(target.query)
        assert target.path == "/hub/api/oauth2/authorize" and query["client_id"] == ["service-dashboard"]
        assert query["redirect_uri"] == [f"{PREFIX}/oauth_callback"] and query["code_challenge_method"] == ["S256"]
        state = query["state"][0]
        wrong = await http.get(f"{PREFIX}/oauth_callback", params={"code": "good", "state": "forged"})
        assert wrong.status_code == 400
        back = await http.get(f"{PREFIX}/oauth_callback", params={"code": "good", "state": state})
        assert back.status_code == 302 and back.headers["location"] == f"{PREFIX}/"
        assert "httponly" in back.headers["set-cookie"].lower()
        assert (await http.get(f"{PREFIX}/")).status_code == 200  # the service's own cookie now
        revoked = await http.get(f"{PREFIX}/", headers={"Cookie": f"{COOKIE}=revoked"})
        assert revoked.status_code == 302  # a dead token: log in again

    _run(client, scenario)


def test_the_service_refuses_to_start_outside_a_hub() -> None:
    with pytest.raises(NotUnderHub, match="JUPYTERHUB_API_TOKEN"):
        Settings.from_env({"JUPYTERHUB_API_URL": "http://x/hub/api", "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:1"})


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
        assert any(queued) and not all(queued), case  # the bounded queue dropped the overflow
        assert report.delivered["dropped"] > before["dropped"], case
        hung.close()  # now nothing listens there: the queued posts are refused
        assert report.flush(timeout=report.TIMEOUT + 10), case
    assert report.delivered["ok"] == 0 and report.delivered["failed"] > 0


def test_the_hub_is_asked_once_per_token_and_its_answer_trusted_only_for_users() -> None:
    asked: list[str] = []

    def hub_api(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].split()[1]
        asked.append(token)
        models = {"alice": {"kind": "user", "name": "alice", "admin": False, "groups": ["instructors"]},
                  "svc": {"kind": "service", "name": "other-service"}}  # fmt: skip
        if token == "broken":
            return httpx.Response(502)
        return httpx.Response(200, json=models[token]) if token in models else httpx.Response(403)

    async def scenario() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(hub_api))
        hub = Hub("http://hub/hub/api", "svc-token", "service-dashboard", "/cb", http=http)
        who = await asyncio.gather(*(hub.identify("alice") for _ in range(20)))
        assert set(who) == {Identity("alice", False, ("instructors",))} and asked == ["alice"]
        assert await hub.identify("alice") == who[0] and asked == ["alice"]  # cached
        assert await hub.identify("svc") is None  # a service's token is nobody's progress
        assert await hub.identify("forged") is None
        with pytest.raises(HubUnavailable):
            await hub.identify("broken")
        await hub.aclose()

    asyncio.run(scenario())


def test_check_hands_its_results_to_the_reporter_and_returns_while_the_service_hangs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """check() itself, its checks faked (no app to serve): the hook queues, the check does not wait."""
    from workbook import checking, runner, serving

    monkeypatch.setenv("WORKBOOK_NO_RECORD", "1")
    monkeypatch.setattr(serving, "rebuild", lambda names=None: None)
    monkeypatch.setattr(serving, "running", lambda: {"app": "http://127.0.0.1:9"})
    monkeypatch.setattr(runner, "run_checks", lambda chapter, exercises, targets, progress=None: [
        Result(chapter.id, ex.id, c.behaviour, False, test=c.test) for ex in exercises for c in ex.checks])  # fmt: skip
    calls: list[tuple[list[str], bool]] = []
    real = report.report

    def spy(results: list[Result]) -> bool:
        calls.append(([r.exercise for r in results], queued := real(results)))
        return queued

    monkeypatch.setattr(report, "report", spy)
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    monkeypatch.setenv(report.URL_ENV, f"http://127.0.0.1:{hung.getsockname()[1]}/services/dashboard/")
    monkeypatch.setenv(report.TOKEN_ENV, "t")
    try:
        for _ in range(3):
            start = time.perf_counter()
            checking.check("01.2")
            took = time.perf_counter() - start
            assert took < report.TIMEOUT / 3, f"check() took {took:.2f} s while the dashboard hung"
    finally:
        hung.close()
    assert report.flush(timeout=report.TIMEOUT + 10)
    assert calls and all(exercises and set(exercises) == {"01.2"} for exercises, _ in calls), calls
    assert calls[0][1] is True  # queued: the hub's switch was on
