"""Helpers for check modules: a failure that says what was expected and what was seen.

Checks use these instead of bare ``assert`` so the learner reads two plain lines,
never a pytest traceback.
"""

from __future__ import annotations

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
