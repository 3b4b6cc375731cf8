"""Chapter 02 checks: path, query and body parameters of the User API, over HTTP.

Every run draws new names and ids. Users are created through POST /users, which works
(if with the wrong status) even before exercise 02.3 is solved, and soft-deleted through
the given DELETE /users/{id} — so no check depends on another exercise being solved.
"""

from __future__ import annotations

import random
import secrets
import string
from datetime import datetime
from typing import Any

import httpx

from workbook.testing import error_locs, expect, json_body, show, username

rng = random.Random()
TRUE_WORDS, FALSE_WORDS = ["true", "1", "yes", "on", "TRUE", "Y"], ["false", "0", "no", "off", "False", "N"]


def new_body() -> dict[str, Any]:
    word = "".join(rng.choices(string.ascii_lowercase, k=6))
    return {"username": username(), "email": f"{username()}@{word}.org", "age": rng.randint(18, 120)}


def create(app: httpx.Client) -> dict[str, Any]:
    """A new user's JSON; 200 is accepted here (that status is exercise 02.3's business)."""
    sent = new_body()
    response = app.post("/users", json=sent)
    got = json_body(response)
    expect(response.status_code in (200, 201) and isinstance(got, dict) and isinstance(got.get("id"), int),
           f"POST /users with {sent} creates a user (with an integer id)", show(response))
    return got


def soft_delete(app: httpx.Client, user_id: int) -> None:
    response = app.delete(f"/users/{user_id}")
    expect(response.status_code == 204, f"DELETE /users/{user_id} → 204 (the given soft-delete route)", show(response))


def shows(response: httpx.Response, user_id: int) -> bool:
    """The response is a 200 carrying this user (and not, say, 200 null)."""
    if response.status_code != 200:
        return False
    body = json_body(response)
    return isinstance(body, dict) and body.get("id") == user_id


