"""The service over HTTP (TestClient), on SQLite and on PostgreSQL: every chapter's rule at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app_skeleton.auth import create_access_token
from app_skeleton.mail import REFUSED_DOMAIN, Mailbox
from app_skeleton.service.main import create_app
from app_skeleton.service.settings import Settings, get_settings

from .conftest import login, signup


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_health_is_liveness_and_ready_reads_the_migration(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/ready").json() == {"status": "ok", "database": "ok", "revision": "0002"}


def test_ready_is_503_on_a_database_that_was_never_migrated(sqlite_url: str, mailbox: Mailbox) -> None:
    app = create_app()
    settings = Settings(database_url=sqlite_url, secret_key=SecretStr("k" * 64))
    app.dependency_overrides[get_settings] = lambda: settings
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200  # alive
        assert client.get("/ready").status_code == 503  # but not ready: no create_all at start-up


def test_signup_sends_the_welcome_email_and_hides_the_hash(client: TestClient, mailbox: Mailbox) -> None:
    user = signup(client, "grace_h")
    assert set(user) == {"id", "username", "email", "display_name", "created_at"}
    wait_for(lambda: mailbox.to("grace_h@example.org"))
    assert "grace_h" in mailbox.to("grace_h@example.org")[0].body
    assert (
        client.post("/users", json={"username": "grace_h", "email": "g@example.org", "password": "x" * 8}).status_code
        == 409
    )


def test_a_refused_welcome_email_is_logged_not_fatal(client: TestClient, mailbox: Mailbox) -> None:
    response = client.post("/users", json={"username": "bounce", "email": f"b@{REFUSED_DOMAIN}", "password": "x" * 8})
    assert response.status_code == 201
    wait_for(lambda: mailbox.refused)
    assert client.get("/health").status_code == 200


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    secret = "pw-that-must-not-come-back"
    response = client.post("/users", json={"username": "NO SPACES", "email": "a@example.org", "password": secret})
    assert response.status_code == 422 and secret not in response.text and "NO SPACES" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "username"]


def test_login_looks_the_same_for_unknown_user_and_wrong_password(client: TestClient) -> None:
    user = signup(client)
    wrong = client.post("/auth/token", json={"username": user["username"], "password": "not it at all"})
    unknown = client.post("/auth/token", json={"username": "nobody_here", "password": "not it at all"})
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json()) == (401, wrong.json())


def test_owner_rule(client: TestClient) -> None:
    alice, bob = signup(client), signup(client)
    as_alice = login(client, str(alice["username"]))
    assert client.get(f"/users/{alice['id']}", headers=as_alice).json() == alice
    assert client.get("/users/me", headers=as_alice).json() == alice
    for other in (bob["id"], 987654):  # someone else's id and a missing one: the same 403
        assert client.get(f"/users/{other}", headers=as_alice).status_code == 403
        assert client.delete(f"/users/{other}", headers=as_alice).status_code == 403
    as_bob = login(client, str(bob["username"]))
    assert client.get("/users/me", headers=as_bob).json() == bob  # bob survived
    assert client.delete(f"/users/{alice['id']}", headers=as_alice).status_code == 204
    assert client.get("/users/me", headers=as_alice).status_code == 401  # a token of a deleted user


def test_every_bad_token_is_a_401_with_www_authenticate(client: TestClient, settings: Settings) -> None:
    user = signup(client)
    key = settings.secret_key.get_secret_value()
    tokens = [
        None,
        "garbage",
        create_access_token(int(str(user["id"])), "another-key-" + "x" * 40),
        create_access_token(int(str(user["id"])), key, expires_in=0),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",  # alg none
    ]
    for token in tokens:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        response = client.get("/users/me", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer", (token, response.text)


@pytest.fixture
def limited(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    app = create_app()
    settings = make_settings(rate_limit=3, rate_window=30)
    app.dependency_overrides[get_settings] = lambda: settings
    with TestClient(app) as client:
        yield client


def test_the_rate_limit_is_per_verified_user(limited: TestClient) -> None:
    user = signup(limited)  # request 1 from this address
    headers = login(limited, str(user["username"]))  # request 2
    for _ in range(3):
        assert limited.get("/users/me", headers=headers).status_code == 200
    refused = limited.get("/users/me", headers=headers)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert limited.get("/users/me", headers={**headers, "X-User": "someone-else"}).status_code == 429
    assert limited.get("/health").status_code == 200  # health checks are never limited


def test_an_unexpected_error_is_a_json_500_with_an_error_id(client: TestClient) -> None:
    def broken() -> Settings:
        raise RuntimeError("database password is hunter2")

    client.app.dependency_overrides[get_settings] = broken  # type: ignore[attr-defined]
    quiet = TestClient(client.app, raise_server_exceptions=False)
    response = quiet.get("/users/me", headers={"Authorization": "Bearer x"})
    assert response.status_code == 500 and "hunter2" not in response.text and len(response.json()["error_id"]) == 32


def test_ready_asks_the_upstream_through_the_shared_client(make_settings: Callable[..., Settings]) -> None:
    from fastapi import FastAPI

    from workbook.serving import serve

    upstream = FastAPI()
    calls: list[str] = []

    @upstream.get("/status")
    async def status(request: Request) -> dict[str, str]:
        calls.append(request.headers.get("user-agent", ""))
        return {"status": "ok"}

    server = serve(upstream, name="upstream-for-ready")
    try:
        for url, wanted in ((server.url + "/status", 200), (server.url + "/missing", 503)):
            app = create_app()
            settings = make_settings(upstream_url=url)
            app.dependency_overrides[get_settings] = lambda settings=settings: settings
            with TestClient(app) as client:
                assert client.get("/ready").status_code == wanted
                assert client.app.state.http.is_closed is False  # type: ignore[attr-defined]
            assert app.state.http.is_closed  # the lifespan closed the shared client at shutdown
        assert calls and all(agent.startswith("python-httpx/") for agent in calls)
    finally:
        server.stop()
