"""Chapter 04 checks: the session dependency, bearer-token auth and authorization of the User API.

Every check signs up fresh random users (POST /users, given) and logs in through POST /token
(its log-in logic is exercise 04.5; the starter's naive one still logs a right password in).
The bad tokens are forged here with PyJWT and keys of our own: this process never knows the
app's key, exactly like an attacker. A valid token works even on the starter (the article's
header check and decode pass a good token), so no check needs another exercise solved.
Checks marked ``independent`` run side by side in ``check()``; 04.1 reads X-DB-Sessions (the
sessions opened while its request ran, counted app-wide) and 04.5's timing must not share the
server, so those two run alone.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import statistics
import time
from typing import Any

import httpx
import jwt
import pytest

from workbook.testing import expect, json_body, show, username

rng = random.Random()
USER_FIELDS = {"id", "username", "email", "created_at"}


def sign_up(app: httpx.Client) -> dict[str, Any]:
    """A new user's JSON plus the password it was created with."""
    body = {"username": username(), "email": f"{username()}@example.org", "password": secrets.token_urlsafe(12)}
    response = app.post("/users", json=body)
    made = json_body(response)
    expect(response.status_code == 201 and isinstance(made, dict) and isinstance(made.get("id"), int),
           "POST /users (the given sign-up route) with a new username → 201 and an id", show(response))
    return {**made, "password": body["password"]}


