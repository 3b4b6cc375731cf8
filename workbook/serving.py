"""Serve a FastAPI app from inside a Jupyter kernel with a real uvicorn server.

Why a background thread with its own event loop: the kernel's loop is already
running, so ``asyncio.run()``/``uvicorn.run()`` fail in a cell, and a server on the
kernel's own loop deadlocks every synchronous HTTP call made from a cell. A thread
with its own (uv)loop has neither problem and needs no nest_asyncio.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import html
import inspect
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn

from workbook import http, server_log
from workbook._asgi import KeepAliveAfterErrors, ProxyPrefix
from workbook.offline_docs import offline_docs

_servers: dict[str, Server] = {}
_factories: dict[str, Callable[[], Any]] = {}  # name → app factory, kept after stop() for rebuild()
_lock = threading.Lock()
_sources: list[Callable[[], dict[str, str]]] = []  # other kinds of server (workbook.processes)
_STARTUP_TIMEOUT = 15.0
_HOW_BACK = " (by the teardown cell or stop()); re-run the cell that calls serve(...) to bring it back"
_GRACE = 3.0


class ServerStartupError(RuntimeError):
    """The app's lifespan startup raised; the message carries the server log."""


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        if port == 0:
            sock.close()
            raise
        sock.bind(("127.0.0.1", 0))  # the old port is taken: any free one will do
    sock.set_inheritable(False)
    return sock


class ServerStopped(RuntimeError):
    """A cell used the client of an app that has been stopped."""


class _ServerClient(httpx.Client):
    """``server.client``: says plainly that its app was stopped, instead of httpx's
    "the client has been closed" (a demo cell re-run after the teardown cell)."""

    owner: Server | None = None

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if self.owner is not None and self.owner.stopped:
            raise ServerStopped(self.owner.stopped_message())
        return super().send(request, **kwargs)


def _client_for(owner: Server) -> httpx.Client:
    made = http.client(owner.url, client_class=_ServerClient)
    made.owner = owner  # type: ignore[attr-defined]
    return made


