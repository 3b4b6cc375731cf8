"""Chapter 01 checks: the learner's models, graded through POST /users over HTTP.

Inputs are drawn fresh on every run, so an app that hard-codes answers fails.
"""

from __future__ import annotations

import random
from datetime import datetime

import httpx

from workbook.testing import error_locs, expect, json_body, username, word
from workbook.testing import show as _show

rng = random.Random()


def body(**overrides: object) -> dict[str, object]:
    # age goes as a numeric string: valid whether Age is still str (the starter) or int.
    # It stays clear of the bounds 18 and 120, so a wrong boundary in exercise 01.3 fails
    # only 01.3's own checks, never the checks of the exercises that just need a valid user.
    email = f"{word(8)}{rng.randint(1, 99)}@{word()}.org"
    base = {"username": username(), "email": email, "age": str(rng.randint(19, 119))}
    return {**base, **overrides}


def show(response: httpx.Response) -> str:
    """What the app answered. A 500 means validation accepted the input and the handler then
    failed in UserResponse.model_validate(row) — exercise 01.1 — so say both."""
    note = " (so the input passed validation; the 500 itself comes from UserResponse, exercise 01.1)"
    return _show(response) + (note if response.status_code == 500 else "")


def field_error(response: httpx.Response, field: str) -> bool:
    return response.status_code == 422 and ("body", field) in error_locs(response)


def created(client: httpx.Client, path: str = "/users", **overrides: object) -> tuple[dict, dict]:
    """POST a valid user; return (what was sent, the JSON that came back)."""
    sent = body(**overrides)
    response = client.post(path, json=sent)
    expect(
        response.status_code == 201,
        f"201 Created for a valid user {sent}",
        show(response),
    )
    return sent, json_body(response)


# -- 01.1 UserResponse -----------------------------------------------------------
def test_created_user_comes_back_as_user_response(app: httpx.Client) -> None:
    ids = []
    for _ in range(3):
        sent, got = created(app)
        for key in ("username", "email"):
            expect(got.get(key) == sent[key], f"{key} = {sent[key]!r}", f"{key} = {got.get(key)!r}")
        expect(isinstance(got.get("id"), int), "an integer id", f"id = {got.get('id')!r}")
        try:
            datetime.fromisoformat(str(got.get("created_at")))
        except ValueError:
            expect(False, "created_at as an ISO 8601 date-time", f"created_at = {got.get('created_at')!r}")
        ids.append(got["id"])
    expect(len(set(ids)) == 3, "a different id for each new user", f"ids {ids}")


def test_response_exposes_only_declared_fields(app: httpx.Client) -> None:
    _, got = created(app)
    wanted = {"id", "username", "email", "created_at"}
    expect(set(got) == wanted, f"exactly the fields {sorted(wanted)}", f"fields {sorted(got)}")


# -- 01.2 Username -----------------------------------------------------------------
def _judge_usernames(app: httpx.Client, bad: list[str], good: list[str]) -> None:
    for value in bad:
        response = app.post("/users", json=body(username=value))
        expect(field_error(response, "username"), f"422 on username for {value!r}", show(response))
    for value in good:
        response = app.post("/users", json=body(username=value))
        expect(not field_error(response, "username"), f"username {value!r} accepted", show(response))


def test_username_length_rules(app: httpx.Client) -> None:
    _judge_usernames(
        app,
        bad=[username(2), username(1), username(51), username(rng.randint(52, 80))],
        good=[username(3), username(50), username(rng.randint(4, 49))],
    )


def test_username_character_rules(app: httpx.Client) -> None:
    stem = username(6)
    _judge_usernames(
        app,
        bad=[stem.capitalize(), f"{stem} {username(3)}", f"{stem}-{username(3)}", f"{stem}!", f"{stem}é"],
        good=[f"{stem}_{rng.randint(0, 999)}", f"{rng.randint(100, 999)}{stem}", f"_{stem}_"],
    )


# -- 01.3 Age -----------------------------------------------------------------------
def test_age_range_rules(app: httpx.Client) -> None:
    for value in (17, rng.randint(-50, 16), 121, rng.randint(122, 500)):
        response = app.post("/users", json=body(age=value))
        expect(field_error(response, "age"), f"422 on age for age={value}", show(response))
    for value in (18, 120, rng.randint(19, 119)):
        response = app.post("/users", json=body(age=value))
        expect(not field_error(response, "age"), f"age={value} accepted", show(response))


def test_age_coercion(app: httpx.Client) -> None:
    word = rng.choice(["abc", "thirty", "30 years", "3O"])
    response = app.post("/users", json=body(age=word))
    types = [d.get("type") for d in json_body(response).get("detail", [])] if response.status_code == 422 else []
    expect(field_error(response, "age") and "int_parsing" in types,
           f"422 of type int_parsing on age for age={word!r}", show(response))
    text = str(rng.randint(19, 119))
    response = app.post("/users", json=body(age=text))
    expect(not field_error(response, "age"), f"age={text!r} (a numeric string) accepted", show(response))


# -- 01.4 the article's e-mail check ------------------------------------------------
def test_email_without_at_is_422_with_message(app: httpx.Client) -> None:
    for value in (username(), f"{username()}.{username(3)}.com", username(4) + " at " + username(4)):
        response = app.post("/users", json=body(email=value))
        messages = " ".join(str(d.get("msg")) for d in json_body(response).get("detail", [])) \
            if response.status_code == 422 else ""
        expect(field_error(response, "email") and "invalid email address" in messages,
               f"422 on email with 'invalid email address' for {value!r}", show(response))


def test_email_is_stored_lower_case(app: httpx.Client) -> None:
    local, domain = word(7), word(6)
    mixed = f"{local.upper()}@{domain.capitalize()}.ORG"
    _, got = created(app, email=mixed)
    wanted = mixed.lower()
    expect(got.get("email") == wanted, f"email = {wanted!r}", f"email = {got.get('email')!r}")


# -- 01.5 EmailStr on /v2/users ------------------------------------------------------
def test_v2_rejects_addresses_the_at_check_lets_through(app: httpx.Client) -> None:
    for value in ("@", f"{word()}@", f"{word()}@{word()}", f"@{word()}.com"):
        response = app.post("/v2/users", json=body(email=value))
        expect(field_error(response, "email"), f"POST /v2/users: 422 on email for {value!r}", show(response))


def test_v2_accepts_and_lowercases_real_addresses(app: httpx.Client) -> None:
    mixed = f"{word(6).capitalize()}.{word(4).upper()}@{word(5).capitalize()}.Example.COM"
    _, got = created(app, "/v2/users", email=mixed)
    wanted = mixed.lower()
    expect(got.get("email") == wanted, f"email = {wanted!r}", f"email = {got.get('email')!r}")