def token_for(app: httpx.Client, user: dict[str, Any], **extra: Any) -> str:
    response = app.post("/token", json={"username": user["username"], "password": user["password"], **extra})
    got = json_body(response)
    expect(response.status_code == 200 and isinstance(got, dict) and isinstance(got.get("access_token"), str),
           f"POST /token (the given log-in route) for {user['username']!r} → 200 and an access_token", show(response))
    return str(got["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def challenges(response: httpx.Response) -> bool:
    """401 with a WWW-Authenticate header naming the Bearer scheme."""
    return response.status_code == 401 and "bearer" in response.headers.get("www-authenticate", "").lower()


def me(app: httpx.Client, token: str) -> httpx.Response:
    return app.get("/me", headers=bearer(token))


# -- 04.1 get_db: one session, committed before the response -----------------------------
# Not independent: X-DB-Sessions counts every session the app opens while the request runs, so a
# neighbour's request would be counted too (tried: 8 of 24 chapter-04 proofs failed with 2 or 3).
def test_taken_username_is_409_and_nothing_changes(app: httpx.Client) -> None:
    first, second = sign_up(app), sign_up(app)
    response = app.post("/users", json={"username": first["username"], "email": f"{username()}@example.org",
                                        "password": secrets.token_urlsafe(12)})
    expect(response.status_code == 409, f"POST /users with the taken username {first['username']!r} → 409",
           show(response))
    token = token_for(app, second)
    response = app.patch("/me", headers=bearer(token), json={"username": first["username"]})
    expect(response.status_code == 409,
           f"PATCH /me renaming {second['username']!r} to the taken {first['username']!r} → 409 "
           "(get_db's commit must run, and fail, before the response is sent)", show(response))
    for user in (first, second):
        response = me(app, token_for(app, user))
        got = json_body(response)
        expect(response.status_code == 200 and got.get("username") == user["username"],
               f"GET /me still shows {user['username']!r} (nothing changed)", show(response))
    fresh = username()
    response = app.patch("/me", headers=bearer(token), json={"username": fresh})
    expect(response.status_code == 200 and json_body(response).get("username") == fresh,
           f"PATCH /me to the free name {fresh!r} → 200 with that name", show(response))
    response = me(app, token)
    expect(response.status_code == 200 and json_body(response).get("username") == fresh,
           f"the very next GET /me shows {fresh!r} (stored before the 200 was sent)", show(response))
    response = app.delete(f"/users/{second['id']}", headers=bearer(token))
    opened = response.headers.get("x-db-sessions")
    expect(response.status_code == 204 and opened == "1",
           "DELETE /users/{id} of your own account → 204 using one database session (X-DB-Sessions: 1) for "
           "get_current_user and the handler", f"{show(response)} (X-DB-Sessions: {opened})")


# -- 04.2 HTTPBearer -------------------------------------------------------------------------
@pytest.mark.independent
def test_missing_token_is_401_with_bearer_challenge(app: httpx.Client) -> None:
    user = sign_up(app)
    basic = "Basic " + base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
    requests = [("GET", "/me", None), ("PATCH", "/me", {"username": username()}),
                ("DELETE", f"/users/{user['id']}", None)]
    for method, path, body in requests:
        for headers in ({}, {"Authorization": basic}):
            response = app.request(method, path, headers=headers, json=body)
            what = "no Authorization header" if not headers else "a Basic (not Bearer) Authorization header"
            expect(challenges(response), f"{method} {path} with {what} → 401 with WWW-Authenticate: Bearer",
                   f"{show(response)} (WWW-Authenticate: {response.headers.get('www-authenticate')})")
    response = me(app, token_for(app, user))
    expect(response.status_code == 200, "GET /me with a valid token still → 200", show(response))


@pytest.mark.independent
def test_openapi_declares_bearer_scheme(app: httpx.Client) -> None:
    response = app.get("/openapi.json")
    expect(response.status_code == 200, "GET /openapi.json → 200", show(response))
    spec = json_body(response)
    schemes = spec.get("components", {}).get("securitySchemes", {})
    names = [key for key, value in schemes.items()
             if value.get("type") == "http" and str(value.get("scheme", "")).lower() == "bearer"]
    expect(names, "a security scheme of type 'http' and scheme 'bearer' in /openapi.json",
           f"securitySchemes {schemes}")
    operation = spec.get("paths", {}).get("/me", {}).get("get", {})
    required = [key for requirement in operation.get("security", []) for key in requirement]
    expect(set(required) & set(names), f"GET /me lists {names[0]!r} under security",
           f"security {operation.get('security')}")


# -- 04.3 tokens ----------------------------------------------------------------------------
def with_claims(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


@pytest.mark.independent
def test_bad_tokens_are_401_never_500(app: httpx.Client) -> None:
    user, other = sign_up(app), sign_up(app)
    token = token_for(app, user)
    response = me(app, token)
    got = json_body(response)
    expect(response.status_code == 200 and isinstance(got, dict) and got.get("id") == user["id"]
           and got.get("username") == user["username"],
           f"GET /me with {user['username']!r}'s valid token → 200 with that user", show(response))
    expect(set(got) == USER_FIELDS, f"GET /me sends exactly {sorted(USER_FIELDS)} (no password hash)",
           f"fields {sorted(got)}")
    now = int(time.time())
    claims = {"sub": str(user["id"]), "iat": now, "exp": now + 600}
    forged = {
        "a garbage": rng.choice(["garbage", "a.b.c", secrets.token_urlsafe(24)]),
        "another key's": jwt.encode(claims, secrets.token_hex(32), algorithm="HS256"),
        'an alg "none"': jwt.encode(claims, None, algorithm="none"),
        "an edited-payload": with_claims(token, {**claims, "sub": str(other["id"])}),
        "an expired (expires_in=0)": token_for(app, user, expires_in=0),
    }
    for label, bad in forged.items():
        response = me(app, bad)
        expect(challenges(response), f"GET /me with {label} token → 401 with WWW-Authenticate: Bearer",
               f"{show(response)} (WWW-Authenticate: {response.headers.get('www-authenticate')})")


# -- 04.4 only the owner deletes ------------------------------------------------------------
def can_log_in(app: httpx.Client, user: dict[str, Any]) -> bool:
    """Is the account still there? Its owner's password still gets a token."""
    response = app.post("/token", json={"username": user["username"], "password": user["password"]})
    return response.status_code == 200


@pytest.mark.independent
def test_only_the_owner_deletes_an_account(app: httpx.Client) -> None:
    mallory, victim = sign_up(app), sign_up(app)
    token, vid = token_for(app, mallory), victim["id"]
    who = f"{mallory['username']!r} (logged in)"
    other = app.delete(f"/users/{vid}", headers=bearer(token))
    expect(other.status_code == 403, f"{who} DELETE /users/{vid}, someone else's account → 403", show(other))
    expect(can_log_in(app, victim), f"after that 403, {victim['username']!r} still exists and logs in "
           "(refuse before deleting, not after)", f"POST /token for {victim['username']!r} → not 200")
    claims = {"owner_id": vid, "user_id": vid, "id": vid, "sub": str(vid), "user": vid}
    response = app.request("DELETE", f"/users/{vid}", params=claims, json=claims,
                           headers={**bearer(token), "X-User-Id": str(vid), "X-User": str(vid)})
    expect(response.status_code == 403 and can_log_in(app, victim),
           f"{who} DELETE /users/{vid} claiming to be its owner (victim's id in query, body and X-User-Id) → 403 "
           "and the row survives: the owner is the verified token's subject, never a value the client sends",
           show(response))
    now = int(time.time())
    forged = with_claims(token, {"sub": str(vid), "iat": now, "exp": now + 600})
    if not me(app, forged).is_success:  # get_current_user refuses it (else 04.3 is at fault, not this route)
        response = app.delete(f"/users/{vid}", headers=bearer(forged))
        expect(not response.is_success and can_log_in(app, victim),
               f"DELETE /users/{vid} with {mallory['username']!r}'s token edited to say sub={vid} is refused and "
               "the row survives (identity comes from a token whose signature was checked)", show(response))
    missing = app.delete(f"/users/{vid + rng.randint(1000, 9999)}", headers=bearer(token))
    expect((missing.status_code, missing.text) == (other.status_code, other.text),
           f"DELETE of an id that does not exist answers exactly like DELETE of someone else's ({show(other)}), "
           "so a stranger cannot tell which ids exist", show(missing))
    response = app.delete(f"/users/{mallory['id']}", headers=bearer(token))
    expect(response.status_code == 204, f"{who} DELETE /users/{mallory['id']}, their own account → 204",
           show(response))
    expect(not can_log_in(app, mallory), f"{mallory['username']!r} can no longer log in after deleting the account",
           f"POST /token for {mallory['username']!r} → 200")
    response = me(app, token)
    expect(response.status_code == 401, "GET /me with the deleted user's old token → 401", show(response))


# -- 04.5 log-in does not reveal which usernames exist ------------------------------------------
@pytest.mark.independent
def test_login_failures_look_the_same(app: httpx.Client) -> None:
    user = sign_up(app)
    wrong = app.post("/token", json={"username": user["username"], "password": user["password"] + "x"})
    unknown = app.post("/token", json={"username": username(), "password": user["password"]})
    expect(wrong.status_code == 401, f"POST /token for {user['username']!r} with a wrong password → 401", show(wrong))

    def seen(response: httpx.Response) -> tuple[int, str, str | None]:
        return response.status_code, response.text, response.headers.get("www-authenticate")

    expect(seen(unknown) == seen(wrong),
           f"POST /token for an unknown username answers exactly like a wrong password ({show(wrong)}): "
           "same status, body and WWW-Authenticate", show(unknown))
    token_for(app, user)  # and the right password still logs in


def _login_times(app: httpx.Client, bodies: dict[str, dict[str, str]]) -> dict[str, float]:
    """One round: each kind of POST /token once, in random order, in milliseconds."""
    times = {}
    for kind in rng.sample(list(bodies), len(bodies)):
        start = time.perf_counter()
        app.post("/token", json=bodies[kind])
        times[kind] = (time.perf_counter() - start) * 1000
    return times


def test_login_takes_as_long_for_unknown_users(app: httpx.Client) -> None:
    """Paired rounds cancel the machine's load drifting; medians ignore its spikes.

    Per round: gap = wrong password − unknown user, cost = wrong password − no hash at all (a 422).
    A log-in that skips the hash has gap ≈ cost (ratio ≈ 1); a fixed one has gap ≈ 0; one that hashes
    twice for unknown users has ratio ≈ −1. Rounds continue (up to 90) until the ratio is clearly one side;
    the verdict splits at 0.5, halfway between fixed and broken. Fewer rounds were tried and refused: on a
    loaded 2-core machine 6 rounds failed the solution and 10 rounds passed the starter (3 of 20;
    benchmarks/repeat_timing_checks.py); a split at 0.4 failed the solution once in CI (ratio −0.41
    after 60 rounds, next to a chapter 09 run).
    """
    user = sign_up(app)
    bodies = {
        "wrong": {"username": user["username"], "password": user["password"] + "x"},
        "unknown": {"username": username(), "password": user["password"]},
        "none": {"username": user["username"]},  # 422 before the handler: the cost of a request alone
    }
    gaps: list[float] = []
    costs: list[float] = []
    ratio = 0.0
    for round_ in range(1, 91):
        times = _login_times(app, bodies)
        gaps.append(times["wrong"] - times["unknown"])
        costs.append(times["wrong"] - times["none"])
        if round_ % 15:
            continue
        cost = statistics.median(costs)
        ratio = statistics.median(gaps) / cost if cost > 0.5 else 0.0  # a hash too cheap to see: no verdict
        if abs(ratio) < 0.25 or abs(ratio) > 0.75:
            break
    expect(abs(ratio) < 0.5,
           "POST /token for an unknown username takes as long as a wrong password: verify against DUMMY_HASH "
           "when there is no such user",
           f"over {len(gaps)} paired tries, a wrong password took {statistics.median(gaps):+.1f} ms longer than "
           f"an unknown username (median), where one password check costs {statistics.median(costs):.1f} ms")
