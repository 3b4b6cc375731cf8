"""Chapter 05 checks: rate limiting, domain errors, the catch-all 500 and the 422, over HTTP.

Every check draws fresh client ids, user names, report names and passwords, so rate-limit
quotas and users never collide between checks or runs. The limiter is graded by counting
requests inside a 30 s window, never by how long anything takes; each check uses only
routes that no other exercise's answer can break (valid inputs sit well inside every rule).
"""

from __future__ import annotations

import random
import string
from typing import Any

import httpx

from workbook.testing import error_locs, expect, json_body, show, username

rng = random.Random()
LIMIT, WINDOW = 5, 30  # what build_app() gives RateLimiter for GET /search
LEAKS = ("Traceback", "ConnectionError", "postgresql", "db.internal", "reports:")


def token(k: int = 10) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=k))


def signup(name: str | None = None) -> dict[str, Any]:
    """A body every rule accepts, far from any limit (3–50 characters, 12+ for the password)."""
    return {"username": name or username(), "email": f"{token(6)}@{token(5)}.org", "password": token(20)}


def search(app: httpx.Client, client_id: str) -> httpx.Response:
    return app.get("/search", params={"q": token(4)}, headers={"X-Client-Id": client_id})


def retry_after_of(response: httpx.Response) -> int:
    """The 429's Retry-After header, which must be a whole number of seconds matching the JSON."""
    header = response.headers.get("retry-after")
    expect(header is not None and header.isdigit() and 1 <= int(header) <= WINDOW,
           f"a Retry-After header with a whole number of seconds from 1 to {WINDOW}",
           f"Retry-After: {header!r} ({show(response)})")
    body = json_body(response)
    expect(isinstance(body, dict) and body.get("retry_after") == int(str(header))
           and body.get("detail") == "rate limit exceeded",
           f"the body {{'detail': 'rate limit exceeded', 'retry_after': {header}}} (the same number as the header)",
           show(response))
    return int(str(header))


# -- 05.1 the rate limiter -------------------------------------------------------------
def test_limit_allows_n_requests_then_429(app: httpx.Client) -> None:
    client = f"client-{token()}"
    for number in range(1, LIMIT + 1):
        response = search(app, client)
        expect(response.status_code == 200, f"request {number} of {LIMIT} from a new client → 200", show(response))
    for number in (LIMIT + 1, LIMIT + 2):
        response = search(app, client)
        expect(response.status_code == 429, f"request {number} within {WINDOW} s → 429 Too Many Requests",
               show(response))
        retry_after_of(response)


def test_other_clients_keep_their_own_quota(app: httpx.Client) -> None:
    first, second = f"client-{token()}", f"client-{token()}"
    for number in range(1, LIMIT + 1):
        response = search(app, first)
        expect(response.status_code == 200,
               f"request {number} of {LIMIT} from a new client → 200 (other clients' requests must not count)",
               show(response))
    response = search(app, first)
    expect(response.status_code == 429, f"request {LIMIT + 1} of client {first} → 429", show(response))
    for number in range(1, LIMIT + 1):
        response = search(app, second)
        expect(response.status_code == 200,
               f"request {number} of another client → 200 while {first} is limited (other clients' requests "
               "must not count)", show(response))


# -- 05.2 domain errors ----------------------------------------------------------------
def test_unknown_user_is_404_with_message(app: httpx.Client) -> None:
    user_id = rng.randint(10**6, 10**12)
    response = app.get(f"/users/{user_id}")
    wanted = {"detail": f"user {user_id} not found"}
    expect(response.status_code == 404 and json_body(response) == wanted,
           f"GET /users/{user_id} → 404 {wanted} (UserNotFound)", show(response))


