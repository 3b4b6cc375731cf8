"""The dependencies routes declare, as ``Annotated`` aliases (chapter 04).

``CurrentUser`` is the user the *verified* token names. No token is a 401 with
``WWW-Authenticate: Bearer`` (HTTPBearer with ``auto_error=False``, not its 403/422); an invalid,
expired or forged token, or one naming a deleted user, is the same 401.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app_skeleton.auth import verify_jwt
from app_skeleton.mail import EmailClient

from .database import get_session
from .models import User
from .settings import Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
bearer = HTTPBearer(auto_error=False)

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "Missing, invalid or expired token"}}


def _unauthorized() -> HTTPException:
    return HTTPException(status_code=401, detail="not authenticated", headers={"WWW-Authenticate": "Bearer"})


async def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None:
        raise _unauthorized()
    try:
        claims = verify_jwt(credentials.credentials, settings.secret_key.get_secret_value())
        user_id = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError):
        raise _unauthorized() from None
    user = await session.get(User, user_id)
    if user is None:
        raise _unauthorized()
    return user


def get_http_client(request: Request) -> httpx.AsyncClient:
    """The one ``httpx.AsyncClient`` of this process (chapter 03): pooled connections, opened by the lifespan."""
    client: httpx.AsyncClient = request.app.state.http
    return client


def get_email_client(request: Request) -> EmailClient:
    client: EmailClient = request.app.state.email
    return client


CurrentUser = Annotated[User, Depends(get_current_user)]
HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]
Mailer = Annotated[EmailClient, Depends(get_email_client)]
