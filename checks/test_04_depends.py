"""Chapter 04 checks: the session dependency and bearer-token auth of the User API, over HTTP.

Every check signs up fresh random users (POST /users, given) and logs in through POST /token
(given). The bad tokens are forged here with PyJWT and keys of our own: this process never
knows the app's key, exactly like an attacker. A valid token works even on the starter
(the article's header check and decode pass a good token), so no check needs another
exercise solved.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
from typing import Any

import httpx
import jwt

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
    victim = sign_up(app)
    response = app.delete(f"/users/{victim['id']}", headers=bearer(token))
    opened = response.headers.get("x-db-sessions")
    expect(response.status_code == 204 and opened == "1",
           "DELETE /users/{id} → 204 using one database session (X-DB-Sessions: 1) for get_current_user "
           "and the handler", f"{show(response)} (X-DB-Sessions: {opened})")


# -- 04.2 HTTPBearer -------------------------------------------------------------------------
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


# -- 04.4 delete ----------------------------------------------------------------------------
def test_delete_missing_user_is_404(app: httpx.Client) -> None:
    user, doomed = sign_up(app), sign_up(app)
    token = token_for(app, user)
    wanted = {"detail": "user not found"}
    for missing in (doomed["id"] + rng.randint(1000, 9999), rng.randint(10**9, 10**12)):
        response = app.delete(f"/users/{missing}", headers=bearer(token))
        expect(response.status_code == 404 and json_body(response) == wanted,
               f"DELETE /users/{missing} (no such user) → 404 {wanted}", show(response))
    response = app.delete(f"/users/{doomed['id']}", headers=bearer(token))
    expect(response.status_code == 204, f"DELETE /users/{doomed['id']} (an existing user) → 204", show(response))
    response = app.post("/token", json={"username": doomed["username"], "password": doomed["password"]})
    expect(response.status_code == 401,
           f"the deleted user {doomed['username']!r} can no longer log in (POST /token → 401)", show(response))
    response = app.delete(f"/users/{doomed['id']}", headers=bearer(token))
    expect(response.status_code == 404 and json_body(response) == wanted,
           f"DELETE /users/{doomed['id']} a second time → 404 {wanted}", show(response))
