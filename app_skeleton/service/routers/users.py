"""/users: sign-up (with chapter 06's welcome e-mail, exercise 09.5), and the owner rule on every other route.

The owner is the user the verified token names. Another user's id — existing or not — is a 403,
so the answer does not tell which ids exist.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Response
from sqlalchemy.exc import IntegrityError

from app_skeleton.auth import hash_password
from app_skeleton.mail import EmailClient

from ..dependencies import UNAUTHORIZED, CurrentUser, Mailer, SessionDep
from ..errors import UsernameTaken
from ..models import User
from ..schemas import Signup, UserOut

router = APIRouter(prefix="/users", tags=["users"])
logger = logging.getLogger(__name__)
FORBIDDEN: dict[int | str, dict[str, Any]] = {403: {"description": "Not your account"}}


async def send_welcome_email(mailer: EmailClient, to: str, username: str) -> None:
    """Runs after the 201 is sent; a refused address or a mail server that is down is logged, not raised."""
    try:
        await mailer.send(to=to, subject="Welcome!", body=f"Hello {username}, welcome to the User API.")
    except (smtplib.SMTPException, OSError):
        logger.exception("welcome e-mail to %s failed", to)


@router.post("", response_model=UserOut, status_code=201, responses={409: {"description": "Username taken"}})
async def signup(body: Signup, session: SessionDep, mailer: Mailer, background_tasks: BackgroundTasks) -> User:
    user = User(
        username=body.username,
        email=body.email.lower(),
        password_hash=hash_password(body.password),
        display_name=body.display_name or body.username,
    )
    session.add(user)
    # ✏️ Exercise 09.5 — TODO: the welcome e-mail: only once the user is committed, and the 201 never waits for SMTP
    ### BEGIN SOLUTION
    try:
        await session.commit()  # before the response: the client may log in right away
    except IntegrityError:
        raise UsernameTaken("username already taken") from None  # a taken name gets no welcome e-mail
    background_tasks.add_task(send_welcome_email, mailer, user.email, user.username)  # runs after the 201 is sent
    ### END SOLUTION
    ### BEGIN STARTER
    # try:
    #     await session.commit()
    # except IntegrityError:
    #     raise UsernameTaken("username already taken") from None
    # # no welcome e-mail yet: send_welcome_email exists, nothing calls it
    ### END STARTER
    return user


@router.get("/me", response_model=UserOut, responses=UNAUTHORIZED)
async def me(user: CurrentUser) -> User:
    return user


async def owned_user(user_id: int, user: CurrentUser, session: SessionDep) -> User:
    """The account at ``/users/{user_id}``, if the verified caller may touch it."""
    # ✏️ Exercise 09.1 — TODO: the owner rule: only the token's own user; any other id (taken or not) is a 403
    ### BEGIN SOLUTION
    if user_id != user.id:  # before any lookup: a missing id and another user's id answer alike
        raise HTTPException(status_code=403, detail="not your account")
    return user
    ### END SOLUTION
    ### BEGIN STARTER
    # found = await session.get(User, user_id)
    # if found is None:
    #     raise HTTPException(status_code=404, detail="no such user")
    # return found
    ### END STARTER


Owned = Annotated[User, Depends(owned_user)]


@router.get("/{user_id}", response_model=UserOut, responses={**UNAUTHORIZED, **FORBIDDEN})
async def get_user(user: Owned) -> User:
    return user


@router.delete("/{user_id}", status_code=204, responses={**UNAUTHORIZED, **FORBIDDEN})
async def delete_user(user: Owned, session: SessionDep) -> Response:
    await session.delete(user)
    await session.commit()
    return Response(status_code=204)
