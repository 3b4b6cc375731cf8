"""Chapter 05 in one module: domain errors, the 429, and handlers that never leak internals."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Something the service refuses for a reason the client may know."""


class UsernameTaken(DomainError):
    pass


class RateLimitExceeded(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit exceeded, retry after {retry_after} s")
        self.retry_after = retry_after


STATUS_FOR: dict[type[DomainError], int] = {UsernameTaken: 409}


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    status = next((code for kind, code in STATUS_FOR.items() if isinstance(exc, kind)), 400)
    return JSONResponse(status_code=status, content={"detail": str(exc)})


async def rate_limit_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimitExceeded)
    return JSONResponse(
        status_code=429, content={"detail": "rate limit exceeded"}, headers={"Retry-After": str(exc.retry_after)}
    )


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """The 422 with each error's loc, msg and type — never the input (it may be a password)."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": errors})


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A JSON 500 with an id the client can quote; the traceback goes to the log only."""
    error_id = uuid.uuid4().hex
    logger.error("unhandled error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": "internal server error", "error_id": error_id})


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(RateLimitExceeded, rate_limit_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
