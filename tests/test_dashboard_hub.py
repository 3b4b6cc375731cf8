"""The instructor's dashboard on a real JupyterHub, configured by hub/jupyterhub_config.py as shipped.

The example config runs on loopback ports in a temporary folder (its environment variables);
the only additions (``WORKBOOK_HUB_EXTRA_CONFIG``) are the test's: an admin service token to
create users and tokens, the proxy found on PATH, longer spawn timeouts for a loaded machine.
Then, on one hub: alice (solution) and bob (a wrong answer to 01.2) run chapter 01 and
``check("01")`` in real kernels through the hub, whose reports reach the managed service with
their servers' own tokens; carol, an instructor, opens the page in headless Chromium through
the hub's login and OAuth and sees both rows within 2 s (screenshot:
artifacts/browser/dashboard.png) and holds the service's HttpOnly cookie; bob's token gets 403 on
the page and its JSON, a hub admin's 200; bob cannot post as alice, a cookie, a forged token or
a service's token cannot post at all, nor an exercise id the registry lacks (422);
30 learners × 20 results in a burst are all kept; the service, SIGKILLed, is restarted by the
hub with every result still there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx
import nbformat
import psutil
import pytest
from conftest import replace_solution
from test_hub import BIN, CHP, MARK, Hub, Learner, _free_port, _result

from workbook import notebooks, registry

pytestmark = pytest.mark.hub
ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "hub" / "jupyterhub_config.py"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "browser"
SERVICE = "/services/dashboard/"
INSTRUCTOR = "carol"
ADMIN = "root"  # a hub admin, not in the group: may see the page too
COOKIE = "workbook-dashboard-token"
REPORT = f"""
import json as _json
from workbook import serving as _serving
from workbook.dashboard import report as _dash
_report = check("01")
print({MARK!r} + _json.dumps({{"results": [[r.exercise, r.passed] for r in _report.results],
      "flushed": _dash.flush(15), "delivered": _dash.delivered}}))
_serving.stop_all()
"""


class DashboardHub(Hub):
    """A hub started from the shipped example config; ``service`` is the dashboard's own URL."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.service = f"http://127.0.0.1:{_free_port()}"
        self.env = {
            **os.environ,
            "WORKBOOK_HUB_URL": self.url + "/",
            "WORKBOOK_HUB_PORT": str(_free_port()),
            "WORKBOOK_PROXY_API_PORT": str(_free_port()),
            "WORKBOOK_HUB_STATE": str(tmp),
            "WORKBOOK_DASHBOARD_SERVICE_URL": self.service,
            "WORKBOOK_INSTRUCTORS": INSTRUCTOR,
            "WORKBOOK_HUB_ADMINS": ADMIN,
            "WORKBOOK_HUB_EXTRA_CONFIG": str(tmp / "test_additions.py"),
        }

    def config(self) -> str:
        return f"""
c = get_config()  # noqa
c.ConfigurableHTTPProxy.command = [{CHP!r}]
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.JupyterHub.services.append({{"name": "workshop", "api_token": {self.token!r}}})
c.JupyterHub.load_roles.append({{"name": "workshop", "services": ["workshop"],
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"]}})
"""

    def start(self) -> None:
        (self.tmp / "test_additions.py").write_text(self.config())
        log = open(self.tmp / "hub.log", "wb")  # noqa: SIM115 - the hub writes to it until stop()
        self.proc = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(CONFIG)], cwd=self.tmp, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                if self.api.get("/").status_code == 200 and self.service_pid() and self.healthy():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("the hub or its dashboard did not answer within 60 s\n" + self.log())

    def service_pid(self) -> int | None:
        assert self.proc is not None
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if "workbook.dashboard" in child.cmdline():
                    return child.pid
            except psutil.Error:
                continue
        return None

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.service}{SERVICE}health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def hub_lookups(self) -> int:
        """How many times the service has asked the hub who a token belongs to (its /health)."""
        return int(httpx.get(f"{self.service}{SERVICE}health", timeout=10).json()["hub_lookups"])

    def user_token(self, user: str) -> str:
        assert self.api.post(f"/users/{user}").status_code in (201, 409)
        made = self.api.post(f"/users/{user}/tokens", json={"note": "dashboard test", "expires_in": 900})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])


