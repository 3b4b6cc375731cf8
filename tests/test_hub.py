"""A workshop on a real JupyterHub: the README's instructor recipe, run end to end on loopback.

The hub (jupyterhub from PyPI, configurable-http-proxy from npm, dummy authenticator,
local process spawner) serves two learners. Each gets the workbook through the
README's nbgitpuller link (from a local git repository), opens chapter 01 in a kernel
through the hub's proxy, runs its cells and calls ``check("01")`` — alice with the
solution, bob with the untouched starter — and reaches the in-kernel app's Swagger UI
at ``/user/NAME/proxy/PORT/docs``. One learner's token cannot open the other's server.

CI runs chapter 01 (well under a minute). ``.venv/bin/python -m pytest -m hub`` also
runs every registered chapter's solution through the hub.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import nbformat
import pytest

from workbook import registry

pytestmark = pytest.mark.hub
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHP = shutil.which("configurable-http-proxy")
USERS = ("alice", "bob")
MARK = "WORKBOOK-HUB-RESULT:"
COPIED = ("notebooks", "solutions", "checks", "README.md")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Hub:
    """A running hub: its public URL and a client holding the workshop service's token."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = uuid.uuid4().hex
        self.api = httpx.Client(base_url=f"{self.url}/hub/api", headers={"Authorization": f"token {self.token}"},
                                timeout=30)  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        args = ["--allow-root"] if os.geteuid() == 0 else []
        return f"""
c = get_config()  # noqa
c.JupyterHub.bind_url = {self.url + "/"!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {_free_port()}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{_free_port()}"
c.ConfigurableHTTPProxy.command = [{CHP!r}]
c.ConfigurableHTTPProxy.pid_file = {str(self.tmp / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{self.tmp / "hub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(self.tmp / "cookie_secret")!r}
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(self.tmp / "home" / "{username}")!r}
c.Spawner.cmd = [{str(BIN / "jupyterhub-singleuser")!r}]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.Spawner.environment = {{"JUPYTER_CONFIG_DIR": {str(self.tmp / "jupyter-config")!r}}}
c.JupyterHub.services = [{{"name": "workshop", "api_token": {self.token!r}}}]
c.JupyterHub.load_roles = [{{"name": "workshop", "services": ["workshop"],
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"]}}]
"""

    def start(self) -> None:
        (self.tmp / "jupyterhub_config.py").write_text(self.config())
        log = open(self.tmp / "hub.log", "wb")  # noqa: SIM115 - the hub writes to it until stop()
        self.proc = subprocess.Popen([str(BIN / "jupyterhub"), "-f", "jupyterhub_config.py"], cwd=self.tmp,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                if self.api.get("/").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("the hub did not answer within 60 s\n" + self.log())

    def log(self) -> str:
        return (self.tmp / "hub.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for user in USERS:
            with contextlib.suppress(httpx.HTTPError):
                self.api.delete(f"/users/{user}/server")
        self.api.close()
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the hub's own group: hub, proxy, its servers
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def start_server(self, user: str) -> str:
        """Create the user, spawn their server, return a token that acts as them."""
        assert self.api.post(f"/users/{user}").status_code in (201, 409)
        assert self.api.post(f"/users/{user}/server").status_code in (201, 202), self.log()
        deadline = time.monotonic() + 90
        while not self.api.get(f"/users/{user}").json()["servers"].get("", {}).get("ready"):
            assert time.monotonic() < deadline, f"{user}'s server never became ready\n{self.log()}"
            time.sleep(0.25)
        made = self.api.post(f"/users/{user}/tokens", json={"note": "workshop test", "expires_in": 900})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])


def _workshop_repo(tmp: Path) -> Path:
    """A git repository of the learner-facing files, as an instructor would publish them."""
    repo = tmp / "fastapi-workbook.git-src"
    repo.mkdir()
    for name in COPIED:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, repo / name)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")  # fmt: skip
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "workshop"]):
        subprocess.run(["git", *cmd], cwd=repo, env=env, check=True)
    return repo


def pull_link(hub_url: str, repo_url: str, notebook: str) -> str:
    """The README's nbgitpuller link: clone (or update) the repo, then open a notebook in Lab."""
    target = repo_url.rstrip("/").split("/")[-1]
    urlpath = quote(f"lab/tree/{target}/{notebook}", safe="")
    return f"{hub_url}/hub/user-redirect/git-pull?repo={quote(repo_url, safe='')}&branch=main&urlpath={urlpath}"


