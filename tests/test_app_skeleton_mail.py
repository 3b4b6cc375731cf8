"""app_skeleton.mail: a real SMTP round trip on loopback, and a clean stop.

Plain ``asyncio.run`` per test, as in test_app_skeleton_db.py: no async plugin needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import smtplib
import threading
import time

import httpx
import pytest

from app_skeleton.mail import REFUSED_DOMAIN, SENDER, EmailClient, Mailbox, mailbox_app


def sockets() -> int:
    """Open sockets of this process (a listener or a loop's self-pipe left behind shows here)."""
    links = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the fd of listdir itself is gone by now
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sum(link.startswith("socket:") for link in links)


def test_a_message_arrives_with_recipient_subject_body_and_times() -> None:
    with Mailbox() as mailbox:
        client = EmailClient.for_mailbox(mailbox)
        before = time.time()
        asyncio.run(client.send(to="Ada@Example.org", subject="Welcome", body="Hi ada, your account is ready."))
        (message,) = mailbox.to("ada@example.org")
    assert message.to == ["Ada@Example.org"] and message.sender == SENDER
    assert (message.subject, message.body) == ("Welcome", "Hi ada, your account is ready.")
    assert before <= message.started <= message.delivered <= time.time()


def test_delay_makes_send_slow_and_is_measured_by_the_mailbox() -> None:
    with Mailbox(delay=0.2) as mailbox:
        started = time.perf_counter()
        asyncio.run(EmailClient.for_mailbox(mailbox).send("grace@example.org", "Hi", "slow"))
        took = time.perf_counter() - started
    (message,) = mailbox.messages
    assert took >= 0.2 and message.delivered - message.started >= 0.2


def test_refused_domain_raises_recipients_refused_and_is_recorded() -> None:
    with Mailbox() as mailbox:
        address = f"nobody@{REFUSED_DOMAIN}"
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            asyncio.run(EmailClient.for_mailbox(mailbox).send(address, "Welcome", "never delivered"))
    assert caught.value.recipients[address][0] == 550
    assert mailbox.refused == [address] and mailbox.messages == []


def test_stop_leaves_no_thread_or_socket_and_a_restart_keeps_the_port() -> None:
    threads, socks = threading.active_count(), sockets()
    mailbox = Mailbox()
    started = time.perf_counter()
    mailbox.start()
    start_took = time.perf_counter() - started
    port = mailbox.port
    assert port > 0 and any(t.name == f"workbook-smtp-{port}" for t in threading.enumerate())
    mailbox.start()  # idempotent
    mailbox.stop()
    mailbox.stop()  # twice is fine
    assert threading.active_count() == threads and sockets() == socks
    with mailbox:
        assert mailbox.port == port
        asyncio.run(EmailClient.for_mailbox(mailbox).send("a@example.org", "again", "same port"))
    assert len(mailbox.messages) == 1 and start_took < 2
    assert threading.active_count() == threads and sockets() == socks


def test_a_stopped_mailbox_refuses_connections() -> None:
    mailbox = Mailbox().start()
    mailbox.stop()
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(EmailClient.for_mailbox(mailbox).send("a@example.org", "x", "y"))


def test_mailbox_app_lists_filters_and_sets_the_delay() -> None:
    mailbox = Mailbox()
    app = mailbox_app(mailbox)

    async def go() -> None:
        async with app.router.lifespan_context(app):
            assert mailbox.running
            client = EmailClient.for_mailbox(mailbox)
            await client.send("ada@example.org", "Welcome", "Hi ada")
            await client.send("alan@example.org", "Welcome", "Hi alan")
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                await client.send(f"x@{REFUSED_DOMAIN}", "Welcome", "no")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://mailbox") as http:
                only = (await http.get("/messages", params={"to": "ADA@example.org"})).json()
                assert [m["body"] for m in only] == ["Hi ada"]
                assert len((await http.get("/messages")).json()) == 2
                assert (await http.get("/refused")).json() == [f"x@{REFUSED_DOMAIN}"]
                assert (await http.put("/delay", json={"seconds": 0.3})).json() == {"seconds": 0.3, "previous": 0.0}
                assert (await http.put("/delay", json={"seconds": -1})).status_code == 422
        assert not mailbox.running and mailbox.delay == 0.3

    asyncio.run(go())