def learner_tokens(hub: Hub, count: int, prefix: str = "burst") -> dict[str, str]:
    """``count`` hub users and a token for each (what a burst of learners posts with)."""
    names = [f"{prefix}{i:02d}" for i in range(count)]
    assert hub.api.post("/users", json={"usernames": names}).status_code in (201, 409)

    def token(name: str) -> str:
        made = hub.api.post(f"/users/{name}/tokens", json={"note": "burst", "expires_in": 900})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(names, pool.map(token, names), strict=True))


def burst(url: str, tokens: dict[str, str], per_learner: int = 20, concurrency: int = 16,
          seed: int = 0) -> tuple[float, list[float], dict[str, dict[str, str]]]:  # fmt: skip
    """Every learner posts ``per_learner`` results (one exercise each), ``concurrency`` in flight.

    Returns the wall time, each request's latency and what was posted (learner → exercise → state).
    """
    rng = random.Random(seed)
    exercises = [ex.id for chapter in registry.chapters(ROOT) for ex in chapter.exercises][:per_learner]
    assert len(exercises) == per_learner, f"the registry has {len(exercises)} exercises"
    plan = {name: {ex: rng.choice(["passing", "failing", "not attempted"]) for ex in exercises} for name in tokens}
    latencies: list[float] = []

    async def run() -> float:
        gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as http:

            async def post(name: str, ex: str, state: str) -> None:
                body = {"results": [{"exercise": ex, "state": state, "passed": int(state == "passing"), "total": 1}]}
                async with gate:
                    start = time.perf_counter()
                    got = await http.post(f"{url}api/results", json=body,
                                          headers={"Authorization": f"token {tokens[name]}"})  # fmt: skip
                    latencies.append(time.perf_counter() - start)
                assert got.status_code == 201 and got.json()["learner"] == name, got.text

            start = time.perf_counter()
            await asyncio.gather(*(post(n, ex, s) for n, row in plan.items() for ex, s in row.items()))
            return time.perf_counter() - start

    return asyncio.run(run()), latencies, plan


def _home(hub: Hub, user: str, notebook: nbformat.NotebookNode) -> Path:
    """The learner's workbook folder on the hub, with ``notebook`` as their chapter 01."""
    home = hub.tmp / "home" / user / "fastapi-workbook"
    for name in ("solutions", "checks"):
        shutil.copytree(ROOT / name, home / name, dirs_exist_ok=True)
    (home / "notebooks").mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, home / "notebooks" / f"{registry.chapter('01', ROOT).stem}.ipynb")
    return home


def _with_wrong_answer(chapter: registry.Chapter, exercise: str) -> nbformat.NotebookNode:
    wrong = next(w for w in tomllib.loads((ROOT / "tests" / "wrong_answers" / f"{chapter.stem}.toml").read_text())
                 ["wrong"] if w["exercise"] == exercise)  # fmt: skip
    nb = nbformat.read(chapter.solution, as_version=4)
    (index,) = notebooks.exercise_cells(nb)[exercise]
    nb.cells[index].source = replace_solution(nb.cells[index].source, wrong["code"])
    return nb


def _offline(route: object, blocked: list[str]) -> None:
    """Loopback only: a page that needs the internet (a CDN) fails here, and is counted."""
    url = route.request.url  # type: ignore[attr-defined]
    if urlparse(url).hostname == "127.0.0.1":
        route.continue_()  # type: ignore[attr-defined]
    else:
        blocked.append(url)
        route.abort()  # type: ignore[attr-defined]


