"""A learner's path in a real browser: JupyterLab in headless Chromium, chapter 01.

Open notebooks/01_models.ipynb, Run All, read the check panel; re-run the serve cell
(Run All ends with the teardown cell that stops the app), click "check again" and read
the panel again; then follow the serve cell's "through Jupyter" link to the app's
Swagger UI at /proxy/PORT/docs. The untouched starter must show failing rows whose hint
buttons reveal hints; the solution (copied in under the notebook's name) must be all
green. Every request that leaves 127.0.0.1 is blocked and counted: the page must work
offline. Screenshots go to artifacts/browser/.

Settings that keep this reliable come from binder/overrides.json (kernel auto-start, no
news toast); readiness is the kernel session's, not the idle indicator's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "browser"
STEM = "01_models"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _workspace(ws: Path, notebook: Path) -> None:
    """A learner's folder: the chapter's notebook (starter or solution) and what check() reads."""
    (ws / "notebooks").mkdir(parents=True, exist_ok=True)
    shutil.copy2(notebook, ws / "notebooks" / f"{STEM}.ipynb")
    shutil.copytree(ROOT / "checks", ws / "checks")
    shutil.copytree(ROOT / "solutions", ws / "solutions")


def _lab_settings(settings_dir: Path) -> None:
    """binder/overrides.json, written as user settings (the venv's own folder is shared)."""
    for plugin, values in json.loads((ROOT / "binder" / "overrides.json").read_text()).items():
        package, name = plugin.rsplit(":", 1)
        (settings_dir / package).mkdir(parents=True, exist_ok=True)
        (settings_dir / package / f"{name}.jupyterlab-settings").write_text(json.dumps(values))


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Start JupyterLab on a free port in its own process group; yield (url, workspace)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    _lab_settings(tmp_path / "settings")
    port = _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTERLAB_SETTINGS_DIR=str(
        tmp_path / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))  # fmt: skip
    env.pop("WORKBOOK_ROOT", None)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
           f"--ServerApp.root_dir={ws}", "--ServerApp.port_retries=0"]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115 - Lab writes to it until the end
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "lab.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/api/status", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "JupyterLab did not start within 60 s"
            time.sleep(0.2)
        yield url, ws
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # Lab's own group: the server and its kernels
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


# JavaScript run in the page, through the app object Lab exposes (expose_app_in_browser).
KERNEL_READY = """async () => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.sessionContext) return false;
  await w.sessionContext.ready;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k) return false;
  await k.info;
  return k.status === 'idle';
}"""
ALL_RAN = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const k = w.sessionContext.session.kernel;
  return k.status === 'idle' && cells.every(c => c.model.executionCount !== null);
}"""
WATCH_KERNEL = """() => {
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  window.__states = [];
  k.statusChanged.connect((_, s) => window.__states.push(s));
}"""
KERNEL_WORKED = """() => window.__states.includes('busy') && window.__states[window.__states.length - 1] === 'idle'"""
RUN_CELL = """async (needle) => {
  const app = window.jupyterapp, nb = app.shell.currentWidget.content;
  nb.activeCellIndex = nb.widgets.findIndex(c => c.model.sharedModel.getSource().includes(needle));
  const before = nb.activeCell.model.executionCount;
  await app.commands.execute('notebook:run-cell');
  return before;
}"""


def _until(predicate: Callable[[], object], seconds: float, what: str) -> None:
    """Poll ``predicate`` (page.evaluate awaits a promise; wait_for_function would not)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)  # type: ignore[attr-defined]


