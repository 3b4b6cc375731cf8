"""serve_process(): a real server process group that starts on a free port, is reported by
running(), and leaves no process behind when stopped, replaced or failing to start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from workbook import processes, serving
from workbook.processes import ProcessStartupError, serve_process, start_process

APP = '''
import os, time
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = "startup" if message["type"] == "lifespan.startup" else "shutdown"
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
'''
GUNICORN = [sys.executable, "-m", "gunicorn", "tiny:app", "-k", "uvicorn_worker.UvicornWorker",
            "--bind", "127.0.0.1:{port}", "--no-control-socket", "--graceful-timeout", "2"]  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tiny.py").write_text(APP)
    return tmp_path


@pytest.fixture(autouse=True)
def _stop_everything() -> None:
    yield
    processes.stop_all()


def gone(pids: list[int]) -> bool:
    """True when none of ``pids`` is alive (a zombie counts as gone)."""
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            return False
    return True


def test_workers_serve_and_stop_leaves_no_process(project: Path) -> None:
    server = serve_process([*GUNICORN, "-w", "2"], "gunicorn", cwd=project)
    assert serving.running()["gunicorn"] == server.url
    deadline = time.monotonic() + 10
    while len(server.workers()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = server.workers()
    assert len(workers) == 2
    seen = {int(httpx.get(server.url).text) for _ in range(30)}
    assert seen <= set(workers) and seen
    server.stop()
    assert gone([server.pid, *workers])
    assert "gunicorn" not in serving.running()
    server.stop()  # twice is fine


def test_a_killed_worker_is_replaced(project: Path) -> None:
    server = serve_process([*GUNICORN, "-w", "1"], "gunicorn", cwd=project)
    first = int(server.client.get("/").text)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            now = int(httpx.get(server.url, timeout=1).text)
        except httpx.TransportError:
            continue
        if now != first:
            break
    assert now != first


def test_serving_the_name_again_stops_the_old_group(project: Path) -> None:
    old = serve_process([*GUNICORN, "-w", "1"], "gunicorn", cwd=project)
    old_workers = old.workers()
    new = serve_process([*GUNICORN, "-w", "1"], "gunicorn", cwd=project)
    assert old.stopped and gone([old.pid, *old_workers])
    assert serving.running()["gunicorn"] == new.url
    assert new.client.get("/").status_code == 200


def test_a_command_that_fails_reports_its_output(project: Path) -> None:
    with pytest.raises(ProcessStartupError, match="No module named 'nowhere'|nowhere"):
        start_process([sys.executable, "-c", "import nowhere"], "broken", cwd=project, timeout=10)
    assert processes.running() == {}


def test_a_command_that_never_answers_is_stopped(project: Path) -> None:
    with pytest.raises(ProcessStartupError, match="did not answer"):
        start_process([sys.executable, "-c", "import time; print('sleeping', flush=True); time.sleep(60)"],
                      "silent", timeout=1)  # fmt: skip


def test_sigterm_to_pid1_in_a_pid_namespace(project: Path) -> None:
    if not processes.pid_namespace_available():
        pytest.skip("no PID namespaces here")
    shell = start_process(["/bin/sh", "-c", " ".join([*GUNICORN, "-w", "1"])], "shell", cwd=project,
                          pid_namespace=True)  # fmt: skip
    exec_form = start_process([*GUNICORN, "-w", "1"], "exec", cwd=project, pid_namespace=True)
    try:
        for server in (shell, exec_form):
            os.kill(server.pid1, signal.SIGTERM)
        assert exec_form.wait_stopped(8) is not None  # gunicorn is PID 1: graceful exit
        assert shell.wait_stopped(1) is None  # sh is PID 1: SIGTERM ignored, nothing forwarded
    finally:
        shell.stop(grace=0.1)
        exec_form.stop()
    assert not shell.running() and not exec_form.running()


def test_a_killed_parent_takes_its_servers_along(project: Path) -> None:
    """A kernel killed outright (no atexit) must not leave gunicorn running: PR_SET_PDEATHSIG."""
    script = (
        "import os, signal, sys\n"
        "from workbook.processes import serve_process\n"
        f"s = serve_process({[*GUNICORN, '-w', '2']!r}, 'g', cwd={str(project)!r})\n"
        "print(s.pid, *s.workers(), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) >= 2, done.stderr
    deadline = time.monotonic() + 10
    while not gone(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pids)


# -- other platforms, by simulation (this suite runs on Linux; macOS and Windows were not run) ----------

ENV_APP = '''
import os
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": os.environ.get("WRAPPED", "-").encode()})
'''
UVICORN = [sys.executable, "-m", "uvicorn", "envapp:app", "--port", "{port}", "--lifespan", "off"]


@pytest.fixture
def env_project(tmp_path: Path) -> Path:
    (tmp_path / "envapp.py").write_text(ENV_APP)
    return tmp_path


@pytest.fixture
def popen_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every Popen made by workbook.processes: its argv and keyword arguments."""
    calls: list[dict] = []
    real = subprocess.Popen

    def spy(args: list[str], **kwargs: object) -> subprocess.Popen:
        calls.append({"args": list(args), **kwargs})
        return real(args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(processes.subprocess, "Popen", spy)
    return calls


def test_linux_launch_sets_the_death_signal_without_preexec_fn(env_project: Path, popen_calls: list[dict]) -> None:
    """preexec_fn is unsafe in a threaded kernel: the launcher execs the command instead."""
    server = start_process(UVICORN, "env", cwd=env_project)
    (call,) = popen_calls
    assert "preexec_fn" not in call
    assert call["args"][-len(UVICORN) :] == server.argv and "prctl" in " ".join(call["args"])
    assert processes.cmdline(server.pid).endswith(" ".join(server.argv))  # exec'd: same pid, the real command
    server.stop()


def test_on_macos_no_linux_extras_and_it_still_serves_and_stops(
    env_project: Path, popen_calls: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    processes.pid_namespace_available.cache_clear()
    try:
        assert processes.pid_namespace_available() is False  # no unshare: notebooks take their fallback
    finally:
        processes.pid_namespace_available.cache_clear()
    server = start_process(UVICORN, "env", cwd=env_project)
    assert popen_calls[0]["args"] == server.argv  # no prctl launcher: the command itself
    assert server.client.get("/").text == "-"
    assert server.running() and server.pid in processes.group_members(server.pid)
    server.stop()
    assert not server.running()


def test_wrap_command_rewrites_the_launched_argv(
    env_project: Path, popen_calls: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grader's sandbox hook: applied to the argv just before launch (inside the Linux launcher)."""
    seen: list[list[str]] = []

    def wrap(argv: list[str]) -> list[str]:
        seen.append(argv)
        return ["env", "WRAPPED=yes", *argv]

    monkeypatch.setattr(processes, "wrap_command", wrap)
    server = start_process(UVICORN, "env", cwd=env_project)
    assert seen == [server.argv]
    assert server.client.get("/").text == "yes"
    assert popen_calls[0]["args"][-len(UVICORN) - 2 :] == ["env", "WRAPPED=yes", *server.argv]
    server.stop()


def test_without_process_groups_the_tree_is_used(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows has no getpgid: group_members falls back to the process and its descendants."""
    server = start_process([*GUNICORN, "-w", "2"], "gunicorn", cwd=project)
    deadline = time.monotonic() + 10
    while len(server.workers()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    with_groups = sorted(processes.group_members(server.pid))
    monkeypatch.delattr(processes.os, "getpgid")
    assert sorted(processes.group_members(server.pid)) == with_groups == sorted([server.pid, *server.workers()])
    monkeypatch.undo()
    server.stop()
    assert processes.group_members(server.pid) == [] and processes.children(server.pid) == []


def test_a_missing_command_raises_like_popen(project: Path) -> None:
    with pytest.raises(FileNotFoundError):
        start_process(["no-such-command-here", "{port}"], "missing", cwd=project, timeout=5)
