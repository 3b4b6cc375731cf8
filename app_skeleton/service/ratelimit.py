"""Chapter 05's rate limiter, keyed on who the client *is* (a verified token), not what it claims.

The counts live in the worker process: with N gunicorn workers a client gets up to N × limit
per window. A shared store (Redis) is what makes one limit for the whole deployment.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request

from app_skeleton.auth import verify_jwt

from .errors import RateLimitExceeded
from .settings import Settings, get_settings


def client_key(request: Request, settings: Settings) -> str:
    """``user:<id>`` for a valid bearer token, else the connection's address; a bad token is a 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return f"ip:{request.client.host if request.client else 'unknown'}"
    # ✏️ Exercise 09.2 — TODO: key on the identity the token proves (its signature checked), not the one it claims
    ### BEGIN SOLUTION
    try:
        claims = verify_jwt(token, settings.secret_key.get_secret_value())
    except jwt.InvalidTokenError:
        raise HTTPException(status_code=401, detail="invalid token", headers={"WWW-Authenticate": "Bearer"}) from None
    ### END SOLUTION
    ### BEGIN STARTER
    # return f"ip:{request.client.host if request.client else 'unknown'}"  # one budget per address, whoever you are
    ### END STARTER
    return f"user:{claims['sub']}"


class RateLimiter:
    """A dependency: at most ``settings.rate_limit`` requests per ``rate_window`` seconds per client."""

    def __init__(self) -> None:
        self.hits: dict[str, deque[float]] = defaultdict(deque)

    async def __call__(self, request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> None:
        key = client_key(request, settings)
        now = time.monotonic()
        hits = self.hits[key]
        while hits and hits[0] <= now - settings.rate_window:
            hits.popleft()
        if len(hits) >= settings.rate_limit:
            raise RateLimitExceeded(retry_after=max(1, math.ceil(hits[0] + settings.rate_window - now)))
        hits.append(now)
