"""Route uvicorn's log records into a per-server buffer instead of the running cell.

uvicorn logs through the global ``uvicorn.*`` loggers from the server thread. In a
kernel, anything that reaches stderr is drawn into whichever cell happens to be
executing (and breaks nbval's output comparison), so every record is captured
here and attributed to the server whose thread emitted it.
"""

from __future__ import annotations

import collections
import logging
import threading

_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "starlette")
_FORMAT = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")


class ServerLog:
    """A bounded in-memory log of one server: the learner shows it with ``server.log()``."""

    def __init__(self, maxlen: int = 2000) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=maxlen)
        self.errors: list[str] = []

    def add(self, record: logging.LogRecord) -> None:
        text = _FORMAT.format(record)
        self.lines.append(text)
        if record.levelno >= logging.ERROR:
            self.errors.append(text)

    def text(self, last: int | None = None) -> str:
        lines = list(self.lines)
        return "\n".join(lines[-last:] if last else lines)


class _ThreadRouter(logging.Handler):
    """One handler for all servers: the emitting thread's name picks the buffer."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.by_thread: dict[str, ServerLog] = {}
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        log = self.by_thread.get(record.threadName or "")
        if log is not None:
            log.add(record)


_router = _ThreadRouter()


def install() -> None:
    """Attach the router once; stop propagation so records never reach stderr."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _router not in logger.handlers:
            logger.addHandler(_router)
        logger.propagate = False
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)


def attach(thread_name: str, log: ServerLog) -> None:
    with _router.lock_:
        _router.by_thread[thread_name] = log


def detach(thread_name: str) -> None:
    with _router.lock_:
        _router.by_thread.pop(thread_name, None)
