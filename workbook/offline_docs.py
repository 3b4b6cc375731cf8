"""Serve an in-kernel FastAPI app's /docs and /redoc without a CDN.

Why: FastAPI's docs pages load Swagger UI (and ReDoc) from jsDelivr. In an offline
classroom, behind a strict hub firewall or on a train, /docs is then a blank page —
exactly where a learner wants to try the API. The wrapper answers the app's own
``docs_url`` and ``redoc_url`` with the same pages pointing at assets served by the
app itself, from the ``fastapi-offline`` wheel (it vendors Swagger UI 5, which reads
the OpenAPI 3.1 documents FastAPI writes; the 4.x bundle of ``swagger-ui-bundle``
refuses them). Everything else goes to the app untouched.

URLs are prefixed with the request's ``root_path``, so the pages also work through
jupyter-server-proxy at ``…/proxy/PORT/docs`` (``ProxyPrefix`` sets root_path).
"""

from __future__ import annotations

import mimetypes
from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

ASSETS_PATH = "/_workbook/docs-assets/"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
_MAX_UNWRAP = 8  # middleware layers to look through for the FastAPI instance


@lru_cache(maxsize=len(ASSETS))
def _asset(name: str) -> bytes | None:
    """The bytes of a vendored asset, or None when fastapi-offline is not installed."""
    try:
        return (resources.files("fastapi_offline") / "static" / name).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None


def available() -> bool:
    """Whether the vendored assets are installed (else the CDN pages are left alone)."""
    return _asset("swagger-ui-bundle.js") is not None


def find_fastapi(app: Any) -> FastAPI | None:
    """The FastAPI instance inside ``app`` (itself, or under middleware's ``.app``)."""
    for _ in range(_MAX_UNWRAP):
        if isinstance(app, FastAPI):
            return app
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


def _route_path(scope: Scope) -> str:
    """The path the app routes on: Starlette strips root_path when path carries it."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return (path[len(root) :] or "/") if root and path.startswith(root) else path


class OfflineDocs:
    """ASGI wrapper: docs pages and their assets from this process, not from a CDN."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            response = self._answer(_route_path(scope), scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _answer(self, path: str, scope: Scope) -> Response | None:
        api = self.fastapi
        root = (api.root_path or scope.get("root_path", "")).rstrip("/")
        if path.startswith(ASSETS_PATH):
            name = path[len(ASSETS_PATH) :]
            body = _asset(name) if name in ASSETS else None
            if body is None:
                return Response("not found", status_code=404, media_type="text/plain")
            media = mimetypes.guess_type(name)[0] or "application/octet-stream"
            return Response(body, media_type=media, headers={"cache-control": "public, max-age=86400"})
        if not api.openapi_url:
            return None
        assets = root + ASSETS_PATH
        if path == api.docs_url:
            redirect = api.swagger_ui_oauth2_redirect_url
            return get_swagger_ui_html(
                openapi_url=root + api.openapi_url,
                title=f"{api.title} - Swagger UI",
                swagger_js_url=assets + "swagger-ui-bundle.js",
                swagger_css_url=assets + "swagger-ui.css",
                swagger_favicon_url=assets + "favicon.png",
                oauth2_redirect_url=root + redirect if redirect else None,
                init_oauth=api.swagger_ui_init_oauth,
                swagger_ui_parameters=api.swagger_ui_parameters,
            )
        if path == api.redoc_url:
            return get_redoc_html(
                openapi_url=root + api.openapi_url,
                title=f"{api.title} - ReDoc",
                redoc_js_url=assets + "redoc.standalone.js",
                redoc_favicon_url=assets + "favicon.png",
                with_google_fonts=False,
            )
        return None


def offline_docs(app: Any) -> Any:
    """Wrap ``app`` so its docs work offline; other apps (or no assets) pass unchanged."""
    fastapi_app = find_fastapi(app)
    if fastapi_app is None or not available():
        return app
    return OfflineDocs(app, fastapi_app)