def _learner_path(url: str, kind: str, slow: bool = True) -> dict:
    """Drive Lab like a learner; return what the panels and the docs page showed."""
    from playwright.sync_api import expect, sync_playwright

    blocked: list[str] = []
    seen: dict = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})

            def offline(route: object) -> None:
                host = urlparse(route.request.url).hostname  # type: ignore[attr-defined]
                if host in ("127.0.0.1", "localhost"):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    blocked.append(route.request.url)  # type: ignore[attr-defined]
                    route.abort()  # type: ignore[attr-defined]

            context.route("**/*", offline)
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{url}/lab/tree/notebooks/{STEM}.ipynb")
            _until(lambda: page.evaluate(KERNEL_READY), 90, "the kernel session never became ready")
            page.evaluate("() => window.jupyterapp.commands.execute('runmenu:run-all')")
            page.wait_for_function(ALL_RAN, polling=250, timeout=120_000)
            panel = page.locator(".workbook-panel").first
            panel.scroll_into_view_if_needed()
            expect(panel).to_contain_text("checks pass")  # Lab renders cells lazily, as they scroll in
            seen["first"] = panel.text_content()
            serve_cell = page.locator(".jp-Cell", has_text="serve(build_app)").first
            seen["serve_after_run_all"] = serve_cell.locator(".jp-OutputArea-output").first.text_content()
            _shot(page, f"{kind}-1-run-all")

            # Run All ended with the teardown cell; the learner re-serves the app, then checks again.
            page.evaluate(RUN_CELL, "serve(build_app)")
            page.wait_for_function(ALL_RAN, polling=250)
            serve_out = page.locator(".jp-Cell", has_text="serve(build_app)").locator(".jp-OutputArea-output")
            link = serve_out.get_by_role("link", name="through Jupyter")
            seen["docs_href"] = link.get_attribute("href")
            seen["serve_after_rerun"] = serve_out.first.text_content()
            # Slow this kernel's checks down (a chapter that boots processes) to see the panel mid-check.
            if slow:
                page.evaluate(RUN_CELL, "workbook.http as _h")  # the test's own last cell
                page.wait_for_function(ALL_RAN, polling=250)
            page.evaluate(WATCH_KERNEL)
            panel.get_by_role("button", name="check again").click()
            if slow:
                busy = panel.get_by_role("button", name="checking…")
                expect(busy).to_be_visible(timeout=10_000)
                seen["busy_disabled"] = busy.is_disabled()
                seen["mid_check"] = panel.text_content()
                _shot(page, f"{kind}-2-mid-check")
            page.wait_for_function(KERNEL_WORKED, polling=100)  # the click's comm message ran the checks
            time.sleep(0.3)  # the panel's new children arrive before idle; let the DOM catch up
            expect(panel.get_by_role("button", name="check again")).to_be_visible()
            seen["again"] = panel.text_content()
            hints = panel.get_by_role("button", name=re.compile(r"hint$"))
            if slow:  # the learner path with a wrong answer: its row has a hint button
                expect(hints.first).to_be_visible()
            seen["hint_buttons"] = hints.count()
            if seen["hint_buttons"]:
                shown = panel.locator(".workbook-hint").first  # the first wrong row's hints
                seen["hint_items_before"] = shown.locator("li").count()
                hints.first.click()
                expect(shown.locator("li")).to_have_count(1)
                panel.get_by_role("button", name="next hint").first.click()
                expect(shown.locator("li")).to_have_count(2)
                seen["hint_text"] = shown.inner_text()
            seen["solution_buttons"] = panel.get_by_role("button", name="show solution").all_inner_texts()
            _shot(page, f"{kind}-3-check-again-hints")

            # The app's Swagger UI through jupyter-server-proxy, as the link opens it in a tab.
            with context.expect_page() as new_tab:
                link.click()
            docs = new_tab.value
            docs.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
            seen["docs_title"] = docs.locator(".swagger-ui .info .title").inner_text()
            seen["docs_ops"] = docs.locator(".opblock-summary-path").all_inner_texts()
            seen["docs_url"] = docs.url
            _shot(docs, f"{kind}-4-swagger-through-proxy")
        finally:
            browser.close()
    seen["blocked"] = blocked
    return seen


