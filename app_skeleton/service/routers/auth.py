"""POST /auth/token: a log-in that looks the same for an unknown user and a wrong password."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from app_skeleton.auth import DUMMY_HASH, create_access_token, verify_password

from ..dependencies import SessionDep, SettingsDep
from ..models import User
from ..schemas import Login, Token

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=Token, responses={401: {"description": "Wrong username or password"}})
async def login(body: Login, session: SessionDep, settings: SettingsDep) -> Token:
    user = await session.scalar(select(User).where(User.username == body.username))
    # Verify against a dummy hash when the user is unknown: same status, body and time.
    matches = verify_password(body.password, user.password_hash if user is not None else DUMMY_HASH)
    if user is None or not matches:
        raise HTTPException(
            status_code=401, detail="wrong username or password", headers={"WWW-Authenticate": "Bearer"}
        )
    token = create_access_token(user.id, settings.secret_key.get_secret_value(), settings.token_lifetime)
    return Token(access_token=token)
