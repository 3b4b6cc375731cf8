"""Chapter 05 checks: rate limiting and its identity, domain errors, the catch-all 500 and the 422.

Every check draws fresh users, passwords, report names and client addresses, so rate-limit
quotas and users never collide between checks or runs. The limiter is graded by counting
requests inside a 30 s window, never by how long anything takes; each check uses only
routes that no other exercise's answer can break (valid inputs sit well inside every rule).

Rate-limit checks connect from a random loopback address 127.a.b.c (Linux routes all of
127.0.0.0/8 to this machine): each check gets a quota of its own, and — because uvicorn trusts
X-Forwarded-For only from 127.0.0.1 and ::1 (``forwarded_allow_ips``) — a forwarded header sent
from there is just a header the client chose, as it would be from any client on the internet.
05.2's checks first bring a client to its first 429, then try to escape with a trick: they hold
whatever number 05.1's limiter lets through, as long as it limits at all.
"""

from __future__ import annotations

import contextlib
import random
import string
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt

from workbook.testing import error_locs, expect, json_body, show, username

rng = random.Random()
LIMIT, WINDOW = 5, 30  # what build_app() gives RateLimiter for GET /search
CAP = 2 * LIMIT + 2  # requests sent at most while waiting for the first 429
LEAKS = ("Traceback", "ConnectionError", "postgresql", "db.internal", "reports:")


def token(k: int = 10) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=k))


def signup(name: str | None = None) -> dict[str, Any]:
    """A body every rule accepts, far from any limit (3–50 characters, 12+ for the password)."""
    return {"username": name or username(), "email": f"{token(6)}@{token(5)}.org", "password": token(20)}


@contextlib.contextmanager
def from_new_address(app: httpx.Client) -> Iterator[httpx.Client]:
    """A client whose connections come from a fresh loopback address: a client nobody has seen."""
    address = f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
    transport = httpx.HTTPTransport(local_address=address, verify=False)  # plain HTTP: no TLS context (~90 ms)
    with httpx.Client(base_url=app.base_url, timeout=app.timeout, transport=transport) as client:
        yield client


def search(client: httpx.Client, headers: dict[str, str] | None = None,
           params: dict[str, str] | None = None) -> httpx.Response:
    try:
        return client.get("/search", params={"q": token(4), **(params or {})}, headers=headers or {})
    except httpx.ConnectError as exc:  # macOS routes only 127.0.0.1 unless aliases are added
        expect(False, "a connection from a loopback address 127.a.b.c (these checks play several clients that "
               "way; on macOS add aliases: sudo ifconfig lo0 alias 127.0.0.2)", repr(exc))
        raise


def passes_before_429(send: Callable[[], httpx.Response], cap: int = CAP) -> int:
    """How many requests get a 200 before the first 429 (``cap`` if none is refused)."""
    for number in range(cap):
        response = send()
        if response.status_code == 429:
            return number
        expect(response.status_code == 200, "GET /search → 200 until the client reaches its limit, then 429",
               show(response))
    return cap


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
    with from_new_address(app) as client:
        for number in range(1, LIMIT + 1):
            response = search(client)
            expect(response.status_code == 200, f"request {number} of {LIMIT} from a new client → 200",
                   show(response))
        for number in (LIMIT + 1, LIMIT + 2):
            response = search(client)
            expect(response.status_code == 429, f"request {number} within {WINDOW} s → 429 Too Many Requests",
                   show(response))
            retry_after_of(response)


def test_other_clients_keep_their_own_quota(app: httpx.Client) -> None:
    with from_new_address(app) as first, from_new_address(app) as second:
        for number in range(1, LIMIT + 1):
            response = search(first)
            expect(response.status_code == 200,
                   f"request {number} of {LIMIT} from a new client → 200 (other clients' requests must not count)",
                   show(response))
        response = search(first)
        expect(response.status_code == 429, f"request {LIMIT + 1} of the first client → 429", show(response))
        for number in range(1, LIMIT + 1):
            response = search(second)
            expect(response.status_code == 200,
                   f"request {number} of another client → 200 while the first is limited (other clients' "
                   "requests must not count)", show(response))


# -- 05.2 whose quota ------------------------------------------------------------------
def new_user(app: httpx.Client) -> tuple[int, dict[str, Any]]:
    """A fresh user through the given routes: its id and its credentials for POST /token."""
    body = signup()
    response = app.post("/users", json=body)
    made = json_body(response)
    expect(response.status_code == 201 and isinstance(made, dict) and isinstance(made.get("id"), int),
           "POST /users with a new user → 201 (the given route)", show(response))
    return made["id"], {"username": body["username"], "password": body["password"]}