def _summary(text: str) -> tuple[int, int]:
    match = re.search(r"(\d+)/(\d+) checks pass", text)
    assert match, text
    return int(match.group(1)), int(match.group(2))


def _notebook_with(tmp: Path, solved: str, wrong: str) -> Path:
    """The starter with exercise ``solved`` solved and exercise ``wrong`` given a wrong answer,
    plus one cell that slows in-kernel checks down by 2 s (to photograph the panel mid-check)."""
    import tomllib

    from conftest import replace_solution

    from workbook import notebooks

    solution = notebooks.read(ROOT / "solutions" / f"{STEM}.ipynb")
    nb = notebooks.read(ROOT / "notebooks" / f"{STEM}.ipynb")
    cells = notebooks.exercise_cells(solution)
    (i,) = cells[solved][:1]
    nb.cells[i].source = solution.cells[i].source
    answer = next(w for w in tomllib.loads((ROOT / "tests" / "wrong_answers" / f"{STEM}.toml").read_text())["wrong"]
                  if w["exercise"] == wrong)  # fmt: skip
    (j,) = cells[wrong][:1]
    nb.cells[j].source = replace_solution(solution.cells[j].source, answer["code"])
    slow = "\n".join([
        "import time, workbook.http as _h",
        "_h._plain = getattr(_h, '_plain', _h.client)  # re-runnable",
        "_slept = []",
        "_h.client = lambda *a, **k: (_slept or _slept.append(time.sleep(3)), _h._plain(*a, **k))[1]",
    ])
    nb.cells.append(notebooks.Notebook(cell_type="code", source=slow, metadata={}, outputs=[], execution_count=None))
    path = tmp / f"{STEM}.ipynb"
    notebooks.write(nb, path)
    return path


def test_three_states_in_the_browser_one_solved_one_wrong_the_rest_untouched(
    lab: tuple[str, Path], tmp_path: Path
) -> None:
    url, ws = lab
    _workspace(ws, _notebook_with(tmp_path, solved="01.2", wrong="01.3"))
    seen = _learner_path(url, "three-states")
    for key in ("first", "again"):
        text = seen[key]
        assert "✔" in text and "✘" in text and "○" in text and "not attempted" in text, text
        assert "waiting on 01.1" not in text or "…" in text, text
        passed, total = _summary(text)
        assert 0 < passed < total, text
    assert "stopped" in seen["serve_after_run_all"] and "re-run the cell" in seen["serve_after_run_all"], seen
    assert "Swagger UI" in seen["serve_after_rerun"], seen
    assert seen["busy_disabled"] and "checking" in seen["mid_check"], seen["mid_check"]
    assert seen["hint_buttons"] >= 1 and seen["hint_items_before"] == 0, "hints stay hidden until asked for"
    assert len(seen["hint_text"].strip().splitlines()) >= 2, seen["hint_text"]
    assert any("01.3" in b for b in seen["solution_buttons"]), seen["solution_buttons"]
    assert all(" · " in b for b in seen["solution_buttons"]), "each solution button names its exercise"
    _assert_docs(seen)


def test_solution_in_the_browser_is_all_green(lab: tuple[str, Path]) -> None:
    url, ws = lab
    _workspace(ws, ROOT / "solutions" / f"{STEM}.ipynb")
    seen = _learner_path(url, "solution", slow=False)
    for key in ("first", "again"):
        passed, total = _summary(seen[key])
        assert passed == total > 0, seen[key]
    assert seen["hint_buttons"] == 0 and not seen["solution_buttons"]
    _assert_docs(seen)


def _assert_docs(seen: dict) -> None:
    href = seen["docs_href"]
    assert href.startswith("/proxy/") and href.endswith("/docs"), href
    assert seen["docs_url"].endswith(href)
    assert seen["docs_ops"], "Swagger UI listed no operations"
    assert "/users" in " ".join(seen["docs_ops"])
    assert not seen["blocked"], f"requests left the machine: {seen['blocked'][:5]}"
