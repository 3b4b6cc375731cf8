"""Liveness (/health: the process answers) and readiness (/ready: it can do its work).

A load balancer sends traffic only to ready instances; an orchestrator restarts a dead one.
/ready touches the database (and reads the migration it is at) and, when configured, the
upstream service through the shared client. Neither route is rate limited or authenticated.
"""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..dependencies import HttpClient, SessionDep, SettingsDep
from ..schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    return Health(status="ok", pid=os.getpid())


@router.get("/ready", response_model=Ready, responses={503: {"model": Ready, "description": "Not ready"}})
async def ready(session: SessionDep, settings: SettingsDep, http: HttpClient) -> Ready | JSONResponse:
    # ✏️ Exercise 09.4 — TODO: ready only when the database answers and is migrated (a 503 otherwise)
    ### BEGIN SOLUTION
    try:
        revision = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except SQLAlchemyError:  # unreachable, or no migrations applied: alembic_version is missing
        body = Ready(status="unavailable", database="unreachable or not migrated", revision=None)
        return JSONResponse(status_code=503, content=body.model_dump())
    ### END SOLUTION
    ### BEGIN STARTER
    # revision = None  # not asked: the process answers, so it says it is ready
    ### END STARTER
    if settings.upstream_url:
        try:
            (await http.get(settings.upstream_url, timeout=2)).raise_for_status()
        except Exception:  # noqa: BLE001 - any failure of the upstream means "not ready"
            body = Ready(status="unavailable", database="ok", revision=revision)
            return JSONResponse(status_code=503, content=body.model_dump())
    return Ready(status="ok", database="ok", revision=revision)
