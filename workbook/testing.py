"""Helpers for check modules: a failure that says what was expected and what was seen.

Checks use these instead of bare ``assert`` so the learner reads two plain lines,
never a pytest traceback.
"""

from __future__ import annotations

import random
import string
from typing import Any

import httpx


class Mismatch(AssertionError):
    """The app answered, but not as the behaviour requires."""

    def __init__(self, expected: str, observed: str) -> None:
        super().__init__(f"expected: {expected}\nobserved: {observed}")
        self.expected = expected
        self.observed = observed


def show(response: httpx.Response, limit: int = 300) -> str:
    """One line a learner can read: request, status and the start of the body."""
    body = response.text.replace("\n", " ")
    if len(body) > limit:
        body = body[:limit] + "…"
    request = response.request
    return f"{request.method} {request.url.path} → {response.status_code} {body}"


def expect(condition: Any, expected: str, observed: str) -> None:
    if not condition:
        raise Mismatch(expected, observed)


def expect_status(response: httpx.Response, status: int, expected: str | None = None) -> None:
    expect(response.status_code == status, expected or f"status {status}", show(response))


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise Mismatch("a JSON body", show(response)) from None


def error_locs(response: httpx.Response) -> list[tuple[Any, ...]]:
    """The ``loc`` of every entry of a FastAPI 422 body (empty if it is not one)."""
    body = json_body(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, list):
        return []
    return [tuple(item.get("loc", ())) for item in detail if isinstance(item, dict)]


_rng = random.Random()
USERNAME_CHARS = string.ascii_lowercase + string.digits + "_"


def username(length: int | None = None) -> str:
    """A fresh username: a letter, then a-z, 0-9 and _. Without ``length``, 6–12 characters —
    well inside every chapter's 3–50 rule, so it never sits on a boundary a wrong answer misjudges.
    Drawn anew on each call, so an app that hard-codes its answers fails."""
    length = length or _rng.randint(6, 12)
    return _rng.choice(string.ascii_lowercase) + "".join(_rng.choices(USERNAME_CHARS, k=length - 1))


def word(length: int = 6) -> str:
    """Lower-case letters only: safe in every part of an e-mail address, a path or a file name."""
    return "".join(_rng.choices(string.ascii_lowercase, k=length))
