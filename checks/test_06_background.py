"""Chapter 06 checks: background tasks, graded over HTTP against the app and its mailbox.

The app sends real e-mail over SMTP to the kernel's mailbox; the checks read what
arrived through the mailbox's own HTTP app (``served("mailbox")``), which records
when each delivery started and ended (``time.time()``, the same clock as here).
Every check sets the mailbox's delay it needs and puts the old one back. Timing
verdicts compare two times measured in the same check — the response against the
e-mail it triggered, a /ping against the task running beside it — never a fixed
number alone, so a loaded machine slows both sides alike.

Each exercise has its own route: POST /users (06.1), POST /newsletter (06.2, 06.4),
POST /users/{id}/invitations (06.3). An inviter for 06.3 is created through POST
/users, which stores a user in every state of exercise 06.1 (even the starter).

The checks that time nothing run side by side in ``check()`` (``pytest.mark.independent``): each
uses its own fresh addresses, and those that set the mailbox's delay all set 0 s, so they share it
(``mail_delay`` counts them). The two timing checks run alone, after them.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from workbook.testing import expect, json_body, show, username

rng = random.Random()
REFUSED_DOMAIN = "bounce.example.org"  # app_skeleton.mail refuses every address here (550)
SDK_SECONDS_MIN = 0.1  # the notebook's analytics SDK blocks for SDK_SECONDS (0.2 s); anything shorter is not it
Served = Callable[[str], httpx.Client]


def address(domain: str | None = None) -> str:
    return f"{username()}@{domain or rng.choice(['example.org', 'example.com', 'mail.example.net'])}"


def new_user() -> dict[str, Any]:
    return {"username": username(), "email": address(), "age": rng.randint(25, 95)}


_delay_lock = threading.Lock()
_delay_users: dict[str, Any] = {"count": 0, "seconds": None, "previous": 0.0}  # checks running side by side


@contextlib.contextmanager
def mail_delay(mailbox: httpx.Client, seconds: float) -> Iterator[None]:
    """Make the mailbox take ``seconds`` per message while this check runs, then put the notebook's
    delay back. Checks running side by side share one setting: the first sets it, the last restores."""
    with _delay_lock:
        if _delay_users["count"] and _delay_users["seconds"] != seconds:
            raise RuntimeError(f"two checks want mail delays {_delay_users['seconds']} and {seconds} at once")
        if not _delay_users["count"]:
            response = mailbox.put("/delay", json={"seconds": seconds})
            expect(response.status_code == 200, "the mailbox app answers PUT /delay (run the mailbox cell)",
                   show(response))  # fmt: skip
            _delay_users.update(seconds=seconds, previous=json_body(response).get("previous", 0.0))
        _delay_users["count"] += 1
    try:
        yield
    finally:
        with _delay_lock:
            _delay_users["count"] -= 1
            if not _delay_users["count"]:
                mailbox.put("/delay", json={"seconds": _delay_users["previous"]})


def wait_for(probe: Callable[[], Any], within: float) -> Any:
    """Poll ``probe`` until it returns something truthy or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def messages_to(mailbox: httpx.Client, to: str) -> list[dict[str, Any]]:
    response = mailbox.get("/messages", params={"to": to})
    expect(response.status_code == 200, "GET /messages on the mailbox app → 200", show(response))
    return list(json_body(response))


def first_message(mailbox: httpx.Client, to: str, what: str, within: float = 2.0, only: bool = False) -> dict[str, Any]:
    """The first e-mail to ``to``; with ``only``, also make sure no second copy follows it."""
    found = wait_for(lambda: messages_to(mailbox, to), within)
    expect(found, f"{what} delivered to {to} within {within:.0f} s", "no e-mail arrived for that address")
    if only:
        time.sleep(0.05)  # a second copy (sent twice, or awaited and scheduled) arrives right behind the first
        found = messages_to(mailbox, to)
        expect(len(found) == 1, f"exactly one e-mail to {to}", f"{len(found)} e-mails: {[m['subject'] for m in found]}")
    return found[0]