def _browser_view(hub: DashboardHub) -> dict:
    """carol logs in through the hub and opens the dashboard; bob tries the same."""
    from playwright.sync_api import sync_playwright

    seen: dict = {"blocked": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox",
                                     "--disable-gpu", "--no-first-run", "--disable-background-networking"])  # fmt: skip
        try:
            for user in (INSTRUCTOR, "bob"):
                context = browser.new_context(viewport={"width": 1200, "height": 700})
                context.route("**/*", lambda route: _offline(route, seen["blocked"]))
                page = context.new_page()
                page.set_default_timeout(30_000)
                page.goto(f"{hub.url}{SERVICE}")  # not logged in: the service → the hub's OAuth → its login
                page.fill("#username_input", user)
                page.fill("#password_input", "any")
                with page.expect_navigation(url=lambda u: not u.split("?")[0].endswith("/hub/login")):
                    page.click("#login_submit")
                page.wait_for_load_state("domcontentloaded")
                if user != INSTRUCTOR:
                    seen["learner_page"] = (page.url, page.content())
                    context.close()
                    continue
                assert urlparse(page.url).path == SERVICE, page.url
                shown = time.monotonic()
                for name in ("alice", "bob"):
                    page.wait_for_selector(f'tr[data-learner="{name}"]', timeout=2000)
                seen["rows_after"] = time.monotonic() - shown
                seen["states"] = page.eval_on_selector_all(
                    "tbody td[data-state]",
                    "cells => cells.map(c => [c.parentElement.dataset.learner, c.dataset.exercise, c.dataset.state])")
                seen["note"] = page.inner_text("#note")
                seen["cookies"] = [c for c in context.cookies() if c["name"] == COOKIE]
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
                context.close()
        finally:
            browser.close()
    return seen


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_the_dashboard_service_on_a_real_hub(tmp_path: Path) -> None:
    """One test, so xdist starts one hub; each step's assertion says which promise broke."""
    if CHP is None:
        pytest.skip("configurable-http-proxy is not installed (npm install -g configurable-http-proxy)")
    hub = DashboardHub(tmp_path)
    hub.start()
    pids: set[int] = set()
    try:
        pids.add(hub.service_pid() or 0)
        hub.user_token("dee")  # on the hub, never checks anything: still a row, from the hub's user list
        chapter = registry.chapter("01", ROOT)
        with ThreadPoolExecutor(2) as pool:
            api_tokens = dict(zip(("alice", "bob"), pool.map(hub.start_server, ("alice", "bob")), strict=True))
        _home(hub, "alice", nbformat.read(chapter.solution, as_version=4))
        _home(hub, "bob", _with_wrong_answer(chapter, "01.2"))
        learners = {u: Learner(hub, u, t) for u, t in api_tokens.items()}
        for user, learner in learners.items():
            learner.home = tmp_path / "home" / user
        path = f"fastapi-workbook/notebooks/{chapter.stem}.ipynb"

        def run(user: str) -> dict:
            return _result(learners[user].run_notebook(path, REPORT))

        with ThreadPoolExecutor(2) as pool:
            ran = dict(zip(("alice", "bob"), pool.map(run, ("alice", "bob")), strict=True))
        for user, got in ran.items():  # the kernels' reporters delivered, with their servers' tokens
            assert got["flushed"] and got["delivered"]["ok"] >= 1 and not got["delivered"]["failed"], (user, got)
        carol = {"Authorization": f"token {hub.user_token(INSTRUCTOR)}"}
        board = httpx.get(f"{hub.url}{SERVICE}api/progress", headers=carol, timeout=10).json()
        cells = {(r["name"], ex): c["state"] for r in board["learners"] for ex, c in r["cells"].items()}
        exercises = [ex.id for ex in chapter.exercises]
        assert all(cells[("alice", ex)] == "passing" for ex in exercises), cells
        assert cells[("bob", "01.2")] == "failing", cells
        assert all(cells[("bob", ex)] == "passing" for ex in exercises if ex != "01.2"), cells
        assert [s["learner"] for s in board["failing_longest"]] == ["bob"]
        assert all(cells[("dee", ex)] == "not attempted" for ex in exercises), cells
        assert [r["name"] for r in board["learners"]] == ["alice", "bob", "dee"]  # carol teaches: no row

        # A learner's token: 403 on the page and its JSON; it cannot post as someone else.
        bob = {"Authorization": f"token {hub.user_token('bob')}"}
        for where in ("", "api/progress", "api/export"):
            assert httpx.get(f"{hub.url}{SERVICE}{where}", headers=bob, timeout=10).status_code == 403, where
        admin = {"Authorization": f"token {hub.user_token(ADMIN)}"}
        for where in ("", "api/progress", "api/export"):  # a hub admin, in no group, is an instructor too
            assert httpx.get(f"{hub.url}{SERVICE}{where}", headers=admin, timeout=10).status_code == 200, where
        html = httpx.get(f"{hub.url}{SERVICE}", headers=carol, timeout=10).text
        assert "<script src" not in html and "<link" not in html  # everything inline: no CDN, works offline
        before = len(httpx.get(f"{hub.url}{SERVICE}api/export", headers=carol, timeout=10).json()["history"])
        forged = {"learner": "alice", "results": [{"exercise": "01.1", "state": "failing", "passed": 0, "total": 1}]}
        posts = f"{hub.service}{SERVICE}api/results"
        assert httpx.post(posts, json=forged, headers=bob).status_code == 422  # the body never names the learner
        body = {"results": forged["results"]}
        assert httpx.post(posts, json=body).status_code == 401  # no token
        assert httpx.post(posts, json=body, headers={"Authorization": "token forged-0123"}).status_code == 403
        service_token = {"Authorization": f"token {hub.token}"}  # the hub knows it, but it is no learner's
        assert httpx.post(posts, json=body, headers=service_token).status_code == 403
        bob_cookie = {"Cookie": f"{COOKIE}={bob['Authorization'].split()[1]}"}
        assert httpx.post(posts, json=body, headers=bob_cookie).status_code == 401  # a cookie never posts
        made_up = {"results": [{"exercise": "01.99", "state": "passing", "passed": 1, "total": 1}]}
        refused = httpx.post(posts, json=made_up, headers=bob)  # a column nobody's workbook has
        assert refused.status_code == 422 and "01.99" in refused.json()["detail"], refused.text
        honest = httpx.post(f"{hub.service}{SERVICE}api/results", json={"results": forged["results"]}, headers=bob)
        assert honest.status_code == 201 and honest.json()["learner"] == "bob"
        after = httpx.get(f"{hub.url}{SERVICE}api/export", headers=carol, timeout=10).json()
        assert len(after["history"]) == before + 1 and after["history"][-1]["learner"] == "bob"
        assert next(r for r in after["learners"] if r["name"] == "alice")["cells"]["01.1"]["state"] == "passing"

        # The instructor's page in a browser, through the hub's login and OAuth.
        seen = _browser_view(hub)
        print(f"dashboard: both learners' rows {seen['rows_after']:.2f} s after the page loaded")
        assert seen["rows_after"] < 2.0, seen
        assert ["bob", "01.2", "failing"] in seen["states"] and ["alice", "01.2", "passing"] in seen["states"]
        assert "not grades" in seen["note"] and "workbook grade" in seen["note"]
        assert not seen["blocked"], seen["blocked"]  # no CDN: nothing left loopback
        learner_url, learner_html = seen["learner_page"]
        assert "403" in learner_html and 'data-learner="alice"' not in learner_html, learner_url
        (cookie,) = seen["cookies"]  # the OAuth login left the service's own cookie, out of scripts' reach
        assert cookie["httpOnly"] and cookie["path"] == SERVICE, cookie
        stale = httpx.get(f"{hub.url}{SERVICE}", headers={"Cookie": f"{COOKIE}=revoked"}, timeout=10)
        assert stale.status_code == 302 and "/hub/api/oauth2/authorize" in stale.headers["location"]
        wrong = httpx.get(f"{hub.url}{SERVICE}oauth_callback", params={"code": "x", "state": "forged"}, timeout=10)
        assert wrong.status_code == 400  # no login without the state this browser was given

        # A burst: 30 learners × 20 results, 16 in flight, none lost.
        tokens = learner_tokens(hub, 30)
        asked = hub.hub_lookups()
        wall, latencies, plan = burst(f"{hub.service}{SERVICE}", tokens)
        assert hub.hub_lookups() - asked == 30  # 600 posts, one question to the hub per learner's token
        p95 = sorted(latencies)[int(len(latencies) * 0.95)]
        print(f"dashboard burst: {len(latencies) / wall:.0f} results/s, p95 {p95 * 1000:.0f} ms")
        export = httpx.get(f"{hub.url}{SERVICE}api/export", headers=carol, timeout=30).json()
        posted = sum(1 for h in export["history"] if h["learner"] in plan)
        assert posted == 600, posted
        latest = {r["name"]: r["cells"] for r in export["learners"] if r["name"] in plan}
        assert {n: {ex: c["state"] for ex, c in row.items() if ex in plan[n]} for n, row in latest.items()} == plan

        # Killed outright, the service is restarted by the hub (its poll: up to ~30 s) with every result.
        old = hub.service_pid()
        assert old is not None
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while not ((new := hub.service_pid()) not in (None, old) and hub.healthy()):
            assert time.monotonic() < deadline, "the hub did not restart the dashboard\n" + hub.log()
            time.sleep(0.5)
        pids.add(new or 0)
        print(f"dashboard: restarted by the hub {time.monotonic() - deadline + 90:.1f} s after SIGKILL")
        again = httpx.get(f"{hub.url}{SERVICE}api/export", headers=carol, timeout=30).json()
        assert again["history"] == export["history"] and again["learners"] == export["learners"]
    finally:
        hub.stop()
        for pid in pids - {0}:  # the hub stops its services; make sure, without touching anything else
            with contextlib.suppress(psutil.Error):
                if "workbook.dashboard" in psutil.Process(pid).cmdline():
                    psutil.Process(pid).kill()