class Learner:
    """One user's browser-less session: pulls the workbook, runs cells in a kernel via the hub."""

    def __init__(self, hub: Hub, name: str, token: str) -> None:
        self.name = name
        self.base = f"{hub.url}/user/{name}"
        self.headers = {"Authorization": f"token {token}"}
        self.http = httpx.Client(headers=self.headers, timeout=60)

    def pull(self, hub_url: str, repo_url: str) -> None:
        link = pull_link(hub_url, repo_url, "notebooks/01_models.ipynb")
        with httpx.Client(base_url=hub_url, timeout=30) as browser:  # hub pages want a login, not a token
            browser.get("/hub/login")
            form = {"username": self.name, "password": "any", "_xsrf": browser.cookies.get("_xsrf", "")}
            login = browser.post("/hub/login", data=form)
            assert login.status_code == 302, login.text[:500]
            location = link
            for _ in range(5):  # user-redirect → spawn (already running) → the learner's own server
                hop = browser.get(location)
                assert hop.status_code == 302, hop.text[:500]
                location = hop.headers["location"]
                if not location.startswith("/hub/"):
                    break
        assert location.startswith(f"/user/{self.name}/git-pull?"), location
        query = location.split("?", 1)[1]
        with self.http.stream("GET", f"{self.base}/git-pull/api?{query}") as events:
            phases = [json.loads(line[6:]) for line in events.iter_lines() if line.startswith("data: ")]
        assert phases and phases[-1]["phase"] == "finished", phases[-3:]

    @contextlib.contextmanager
    def kernel(self, path: str) -> Iterator[Callable[..., str]]:
        """A kernel for ``path`` (cwd = its folder), opened as Lab does; yields ``run(code)``."""
        from websockets.sync.client import connect

        session = self.http.post(f"{self.base}/api/sessions",
                                 json={"path": path, "type": "notebook", "kernel": {"name": "python3"}})  # fmt: skip
        assert session.status_code == 201, session.text
        ws_url = self.base.replace("http://", "ws://") + f"/api/kernels/{session.json()['kernel']['id']}/channels"
        try:
            with connect(ws_url, additional_headers=self.headers, max_size=None, open_timeout=30) as ws:

                def run(code: str, timeout: float = 180) -> str:
                    output: list[str] = []
                    _execute(ws, code, output, timeout)
                    return "".join(output)

                yield run
        finally:
            self.http.delete(f"{self.base}/api/sessions/{session.json()['id']}")

    def run_notebook(self, path: str, extra_code: str, timeout: float = 180) -> str:
        """Run the notebook's cells (all but the teardown) in a new kernel, then ``extra_code``."""
        nb = nbformat.read(self.home / path, as_version=4)
        tagged = lambda c: "workbook-teardown" in c.metadata.get("tags", [])  # noqa: E731
        cells = [c.source for c in nb.cells if c.cell_type == "code" and not tagged(c)]
        with self.kernel(path) as run:
            return "".join(run(code, timeout) for code in [*cells, extra_code])

    home: Path


def _execute(ws: object, code: str, output: list[str], timeout: float) -> None:
    """Send one execute_request over the kernel websocket; collect stdout until idle."""
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "t", "session": "t", "version": "5.3"}
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
               "stop_on_error": True}  # fmt: skip
    ws.send(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content,  # type: ignore[attr-defined]
                        "channel": "shell", "buffers": []}))  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))  # type: ignore[attr-defined]
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream":
            output.append(msg["content"]["text"])
        elif kind == "error":
            raise AssertionError(f"cell raised {msg['content']['ename']}: {msg['content']['evalue']}\n{code[:300]}")
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            return


Workshop = tuple[Hub, dict[str, Learner], str]
REPORT = """
import json as _json
from workbook import serving as _serving
_report = check("CHAPTER")
print("MARK" + _json.dumps({"results": [[r.exercise, r.passed] for r in _report.results],
      "ports": {n: s.port for n, s in _serving._servers.items()}}))
_serving.stop_all()
""".replace("MARK", MARK)


def _result(output: str) -> dict:
    line = next((ln for ln in output.splitlines() if ln.startswith(MARK)), None)
    assert line is not None, output[-3000:]
    return dict(json.loads(line[len(MARK) :]))


@pytest.fixture(scope="module")
def workshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workshop]:
    if CHP is None:
        pytest.skip("configurable-http-proxy is not installed (npm install -g configurable-http-proxy)")
    tmp = tmp_path_factory.mktemp("hub")
    repo_url = _workshop_repo(tmp).as_uri()
    hub = Hub(tmp)
    hub.start()
    try:
        with ThreadPoolExecutor(len(USERS)) as pool:  # spawning takes seconds; do both at once
            tokens = dict(zip(USERS, pool.map(hub.start_server, USERS), strict=True))
        learners = {u: Learner(hub, u, tokens[u]) for u in USERS}
        for learner in learners.values():
            learner.home = tmp / "home" / learner.name
            learner.pull(hub.url, repo_url)
        yield hub, learners, repo_url
    finally:
        hub.stop()


