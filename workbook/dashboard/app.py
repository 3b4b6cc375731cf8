"""The dashboard's routes, all under the service prefix the hub's proxy forwards (``/services/NAME/``).

- ``POST api/results`` — a learner's kernel reports one check() run. The caller is whoever the hub
  says owns the ``Authorization`` token; the body has no learner field (an extra field is a 422),
  so nobody can post as someone else. Only the header counts, never a cookie: no cross-site posts.
  Every exercise id must be in the workbook's registry (422 otherwise): no made-up columns.
- ``GET /`` — the instructor's page; ``GET api/progress`` its JSON (polled every second);
  ``GET api/export`` that JSON plus every report ever made. Instructors only (hub admins and the
  group in ``WORKBOOK_DASHBOARD_GROUP``); anyone else gets 403. A browser without our cookie is
  sent through the hub's OAuth (hub cookie → code → token → our own cookie), as HubOAuth does.
- ``GET health`` — no login; says the database answers and how often the hub was asked who a token is.

No ``from __future__ import annotations`` here: FastAPI must see the routes' ``Depends(...)`` on
closures of create_app() as objects, not as strings it cannot resolve from the module's globals.
"""

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from workbook.dashboard import page, storage
from workbook.dashboard.config import Settings
from workbook.dashboard.hub import Hub, HubUnavailable, Identity

COOKIE = "workbook-dashboard-token"
STATE_COOKIE = "workbook-dashboard-oauth-state"


class ExerciseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exercise: str = Field(pattern=r"^\d{2}\.\d{1,3}$")
    state: Literal["passing", "failing", "not attempted"]
    passed: int = Field(ge=0, le=1000)
    total: int = Field(ge=1, le=1000)


class ResultsIn(BaseModel):
    """One check() run. No learner field: the token says who."""

    model_config = ConfigDict(extra="forbid")
    results: list[ExerciseIn] = Field(min_length=1, max_length=200)


class Recorded(BaseModel):
    learner: str
    recorded: int


def _token(request: Request, cookie: bool) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) if cookie else None


def create_app(settings: Settings, hub: Hub | None = None, store: storage.Store | None = None) -> FastAPI:
    """The service; ``hub`` and ``store`` are replaceable for tests (a fake hub, a temp database)."""
    the_hub = hub or Hub(settings.api_url, settings.api_token, settings.client_id, settings.callback_url,
                         settings.base_url)  # fmt: skip
    db = store or storage.Store(settings.db)
    prefix = settings.prefix.rstrip("/")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await db.open()
        try:
            yield
        finally:
            await db.close()
            await the_hub.aclose()

    app = FastAPI(title="workbook dashboard", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    router = APIRouter(prefix=prefix)

    async def identify(token: str | None) -> Identity:
        if token is None:
            raise HTTPException(401, "send your hub API token: Authorization: token …", {"WWW-Authenticate": "token"})
        try:
            who = await the_hub.identify(token)
        except HubUnavailable as exc:
            raise HTTPException(503, str(exc)) from exc
        if who is None:
            raise HTTPException(403, "the hub does not know this token as a user's")
        return who

    async def poster(request: Request) -> Identity:
        return await identify(_token(request, cookie=False))

    async def instructor(request: Request) -> Identity:
        who = await identify(_token(request, cookie=True))
        if not who.may_view(settings.group):
            raise HTTPException(403, f"only hub admins and members of the group {settings.group!r} see this")
        return who

    async def snapshot() -> dict[str, Any]:
        return storage.summarize(await db.latest(), time.time(), await the_hub.learners(settings.group))

    @router.post("/api/results", status_code=201, response_model=Recorded)
    async def post_results(body: ResultsIn, who: Annotated[Identity, Depends(poster)]) -> Recorded:
        if unknown := sorted({r.exercise for r in body.results} - settings.exercises):
            raise HTTPException(422, f"unknown exercise id(s) {', '.join(unknown)}: not in this workbook's registry "
                                     "(checks/registry.toml)")  # fmt: skip
        items = [storage.Item(r.exercise, r.state, r.passed, r.total) for r in body.results]
        return Recorded(learner=who.name, recorded=await db.add(who.name, items))

    @router.get("/api/progress")
    async def progress(_: Annotated[Identity, Depends(instructor)]) -> dict[str, Any]:
        return await snapshot()

    @router.get("/api/export")
    async def export(_: Annotated[Identity, Depends(instructor)]) -> JSONResponse:
        data = {**await snapshot(), "history": await db.history()}
        return JSONResponse(data, headers={"Content-Disposition": 'attachment; filename="dashboard.json"'})

    @router.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "reports": await db.count(), "hub_lookups": the_hub.asked}

    @router.get("/", response_class=HTMLResponse)
    async def board(request: Request) -> Response:
        if _token(request, cookie=False) is None:  # a browser: our cookie, else the hub's OAuth
            cookie = request.cookies.get(COOKIE)
            if cookie is None or await _stale(cookie):
                return _login(the_hub, prefix)
        who = await instructor(request)
        return HTMLResponse(page.render(prefix + "/", who.name))

    async def _stale(token: str) -> bool:
        try:
            return await the_hub.identify(token) is None
        except HubUnavailable:
            return False

    @router.get("/oauth_callback")
    async def oauth_callback(request: Request, code: str = "", state: str = "") -> Response:
        expected, _, verifier = request.cookies.get(STATE_COOKIE, "").partition(".")
        if not code or not expected or not verifier or not secrets.compare_digest(state.encode(), expected.encode()):
            raise HTTPException(400, "OAuth state mismatch: open the dashboard again")
        try:
            token = await the_hub.exchange(code, verifier)
        except HubUnavailable as exc:
            raise HTTPException(503, str(exc)) from exc
        if token is None:
            raise HTTPException(403, "the hub refused the login")
        done = RedirectResponse(prefix + "/", status_code=302)
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        done.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=secure, path=prefix + "/")
        done.delete_cookie(STATE_COOKIE, path=prefix + "/")
        return done

    app.include_router(router)

    @app.get(prefix, include_in_schema=False)
    async def no_slash() -> RedirectResponse:
        return RedirectResponse(prefix + "/", status_code=302)

    return app


def _login(hub: Hub, prefix: str) -> Response:
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    go = RedirectResponse(hub.authorize_url(state, verifier), status_code=302)
    go.set_cookie(STATE_COOKIE, f"{state}.{verifier}", httponly=True, samesite="lax", max_age=600, path=prefix + "/")
    go.delete_cookie(COOKIE, path=prefix + "/")
    return go
