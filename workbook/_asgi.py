"""Two thin ASGI wrappers that make an in-kernel server behave well for learners."""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_error_log = logging.getLogger("uvicorn.error")


class ProxyPrefix:
    """Take root_path from jupyter-server-proxy's ``X-Forwarded-Prefix`` header.

    The proxy serves the app at ``{hub prefix}proxy/PORT/`` and strips that prefix.
    Setting root_path per request (rather than once at start) lets the same server
    render a working Swagger UI both through the proxy and on 127.0.0.1:PORT directly.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            for key, value in scope.get("headers", []):
                if key == b"x-forwarded-prefix":
                    prefix = value.decode("latin-1").rstrip("/")
                    if prefix.startswith("/") and ".." not in prefix:
                        scope = dict(scope, root_path=prefix)
                    break
        await self.app(scope, receive, send)


class KeepAliveAfterErrors:
    """Log an exception raised after the response was complete, instead of re-raising.

    uvicorn closes the keep-alive connection when the app raises, even if a full 500
    (or a 201 followed by a failing background task) was already sent; the learner's
    next call on the same httpx client then fails with "connection reset". The error
    is not lost: it goes to the server log with its traceback.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"complete": False}

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                state["complete"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if not state["complete"]:
                raise
            _error_log.exception("Exception in ASGI application (after the response was sent)")