def secrets_in(value: Any, where: str = "") -> list[str]:
    """Where a password hash (its key, or a pbkdf2 value) appears in a JSON document."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "password" in str(key).lower() or "hash" in str(key).lower():
                found.append(f"{where}{key}")
            found += secrets_in(item, f"{where}{key}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += secrets_in(item, f"{where}{index}.")
    elif isinstance(value, str) and "pbkdf2" in value:
        found.append(where.rstrip(".") or "(the body)")
    return list(dict.fromkeys(found))  # a hash under "password_hash" is one finding, not two


def openapi(app: httpx.Client) -> dict[str, Any]:
    response = app.get("/openapi.json")
    expect(response.status_code == 200, "GET /openapi.json → 200", show(response))
    return json_body(response)


def get_operation(spec: dict[str, Any]) -> dict[str, Any]:
    operation = spec.get("paths", {}).get("/users/{user_id}", {}).get("get")
    paths = sorted(spec.get("paths", {}))
    expect(isinstance(operation, dict), "GET /users/{user_id} in /openapi.json", f"paths {paths}")
    return operation


def parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    for param in operation.get("parameters", []):
        if param.get("name") == name:
            return param
    names = [p.get("name") for p in operation.get("parameters", [])]
    expect(False, f"a parameter {name!r} on GET /users/{{user_id}}", f"parameters {names}")
    return {}


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return spec.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    return schema


# -- 02.1 the path parameter ---------------------------------------------------------
def test_user_id_must_be_a_positive_integer(app: httpx.Client) -> None:
    bad = rng.sample(["abc", "1.5", "one", "12a", "0x1f", "1e3", "%20"], 2) + ["0", str(-rng.randint(1, 10**6))]
    for raw in bad:
        response = app.get(f"/users/{raw}")
        expect(response.status_code == 422 and ("path", "user_id") in error_locs(response),
               f"GET /users/{raw} → 422 on user_id", show(response))
    unknown = rng.randint(10**6, 10**9)
    response = app.get(f"/users/{unknown}")
    expect(response.status_code != 422, f"GET /users/{unknown} is not a 422 (it is a valid id)", show(response))


def test_user_id_rule_in_openapi(app: httpx.Client) -> None:
    schema = parameter(get_operation(openapi(app)), "user_id").get("schema", {})
    ok = schema.get("type") == "integer" and (
        schema.get("exclusiveMinimum") == 0 or (schema.get("minimum") or 0) >= 1
    )
    expect(ok, "user_id documented as an integer with exclusiveMinimum 0 (Path(gt=0))", f"schema {schema}")


# -- 02.2 the query flag ------------------------------------------------------------
def test_soft_deleted_user_hidden_unless_include_deleted(app: httpx.Client) -> None:
    alive, gone = create(app)["id"], create(app)["id"]
    soft_delete(app, gone)
    response = app.get(f"/users/{alive}")
    expect(shows(response, alive), f"GET /users/{alive} shows a live user", show(response))
    for params in ({}, {"include_deleted": rng.choice(FALSE_WORDS)}):
        response = app.get(f"/users/{gone}", params=params)
        expect(not shows(response, gone), f"soft-deleted user {gone} hidden with {params or 'no flag'}",
               show(response) + f" (query {params})")
    params = {"include_deleted": rng.choice(TRUE_WORDS)}
    response = app.get(f"/users/{gone}", params=params)
    expect(shows(response, gone), f"soft-deleted user {gone} shown with {params}", show(response))
    word = rng.choice(["maybe", "sure", "2", "nope"])
    response = app.get(f"/users/{alive}", params={"include_deleted": word})
    expect(response.status_code == 422 and ("query", "include_deleted") in error_locs(response),
           f"include_deleted={word!r} → 422 on include_deleted (it is not a bool)", show(response))


def test_openapi_has_title_version_and_flag_description(app: httpx.Client) -> None:
    spec = openapi(app)
    info = spec.get("info", {})
    expect((info.get("title"), info.get("version")) == ("User API", "1.0.0"),
           "title 'User API', version '1.0.0'", f"title {info.get('title')!r}, version {info.get('version')!r}")
    flag = parameter(get_operation(spec), "include_deleted")
    schema = flag.get("schema", {})
    expect(flag.get("in") == "query" and not flag.get("required") and schema.get("type") == "boolean",
           "include_deleted: an optional boolean query parameter", f"{flag}")
    description = str(flag.get("description") or schema.get("description") or "").strip()
    expect(description, "include_deleted has a description", f"{flag}")


# -- 02.3 the request body, 201 and the response model --------------------------------
def test_post_answers_201_and_stores_the_user(app: httpx.Client) -> None:
    sent = new_body()
    response = app.post("/users", json=sent)
    expect(response.status_code == 201, "POST /users → 201 Created", show(response))
    made = json_body(response)
    for key in ("username", "email"):
        expect(made.get(key) == sent[key], f"{key} = {sent[key]!r}", f"{key} = {made.get(key)!r}")
    response = app.get(f"/users/{made.get('id')}")
    stored = json_body(response)
    expect(response.status_code == 200 and all(stored.get(k) == made.get(k) for k in ("id", "username", "email")),
           f"GET /users/{made.get('id')} returns the stored user {sent['username']!r}", show(response))
    expect(datetime.fromisoformat(str(stored.get("created_at"))) == datetime.fromisoformat(str(made.get("created_at"))),
           "the same created_at from POST and GET", f"{made.get('created_at')} vs {stored.get('created_at')}")
    bad = {**new_body(), "username": username().upper()}
    response = app.post("/users", json=bad)
    expect(response.status_code == 422 and ("body", "username") in error_locs(response),
           f"POST /users with username {bad['username']!r} → 422 on body.username (CreateUserRequest)", show(response))


def test_no_password_hash_in_any_response(app: httpx.Client) -> None:
    sent = new_body()
    response = app.post("/users", json=sent)
    made = json_body(response)
    leaks = secrets_in(made)
    expect(not leaks, "no password_hash in the POST /users response", f"{leaks} in {show(response)}")
    user_id = made.get("id")
    expected = {"id", "username", "email", "created_at"}
    expect(set(made) == expected, f"POST /users sends exactly {sorted(expected)}", f"fields {sorted(made)}")
    for params in ({}, {"include_deleted": "true"}):
        response = app.get(f"/users/{user_id}", params=params)
        leaks = secrets_in(json_body(response))
        expect(not leaks, "no password_hash in the GET /users/{id} response", f"{leaks} in {show(response)}")
    deleted = create(app)["id"]
    soft_delete(app, deleted)
    response = app.get(f"/users/{deleted}", params={"include_deleted": "true"})
    leaks = secrets_in(json_body(response))
    expect(not leaks, "no password_hash for a soft-deleted user either", f"{leaks} in {show(response)}")


# -- 02.4 the 404 ---------------------------------------------------------------------
def test_unknown_user_is_404_with_detail(app: httpx.Client) -> None:
    newest = create(app)["id"]
    wanted = {"detail": "user not found"}
    for user_id in (newest + rng.randint(1, 50), rng.randint(10**6, 10**12)):
        response = app.get(f"/users/{user_id}")
        expect(response.status_code == 404 and json_body(response) == wanted,
               f"GET /users/{user_id} → 404 {wanted}", show(response))
    gone = create(app)["id"]
    soft_delete(app, gone)
    response = app.get(f"/users/{gone}")
    expect(response.status_code == 404 and json_body(response) == wanted,
           f"a soft-deleted user → 404 {wanted}", show(response))


# -- 02.5 the 404 in the docs ---------------------------------------------------------
def test_404_documented_in_openapi(app: httpx.Client) -> None:
    spec = openapi(app)
    responses = get_operation(spec).get("responses", {})
    expect("404" in responses, "a 404 response documented on GET /users/{user_id}", f"responses {sorted(responses)}")
    schema = responses["404"].get("content", {}).get("application/json", {}).get("schema", {})
    props = resolve(spec, schema).get("properties", {})
    expect("detail" in props, "the 404's JSON body documented with a 'detail' field (responses={404: {'model': …}})",
           f"404 entry {responses['404']}")


# -- 02.6 the injected Request and Response --------------------------------------------
def test_trace_needs_no_query_parameters(app: httpx.Client) -> None:
    request_id = secrets.token_hex(8)
    response = app.get("/trace", headers={"X-Request-Id": request_id})
    expect(response.status_code == 200,
           "GET /trace with no query string → 200 (request and response injected, not query parameters)",
           show(response))
    operation = openapi(app).get("paths", {}).get("/trace", {}).get("get")
    expect(isinstance(operation, dict), "GET /trace in /openapi.json", "no GET /trace operation")
    params = [(p.get("name"), p.get("in")) for p in operation.get("parameters", [])]
    expect(not params and "requestBody" not in operation,
           "GET /trace documents no parameters and no body in /openapi.json",
           f"parameters {params}" + (", a requestBody" if "requestBody" in operation else ""))


def test_trace_echoes_request_id(app: httpx.Client) -> None:
    for _ in range(2):
        request_id = f"{rng.choice(['req', 'trace', 'id'])}-{secrets.token_hex(rng.randint(4, 12))}"
        response = app.get("/trace", headers={"X-Request-Id": request_id})
        wanted = {"request_id": request_id}
        expect(response.status_code == 200 and json_body(response) == wanted,
               f"GET /trace with X-Request-Id: {request_id} → 200 {wanted}", show(response))
        echoed = response.headers.get("x-request-id")
        expect(echoed == request_id, f"the response carries the header X-Request-Id: {request_id}",
               f"X-Request-Id: {echoed!r}")