class Server:
    """A running app: ``url``, a ready ``client``, ``log()``, ``stop()``."""

    def __init__(self, app: Any, name: str, port: int = 0, factory: Callable[[], Any] | None = None) -> None:
        self.name = name
        self.log_buffer = server_log.ServerLog()
        self._prepare(app, factory, port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = _client_for(self)
        self.stopped = False
        self._displays: list[Any] = []  # outputs showing this server: updated when it stops

    def _prepare(self, app: Any, factory: Callable[[], Any] | None, port: int) -> None:
        """Set up a fresh engine (socket, thread, loop) for ``app``; the handle stays."""
        self.app = app
        self.factory = factory
        self._sock = _bind(port)
        self.port: int = self._sock.getsockname()[1]
        self._ready = threading.Event()
        self._failure: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name=f"workbook-{self.name}-{self.port}", daemon=True)
        server_log.attach(self._thread.name, self.log_buffer)

    # -- lifecycle -----------------------------------------------------------
    def _start(self) -> None:
        started = time.perf_counter()
        self._thread.start()
        if not self._ready.wait(_STARTUP_TIMEOUT):
            self.stop()
            raise ServerStartupError(f"{self.name!r} did not start within {_STARTUP_TIMEOUT:.0f} s")
        if self._failure is not None:
            self.stop()
            raise ServerStartupError(self._failure)
        self.startup_seconds = time.perf_counter() - started

    def _run(self) -> None:
        loop = _new_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        config = uvicorn.Config(
            ProxyPrefix(KeepAliveAfterErrors(offline_docs(self.app))),
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=int(_GRACE),
        )
        server = uvicorn.Server(config)
        try:
            config.load()
            server.lifespan = config.lifespan_class(config)
            await server.startup(sockets=[self._sock])
        except (Exception, SystemExit) as exc:  # SystemExit: uvicorn's "startup failed"
            errors = "\n".join(self.log_buffer.errors) or repr(exc)
            self._failure = f"the app {self.name!r} failed to start:\n{errors}"
            self._ready.set()
            return
        self._ready.set()
        while not self._stop_event.is_set():
            try:  # uvicorn refreshes its Date header once a second in on_tick
                await asyncio.wait_for(self._stop_event.wait(), timeout=1.0)
            except TimeoutError:
                await server.on_tick(0)
        await self._shutdown(server)

    async def _shutdown(self, server: uvicorn.Server) -> None:
        """uvicorn's own shutdown, without its fixed 0.1 s sleeps (polls every 5 ms)."""
        for listener in server.servers:
            listener.close()
        state = server.server_state
        for connection in list(state.connections):
            connection.shutdown()
        deadline = time.monotonic() + _GRACE
        while (state.connections or state.tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        for task in list(state.tasks):
            task.cancel()
        for connection in list(state.connections):
            connection.transport.close()
        await server.lifespan.shutdown()

    def _halt(self) -> None:
        """Stop the engine: the thread joins, the socket closes; the handle stays usable."""
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(event.set)
        if self._thread.is_alive():
            self._thread.join(_GRACE + 5)
        if not self._thread.is_alive():
            self._sock.close()  # only after the join: an early close kills the listener
            server_log.detach(self._thread.name)

    def _restart(self, app: Any, factory: Callable[[], Any] | None) -> None:
        """Serve ``app`` on the same port (if free) behind this same handle and client."""
        self._halt()
        self._prepare(app, factory, self.port)
        if self.url != f"http://127.0.0.1:{self.port}":  # the old port was taken meanwhile
            self.url = f"http://127.0.0.1:{self.port}"
            self.client.close()
            self.client = _client_for(self)
        self._start()

    def stop(self) -> None:
        """Stop serving, join the thread, close the socket and client; safe to call twice."""
        if self.stopped:
            return
        self.stopped = True
        self._halt()
        self.client.close()
        with _lock:
            if _servers.get(self.name) is self:
                del _servers[self.name]
        for handle in self._displays:  # the links above would now fail: say so where they are
            with contextlib.suppress(Exception):
                handle.update(_Html(self._repr_html_()))
        self._displays.clear()

    def stopped_message(self) -> str:
        return f"the app {self.name!r} (was at {self.url}) has been stopped{_HOW_BACK}"

    # -- conveniences ----------------------------------------------------------
    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """A new AsyncClient for this server; use it with ``async with`` in a cell."""
        return http.async_client(self.url, **kwargs)

    def log(self, last: int | None = 40) -> None:
        """Print the server's access log and tracebacks (kept out of cells otherwise)."""
        print(self.log_buffer.text(last) or "(the log is empty)")

    @property
    def proxy_path(self) -> str:
        """The path jupyter-server-proxy serves this port under, for this Jupyter server."""
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
        return f"{prefix.rstrip('/')}/proxy/{self.port}"

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "running"
        return f"<Server {self.name!r} {state} at {self.url}>"

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        handle = display(HTML(self._repr_html_()), display_id=True)
        if handle is not None and not self.stopped:
            self._displays.append(handle)

    def _repr_html_(self) -> str:
        if self.stopped:
            return f"<code>{html.escape(repr(self))}</code> — its links no longer answer: stopped{_HOW_BACK}"
        proxied = html.escape(self.proxy_path + "/docs")
        direct = html.escape(self.url + "/docs")
        return (
            f"<code>{html.escape(repr(self))}</code><br>Swagger UI: "
            f'<a href="{proxied}" target="_blank">through Jupyter</a> · '
            f'<a href="{direct}" target="_blank">direct ({direct})</a>'
        )


def _Html(text: str) -> Any:
    from IPython.display import HTML

    return HTML(text)


def serve(app: Any, name: str = "app") -> Server:
    """Start ``app`` on 127.0.0.1 in the background; re-running replaces the old one.

    ``app`` may also be a function that builds the app: then ``check()`` calls it
    again before checking, so the checks see the learner's latest cells. Serving a
    name again restarts the same handle on the same port, so ``server.client`` and
    URLs held in other cells stay valid.
    """
    factory = app if inspect.isfunction(app) else None
    if factory is not None:
        app = factory()
    with _lock:
        if factory is not None:
            _factories[name] = factory
        else:
            _factories.pop(name, None)
    server_log.install()
    with _lock:
        old = _servers.get(name)
    if old is not None and not old.stopped:
        try:
            old._restart(app, factory)
        except ServerStartupError:
            old.stop()
            raise
        return old
    server = Server(app, name, 0, factory)
    server._start()
    with _lock:
        _servers[name] = server
    return server


def running() -> dict[str, str]:
    """Name → base URL of every server this kernel is running (what checks call)."""
    with _lock:
        found = {name: s.url for name, s in _servers.items() if not s.stopped}
        sources = list(_sources)
    for source in sources:  # an app served in the kernel wins a name clash
        found = {**source(), **found}
    return found


def add_source(source: Callable[[], dict[str, str]]) -> None:
    """Have ``running()`` also report ``source()``'s servers (name → URL), e.g. processes."""
    with _lock:
        if source not in _sources:
            _sources.append(source)


def rebuild(names: list[str] | None = None) -> None:
    """Re-serve apps that were served from a factory (see ``serve``): the running ones, or
    the ``names`` given even if they were stopped since — after *Run All* the last cell
    has stopped the app, and the panel's "check again" button must still find it."""
    with _lock:
        wanted = names if names is not None else [n for n, s in _servers.items() if not s.stopped]
        built = [(name, _factories[name]) for name in wanted if name in _factories]
    for name, factory in built:
        serve(factory, name)


_stop_hooks: list[Callable[[], None]] = []


def add_stop_hook(hook: Callable[[], None]) -> None:
    """Have ``stop_all()`` also call ``hook`` (e.g. to stop a warm helper process)."""
    with _lock:
        if hook not in _stop_hooks:
            _stop_hooks.append(hook)


def stop_all() -> None:
    """Stop every server and helper this kernel started (the notebook's teardown cell)."""
    with _lock:
        servers, hooks = list(_servers.values()), list(_stop_hooks)
    for server in servers:
        server.stop()
    for hook in hooks:
        hook()


atexit.register(stop_all)