def test_taken_username_is_409_with_message(app: httpx.Client) -> None:
    name = username()
    response = app.post("/users", json=signup(name))
    made = json_body(response)
    expect(response.status_code == 201 and isinstance(made, dict) and made.get("username") == name,
           f"POST /users with the new username {name!r} → 201 (the given route)", show(response))
    response = app.get(f"/users/{made['id']}")
    expect(response.status_code == 200, f"GET /users/{made['id']} of the new user → 200", show(response))
    response = app.post("/users", json=signup(name))
    wanted = {"detail": f"username {name!r} is taken"}
    expect(response.status_code == 409 and json_body(response) == wanted,
           f"POST /users with {name!r} again → 409 {wanted} (UsernameTaken)", show(response))


# -- 05.3 the catch-all -----------------------------------------------------------------
def report(app: httpx.Client, name: str) -> tuple[httpx.Response, Any]:
    response = app.get(f"/reports/{name}")
    expect(response.status_code == 500, f"GET /reports/{name} (a route with a bug) → 500", show(response))
    try:
        body = response.json()
    except ValueError:
        body = None
    return response, body


def test_unexpected_error_is_json_500_with_an_error_id(app: httpx.Client) -> None:
    before = app.get("/ping")
    expect(before.status_code == 200, "GET /ping → 200", show(before))
    ids = []
    for _ in range(3):
        response, body = report(app, f"q{rng.randint(1, 4)}-{token(6)}")
        error_id = body.get("error_id") if isinstance(body, dict) else None
        expect(isinstance(error_id, str) and len(error_id) >= 8,
               "a JSON body with an \"error_id\" string (8+ characters) a user can quote", show(response))
        ids.append(error_id)
    expect(len(set(ids)) == len(ids), "a new error_id for each error (three errors, three ids)", f"ids {ids}")
    after = app.get("/ping")
    expect(after.status_code == 200 and json_body(after) == json_body(before),
           f"GET /ping still answers from the same process after the errors: {before.text}", show(after))


def test_unexpected_error_leaks_nothing(app: httpx.Client) -> None:
    name = f"r-{token(12)}"
    response, body = report(app, name)
    text = response.text
    found = [word for word in (name, *LEAKS) if word in text]
    expect(not found, "no exception type, message, traceback or connection string in the 500's body",
           f"{found} in {show(response)}")
    expect(isinstance(body, dict), "a JSON body", show(response))


# -- 05.4 the validation handler -------------------------------------------------------
def test_422_keeps_loc_msg_type_without_echoing_input(app: httpx.Client) -> None:
    password = token(rng.randint(6, 9))  # too short: 12 characters are required
    bad_name = username().upper() + "!"
    response = app.post("/users", json={"username": bad_name, "email": f"{token(6)}@{token(5)}.org",
                                        "password": password})
    expect(response.status_code == 422, "POST /users with an invalid username and password → 422", show(response))
    detail = json_body(response).get("detail") if isinstance(json_body(response), dict) else None
    expect(isinstance(detail, list) and all(isinstance(e, dict) for e in detail),
           "{\"detail\": [ ...one entry per error... ]}, FastAPI's shape", show(response))
    locs = error_locs(response)
    expect({("body", "username"), ("body", "password")} <= set(locs),
           "one entry for body.username and one for body.password (every error, with its loc)", show(response))
    incomplete = [e for e in detail if not (e.get("msg") and e.get("type"))]
    expect(not incomplete, "each entry keeps its msg and type", f"{incomplete}")
    echoed = [word for word in (password, bad_name) if word in response.text]
    expect(not echoed and not any("input" in e for e in detail),
           "no \"input\": the submitted values (here the password) are not sent back", show(response))
    body = signup()
    del body["email"]
    response = app.post("/users", json=body)
    entries = [e for e in (json_body(response).get("detail") or []) if isinstance(e, dict)] \
        if isinstance(json_body(response), dict) else []
    expect(response.status_code == 422 and any(tuple(e.get("loc", ())) == ("body", "email")
                                               and e.get("type") == "missing" for e in entries),
           "a missing email → 422 with loc ['body', 'email'] and type 'missing'", show(response))
    expect(body["password"] not in response.text, "no \"input\" echoed for a missing field either", show(response))