def log_in(app: httpx.Client, credentials: dict[str, Any]) -> str:
    response = app.post("/token", json=credentials)
    body = json_body(response)
    expect(response.status_code == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str),
           "POST /token with the user's password → 200 {\"access_token\": ...} (the given route)", show(response))
    return str(body["access_token"])


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def forged(sub: str) -> str:
    """A well-formed, unexpired token for ``sub`` — signed with a key that is not the app's."""
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 600}, token(40), algorithm="HS256")


def address() -> str:
    return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


# what a client can choose freely, each as (name shown to the learner, request headers, query parameters)
TRICKS: list[tuple[str, Callable[[], dict[str, str]], Callable[[], dict[str, str]]]] = [
    ("X-Client-Id header", lambda: {"X-Client-Id": token()}, dict),
    ("X-Api-Key header", lambda: {"X-Api-Key": token(24)}, dict),
    ("X-Forwarded-For header", lambda: {"X-Forwarded-For": address()}, dict),
    ("X-Real-IP header", lambda: {"X-Real-IP": address()}, dict),
    ("?client_id= query parameter", dict, lambda: {"client_id": token()}),
]


def test_anonymous_limit_ignores_what_the_client_claims(app: httpx.Client) -> None:
    with from_new_address(app) as client:
        plain = passes_before_429(lambda: search(client))
        expect(plain < CAP, f"an anonymous client is limited: a 429 within {CAP} requests (exercise 05.1)",
               f"{plain} requests from one address, all 200")
        for name, headers, params in TRICKS:
            response = search(client, headers(), params())
            expect(response.status_code == 429,
                   f"the anonymous client that reached its limit, with a fresh {name} added → still 429: "
                   "anonymous clients are keyed on the connection's address", show(response))


def test_user_quota_follows_the_verified_user(app: httpx.Client) -> None:
    _, credentials = new_user(app)
    first = log_in(app, credentials)
    with from_new_address(app) as client:
        plain = passes_before_429(lambda: search(client, bearer(first)))
        expect(plain < CAP, f"a logged-in user is limited: a 429 within {CAP} requests", f"{plain} requests, all 200")
        for name, headers, params in TRICKS:
            response = search(client, bearer(first) | headers(), params())
            expect(response.status_code == 429,
                   f"the user who reached the limit, with a fresh {name} added → still 429 (their quota is "
                   "theirs, whatever else the request says)", show(response))
        second = log_in(app, credentials)
        expect(second != first, "logging in again gives a new token (the given POST /token)", "the same token")
        response = search(client, bearer(second))
        expect(response.status_code == 429,
               "logging in again (a fresh token) does not reset the quota: key on the verified sub, "
               "not on the token string", show(response))
    with from_new_address(app) as elsewhere:
        response = search(elsewhere, bearer(first))
        expect(response.status_code == 429,
               "the same user from another address → still 429: a logged-in user's quota follows the user, "
               "not the address", show(response))


def test_forged_tokens_buy_nothing(app: httpx.Client) -> None:
    victim, credentials = new_user(app)
    victim_token = log_in(app, credentials)
    with from_new_address(app) as client, from_new_address(app) as attacker:
        before = search(client, bearer(victim_token)).status_code
        tries = LIMIT + 2
        through = sum(search(attacker, bearer(forged(str(rng.randint(10**6, 10**9))))).status_code == 200
                      for _ in range(tries))
        expect(through <= LIMIT + 1,
               f"{tries} requests with tokens signed by someone else (a new sub each) → refused (401), never "
               "a fresh quota per forged sub", f"{through} of {tries} got a 200")
        response = search(attacker, bearer(forged(str(victim))))
        expect(response.status_code == 401,
               "a token that the app did not sign → 401, not a user's quota", show(response))
        for _ in range(LIMIT):
            search(attacker, bearer(forged(str(victim))))
        after = search(client, bearer(victim_token))
    expect(after.status_code == before,
           f"forged tokens naming user {victim} do not spend that user's quota: their next request → "
           f"{before}, as before the attack", show(after))


# -- 05.3 domain errors ----------------------------------------------------------------
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


# -- 05.4 the catch-all -----------------------------------------------------------------
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


# -- 05.5 the validation handler -------------------------------------------------------
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