def create_user(app: httpx.Client, sent: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
    """POST /users; returns the body and the wall-clock times the request left and the answer came back."""
    before = time.time()
    response = app.post("/users", json=sent)
    after = time.time()
    body = json_body(response)
    expect(response.status_code == 201, "POST /users → 201 Created", show(response))
    return body, before, after


def events_for(app: httpx.Client, email: str) -> list[dict[str, Any]]:
    response = app.get("/events", params={"email": email})
    expect(response.status_code == 200, "GET /events → 200 (the given analytics route)", show(response))
    return list(json_body(response))


# -- 06.1 one POST /users, the welcome e-mail in the background ---------------------------
def test_post_users_answers_before_the_email(app: httpx.Client, served: Served) -> None:
    mailbox, sent = served("mailbox"), new_user()
    with mail_delay(mailbox, 0.15):
        body, before, after = create_user(app, sent)
        wanted = {k: sent[k] for k in ("username", "email", "age")}
        got = {k: body.get(k) for k in wanted}
        expect(got == wanted and isinstance(body.get("id"), int),
               f"the stored user back, age included: {wanted} and an integer id", show_body(body))
        message = first_message(mailbox, sent["email"], "the welcome e-mail", within=3.0)
    took, mail_took = after - before, message["delivered"] - message["started"]
    expect(
        after < message["delivered"] and took < mail_took,
        f"the 201 before the e-mail is delivered, faster than the e-mail's own {mail_took:.2f} s",
        f"the response took {took:.2f} s and came {after - message['delivered']:+.2f} s after delivery:"
        " the handler waited for the e-mail",
    )


def show_body(body: Any) -> str:
    return f"body {body!r}"[:300]


@pytest.mark.independent
def test_welcome_email_arrives(app: httpx.Client, served: Served) -> None:
    mailbox, sent = served("mailbox"), new_user()
    with mail_delay(mailbox, 0.0):
        create_user(app, sent)
        message = first_message(mailbox, sent["email"], "the welcome e-mail", only=True)
    expect(message["subject"] == "Welcome", "subject 'Welcome'", f"subject {message['subject']!r}")
    expect(sent["username"] in message["body"], f"the username {sent['username']!r} in the body",
           f"body {message['body']!r}")


# -- 06.2 a failing e-mail does not lose the next task -------------------------------------
@pytest.mark.independent
def test_refused_confirmation_keeps_the_analytics_event(app: httpx.Client, served: Served) -> None:
    mailbox, email = served("mailbox"), address(REFUSED_DOMAIN)
    response = app.post("/newsletter", json={"email": email})
    expect(response.status_code == 202 and json_body(response) == {"subscribed": email},
           f"POST /newsletter → 202 {{'subscribed': {email!r}}} (a bounce cannot change the answer)", show(response))
    refused = wait_for(lambda: email in json_body(mailbox.get("/refused")), 2.0)
    expect(refused, f"the mailbox refused {email} (550)", "the confirmation was never attempted")
    events = wait_for(lambda: events_for(app, email), 1.5)
    expect(events, f"the 'subscribed' analytics event for {email}, written by the task after the e-mail",
           "no event: the confirmation task raised, so the tasks after it were skipped")


# -- 06.3 the invitation task opens its own session -----------------------------------------
@pytest.mark.independent
def test_invitation_email_names_the_inviter(app: httpx.Client, served: Served) -> None:
    mailbox, inviter = served("mailbox"), new_user()
    response = app.post("/users", json=inviter)
    made = json_body(response)
    expect(response.status_code in (200, 201) and isinstance(made, dict) and isinstance(made.get("id"), int),
           "POST /users creates the inviter", show(response))
    guest = address()
    with mail_delay(mailbox, 0.0):
        response = app.post(f"/users/{made['id']}/invitations", json={"email": guest})
        expect(response.status_code == 202 and json_body(response) == {"invited": guest},
               f"POST /users/{made['id']}/invitations → 202 {{'invited': {guest!r}}}", show(response))
        message = first_message(mailbox, guest, "the invitation e-mail", within=1.5)
    expect(inviter["username"] in message["body"], f"the inviter's username {inviter['username']!r} in the body",
           f"body {message['body']!r}")
    unknown = made["id"] + rng.randint(10**5, 10**6)
    response = app.post(f"/users/{unknown}/invitations", json={"email": address()})
    expect(response.status_code == 404, f"POST /users/{unknown}/invitations → 404", show(response))


# -- 06.4 a blocking task must not freeze the server --------------------------------------
def _ping_during_tracking(app: httpx.Client, email: str) -> tuple[float, float]:
    """Alternate GET /ping and GET /events until the 'subscribed' event appears.

    Returns the slowest of those requests and the SDK call's own time. Both kinds
    count: whichever request is in flight when the loop blocks waits for the block."""
    response = app.post("/newsletter", json={"email": email})
    expect(response.status_code == 202, "POST /newsletter → 202", show(response))
    slowest, deadline = 0.0, time.monotonic() + 3.0
    events: list[dict[str, Any]] = []
    while not events and time.monotonic() < deadline:
        started = time.perf_counter()
        app.get("/ping")
        pinged = time.perf_counter()
        events = events_for(app, email)
        slowest = max(slowest, pinged - started, time.perf_counter() - pinged)
        time.sleep(0.01)
    expect(events, f"the 'subscribed' event for {email} within 3 s", "no event was recorded")
    event = events[0]
    return slowest, float(event.get("stored", 0)) - float(event.get("started", 0))


def test_ping_answers_while_tracking(app: httpx.Client, served: Served) -> None:
    seen = []
    with mail_delay(served("mailbox"), 0.0):
        for _ in range(3):  # more chances absorb a scheduling hiccup on a busy machine
            slowest, sdk = _ping_during_tracking(app, address())
            expect(sdk >= SDK_SECONDS_MIN, f"the event written by analytics_sdk_post (≥ {SDK_SECONDS_MIN} s)",
                   f"an event that took {sdk:.2f} s")
            seen.append(f"{slowest:.2f} s while the SDK call took {sdk:.2f} s")
            if slowest < 0.5 * sdk:  # blocked, a ping waits for most of the call; free, a few ms
                return
    expect(False, "GET /ping (and /events) answer in under half the SDK call's time while the task runs",
           f"the slowest request took {'; '.join(seen)}: the task blocked the event loop")
