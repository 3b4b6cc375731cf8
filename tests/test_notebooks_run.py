"""Every notebook, starter and solution, runs top to bottom in a fresh kernel without
an error, runs again in the same kernel, and leaves no server, thread, socket or process behind;
check() renders a widget panel with a plain-text twin."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

from workbook import notebooks, registry

CHAPTERS = registry.chapters(ROOT)
pytestmark = pytest.mark.slow
PATHS = [p for c in CHAPTERS for p in (c.notebook, c.solution)]

# multiprocessing's resource tracker (started by a process pool) lives as long as the kernel, by design.
LEFTOVERS = """
import json, os, psutil, threading, workbook.serving as s
socks = sum(os.readlink(f"/proc/self/fd/{fd}").startswith("socket:") for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}"))
print("LEFT", json.dumps({"servers": s.running(),
      "threads": [t.name for t in threading.enumerate() if t.name.startswith("workbook-")], "sockets": socks,
      "children": [" ".join(p.cmdline())[:120] for p in psutil.Process().children(recursive=True)
                   if "multiprocessing.resource_tracker" not in " ".join(p.cmdline())]}))
"""


class Kernel:
    def __init__(self, cwd: Path) -> None:
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str) -> list[dict]:
        messages: list[dict] = []
        self.kc.execute_interactive(code, timeout=120, output_hook=messages.append)
        return messages

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture
def kernel(request: pytest.FixtureRequest) -> Iterator[Kernel]:
    k = Kernel(request.param.parent)
    yield k
    k.close()


def errors(messages: list[dict]) -> list[str]:
    return [f"{m['content']['ename']}: {m['content']['evalue']}" for m in messages if m["msg_type"] == "error"]


def sockets_now(k: Kernel) -> int:
    out = "".join(m["content"].get("text", "") for m in k.run(LEFTOVERS) if m["msg_type"] == "stream")
    return json.loads(out.split("LEFT", 1)[1])


@pytest.mark.parametrize("kernel", PATHS, indirect=True, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_runs_twice_without_errors_and_leaves_nothing_behind(kernel: Kernel, request: pytest.FixtureRequest) -> None:
    path: Path = request.node.callspec.params["kernel"]
    before = sockets_now(kernel)
    cells = [c for c in notebooks.read(path).cells if c.cell_type == "code"]
    for round_ in (1, 2):
        for index, cell in enumerate(cells):
            found = errors(kernel.run(cell.source))
            assert not found, f"round {round_}, code cell {index} of {path.name} raised {found}\n{cell.source[:300]}"
    after = sockets_now(kernel)
    assert after["servers"] == {} and after["threads"] == [] and after["children"] == [], after
    assert after["sockets"] <= before["sockets"], (before, after)


@pytest.mark.parametrize("kernel", [CHAPTERS[0].solution], indirect=True, ids=["01"])
def test_check_renders_a_widget_panel_with_a_text_twin(kernel: Kernel) -> None:
    chapter = CHAPTERS[0]
    for cell in notebooks.read(chapter.solution).cells:
        if cell.cell_type == "code" and "workbook-teardown" not in cell.get("metadata", {}).get("tags", []):
            kernel.run(cell.source)
    shown = [m["content"]["data"] for m in kernel.run(f'check("{chapter.id}.2")') if m["msg_type"] == "display_data"]
    assert shown, "check() displayed nothing"
    data = shown[-1]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"].splitlines()[-1] == "2/2 checks pass"


@pytest.mark.parametrize("kernel", [CHAPTERS[0].solution], indirect=True, ids=["01"])
def test_check_again_after_run_all_finds_the_stopped_app(kernel: Kernel) -> None:
    """Run All ends with the teardown cell; the panel's "check again" must still work."""
    chapter = CHAPTERS[0]
    for cell in notebooks.read(chapter.solution).cells:
        if cell.cell_type == "code" and "check(" not in cell.source:
            kernel.run(cell.source)  # including the teardown cell
    code = (
        "from workbook.serving import running\n"
        f"report = check('{chapter.id}.1')\nbefore = dict(running())\n"  # the first check, before teardown
        "server.stop()\nreport.refresh()\nprint('AGAIN', report.passed, sorted(before), sorted(running()))\n"
        "server.stop()"
    )
    kernel.run("server = serve(build_app)")
    out = "".join(m["content"].get("text", "") for m in kernel.run(code) if m["msg_type"] == "stream")
    assert "AGAIN True ['app'] ['app']" in out, out
