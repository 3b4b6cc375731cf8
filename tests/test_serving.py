"""serve(): a real uvicorn in a kernel thread that starts, replaces and stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import threading
import time
from collections.abc import AsyncIterator

import pytest
from fastapi import BackgroundTasks, FastAPI

from workbook import serving
from workbook.serving import ServerStartupError, serve


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, int]:
        return {"ok": 1}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom in handler")

    def failing_task() -> None:
        raise ValueError("task failed")

    @app.get("/background")
    async def background(tasks: BackgroundTasks) -> dict[str, int]:
        tasks.add_task(failing_task)
        return {"queued": 1}

    return app


def open_fds() -> set[str]:
    return set(os.listdir(f"/proc/{os.getpid()}/fd"))


def sockets() -> int:
    fd_dir = f"/proc/{os.getpid()}/fd"
    count = 0
    for fd in os.listdir(fd_dir):
        with contextlib.suppress(OSError):
            count += os.readlink(f"{fd_dir}/{fd}").startswith("socket:")
    return count


@pytest.fixture(autouse=True)
def _stop_everything() -> None:
    yield
    serving.stop_all()
    serving._factories.clear()


def test_100_start_stop_cycles_leak_no_thread_and_no_socket() -> None:
    app = make_app()
    serve(app, name="warmup").stop()  # first use imports uvloop/httptools, creates the SSL context
    threads, socks = threading.active_count(), sockets()
    for _ in range(100):
        server = serve(app, name="cycle")
        assert server.client.get("/ok").json() == {"ok": 1}
        server.stop()
    assert threading.active_count() == threads
    assert sockets() == socks


def test_rerunning_replaces_the_app_behind_the_same_handle_and_port() -> None:
    first = serve(make_app())
    assert first.client.get("/ok").status_code == 200  # leaves a pooled keep-alive connection
    other = FastAPI()
    other.get("/ok")(lambda: {"ok": 2})
    second = serve(other)
    assert second is first and not first.stopped
    assert first.client.get("/ok").json() == {"ok": 2}  # the same client keeps working
    assert serving.running() == {"app": first.url}


def test_lifespan_runs_on_start_and_stop() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    server = serve(FastAPI(lifespan=lifespan))
    assert events == ["startup"]
    server.stop()
    assert events == ["startup", "shutdown"]


def test_a_failing_startup_is_reported_and_leaves_nothing_behind() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("database is down")
        yield

    serve(make_app(), name="warmup").stop()
    threads, socks = threading.active_count(), sockets()
    with pytest.raises(ServerStartupError, match="database is down"):
        serve(FastAPI(lifespan=lifespan), name="broken")
    assert threading.active_count() == threads and sockets() == socks
    assert "broken" not in serving.running()


def test_a_500_does_not_break_the_next_call_on_the_same_client() -> None:
    server = serve(make_app())
    for _ in range(5):
        assert server.client.get("/boom").status_code == 500
        assert server.client.get("/ok").json() == {"ok": 1}
        assert server.client.get("/background").status_code == 200
        assert server.client.get("/ok").json() == {"ok": 1}


def test_server_tracebacks_stay_out_of_the_cell_and_in_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    server = serve(make_app())
    server.client.get("/boom")
    server.client.get("/background")
    for _ in range(200):  # the task runs after the response: give it a moment
        if "task failed" in server.log_buffer.text():
            break
        time.sleep(0.01)
    out, err = capsys.readouterr()
    assert "boom in handler" not in out + err and "task failed" not in out + err
    assert "RuntimeError: boom in handler" in server.log_buffer.text()
    assert "ValueError: task failed" in server.log_buffer.text()
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        server.log(last=200)
    assert "GET /boom HTTP/1.1\" 500" in shown.getvalue()


def test_sync_and_async_clients_both_work() -> None:
    server = serve(make_app())
    assert server.client.get("/ok").status_code == 200

    async def many() -> list[int]:
        async with server.async_client() as client:
            responses = await asyncio.gather(*(client.get("/ok") for _ in range(20)))
        return [r.status_code for r in responses]

    assert asyncio.run(many()) == [200] * 20


def test_docs_follow_the_jupyter_proxy_prefix() -> None:
    server = serve(make_app())
    direct = server.client.get("/docs").text
    proxied = server.client.get("/docs", headers={"X-Forwarded-Prefix": "/user/ada/proxy/1234"}).text
    assert "'/openapi.json'" in direct or '"/openapi.json"' in direct
    assert "/user/ada/proxy/1234/openapi.json" in proxied
    html = server._repr_html_()
    assert f"/proxy/{server.port}/docs" in html and f"127.0.0.1:{server.port}/docs" in html


def test_a_factory_is_rebuilt_by_rebuild() -> None:
    built: list[int] = []

    def build_app() -> FastAPI:
        built.append(1)
        return make_app()

    first = serve(build_app)
    app_before = first.app
    serving.rebuild()
    assert len(built) == 2 and first.app is not app_before
    assert serving.running()["app"] == first.url  # same port, new app
    assert first.client.get("/ok").status_code == 200


def test_a_hanging_handler_fails_its_check_then_later_checks_fail_fast() -> None:
    import time as _time

    from workbook import registry, runner
    from workbook.registry import Chapter, Exercise

    app = FastAPI()

    @app.get("/value/{key}")
    async def hang(key: str) -> None:
        _time.sleep(2.5)  # blocks the server's loop

    server = serve(app)
    toy = registry.chapter("90", __import__("pathlib").Path(__file__).parent / "toy")
    exercises = [Exercise(e.id, e.title, e.checks) for e in toy.exercises[:3]]
    chapter = Chapter(toy.id, toy.stem, toy.title, tuple(exercises), root=toy.root)
    saved, runner.CHECK_TIMEOUT = runner.CHECK_TIMEOUT, 0.5
    try:
        started = _time.monotonic()
        results = runner.run_checks(chapter, exercises, {"app": server.url})
        took = _time.monotonic() - started
    finally:
        runner.CHECK_TIMEOUT = saved
    assert [r.passed for r in results] == [False, False, False]
    assert "did not answer within" in results[0].message
    assert "stopped answering" in results[1].message and "stopped answering" in results[2].message
    assert took < 2.0, took


def test_rebuild_brings_back_a_stopped_factory_app() -> None:
    server = serve(make_app)  # a factory
    server.stop()  # what the notebook's last cell does after Run All
    serving.rebuild()  # a plain check() rebuilds only running apps
    assert serving.running() == {}
    serving.rebuild(["app"])  # "check again" names the apps its first run checked
    assert set(serving.running()) == {"app"}
    serve(make_app(), name="app")  # serving an app object under that name forgets the factory
    serving.stop_all()
    serving.rebuild(["app"])
    assert serving.running() == {}


def test_a_stopped_apps_client_and_display_say_how_to_bring_it_back() -> None:
    from workbook.serving import ServerStopped

    server = serve(make_app(), name="stoppable")
    shown: list[str] = []

    class Handle:  # what IPython's display(..., display_id=True) returns
        def update(self, obj: object) -> None:
            shown.append(obj._repr_html_())  # type: ignore[attr-defined]

    server._displays.append(Handle())
    assert server.client.get("/ok").status_code == 200
    server.stop()
    with pytest.raises(ServerStopped, match=r"'stoppable' .* has been stopped .* re-run the cell that calls serve"):
        server.client.get("/ok")
    assert shown and "stopped" in shown[0] and "re-run the cell that calls serve" in shown[0]
    assert "Swagger UI" not in shown[0]  # no dead links