def test_two_learners_check_chapter_01_and_open_swagger_through_the_hub(workshop: Workshop) -> None:
    """The cheap form CI runs: one hub, two learners, chapter 01 (one test, so xdist starts one hub)."""
    hub, learners, _ = workshop
    chapter = registry.chapter("01", ROOT)
    notebook = f"fastapi-workbook.git-src/notebooks/{chapter.stem}.ipynb"
    # alice turns in the solution (copied over her notebook), bob the untouched starter.
    alice_nb = learners["alice"].home / notebook
    shutil.copy2(learners["alice"].home / "fastapi-workbook.git-src" / "solutions" / f"{chapter.stem}.ipynb", alice_nb)

    def run(user: str) -> dict:
        return _result(learners[user].run_notebook(notebook, REPORT.replace("CHAPTER", "01")))

    with ThreadPoolExecutor(2) as pool:
        solved, starter = pool.map(run, ["alice", "bob"])
    checks = sum(len(ex.checks) for ex in chapter.exercises)
    assert len(solved["results"]) == len(starter["results"]) == checks
    assert all(passed for _, passed in solved["results"]), solved
    assert not any(passed for _, passed in starter["results"]), starter

    # The README's collection recipe: the instructor's service token reads each learner's notebook.
    for user in USERS:
        got = hub.api.get(f"{hub.url}/user/{user}/api/contents/{notebook}", params={"content": 1})
        assert got.status_code == 200 and got.json()["content"]["cells"], got.text[:300]

    # The in-kernel app's Swagger UI, as a learner's browser tab reaches it through the hub.
    alice = learners["alice"]
    code = (
        "from fastapi import FastAPI\nfrom workbook import serve\n_docs_app = FastAPI(title='hub docs')\n"
        "_srv = serve(_docs_app, name='docs')\n"
        f"print('{MARK}' + __import__('json').dumps({{'results': [], 'ports': {{'docs': _srv.port}}}}))\n"
    )
    (alice.home / "scratch.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    with alice.kernel("scratch.ipynb") as run:
        port = _result(run(code))["ports"]["docs"]
        prefix = f"/user/alice/proxy/{port}"
        page = alice.http.get(f"{hub.url}{prefix}/docs")
        assert page.status_code == 200, page.text[:500]
        assert f"url: '{prefix}/openapi.json'" in page.text  # root_path from X-Forwarded-Prefix
        assert "cdn.jsdelivr.net" not in page.text  # offline classroom: assets come from the app
        asset = alice.http.get(f"{hub.url}{prefix}/_workbook/docs-assets/swagger-ui-bundle.js")
        assert asset.status_code == 200 and len(asset.content) > 100_000
        schema = alice.http.get(f"{hub.url}{prefix}/openapi.json").json()
        assert schema["info"]["title"] == "hub docs"
        # bob's token does not open alice's server, nor her app.
        bob = learners["bob"].http
        assert bob.get(f"{hub.url}/user/alice/api/status").status_code == 403
        assert bob.get(f"{hub.url}{prefix}/docs").status_code == 403
        run("_srv.stop()")


@pytest.mark.slow
def test_every_registered_chapter_passes_through_the_hub(request: pytest.FixtureRequest) -> None:
    if "hub" not in (request.config.getoption("-m") or ""):
        pytest.skip("the full workshop run is opt-in: pytest -m hub")
    _, learners, _ = request.getfixturevalue("workshop")  # only now: a skipped run starts no hub
    for chapter in registry.chapters(ROOT):
        if not chapter.solution.exists():
            continue
        path = f"fastapi-workbook.git-src/solutions/{chapter.stem}.ipynb"
        result = _result(learners["bob"].run_notebook(path, REPORT.replace("CHAPTER", chapter.id), timeout=300))
        assert result["results"] and all(p for _, p in result["results"]), (chapter.id, result)


@pytest.mark.slow
def test_collected_submissions_grade(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """README steps 3 and 4: fetch each learner's notebook through the hub, then ``workbook grade``."""
    if "hub" not in (request.config.getoption("-m") or ""):
        pytest.skip("the full workshop run is opt-in: pytest -m hub")
    hub, learners, _ = request.getfixturevalue("workshop")
    stem = registry.chapter("01", ROOT).stem
    src = "fastapi-workbook.git-src"
    shutil.copy2(learners["alice"].home / src / "solutions" / f"{stem}.ipynb",
                 learners["alice"].home / src / "notebooks" / f"{stem}.ipynb")  # fmt: skip
    for user in USERS:
        got = hub.api.get(f"{hub.url}/user/{user}/api/contents/{src}/notebooks/{stem}.ipynb", params={"content": 1})
        (tmp_path / "submissions" / user).mkdir(parents=True)
        (tmp_path / "submissions" / user / f"{stem}.ipynb").write_text(json.dumps(got.json()["content"]))
    proc = subprocess.run([str(BIN / "workbook"), "grade", str(tmp_path / "submissions"), "--out",
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    rows = {r["learner"]: r for r in csv.DictReader((tmp_path / "out" / "gradebook.csv").open())}
    exercises = len(registry.chapter("01", ROOT).exercises)
    assert float(rows["alice"]["chapter 01"]) == exercises, rows  # the solution scores full marks
    assert float(rows["bob"]["chapter 01"]) == 0, rows  # the untouched starter scores nothing
