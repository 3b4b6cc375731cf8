"""What goes over the wire. Every route names its response model, so no row field leaks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, EmailStr, Field

Username = Annotated[str, Field(min_length=3, max_length=50, pattern=r"^[a-z0-9_]+$")]


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for a timezone column; they were stored as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Signup(BaseModel):
    username: Username
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    display_name: str | None = Field(default=None, min_length=1, max_length=100)


class Login(BaseModel):
    username: str = Field(max_length=50)
    password: str = Field(max_length=128)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class UserOut(BaseModel):
    """A user as its owner sees it: no password hash, ever."""

    id: int
    username: str
    email: str
    display_name: str
    created_at: Annotated[datetime, AfterValidator(_aware)]


class Health(BaseModel):
    status: str
    pid: int


class Ready(BaseModel):
    status: str
    database: str
    revision: str | None
