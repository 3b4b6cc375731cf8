"""The ``email_client`` the article's background task calls, and a mailbox to receive it.

The article awaits ``email_client.send(to=..., subject=..., body=...)`` without saying
what ``email_client`` is. Here it is an :class:`EmailClient` that speaks real SMTP
(the standard library's ``smtplib``, in a worker thread so the event loop stays
free) to a :class:`Mailbox` — an aiosmtpd SMTP server on 127.0.0.1 that keeps every
message it accepts. Nothing leaves the machine, and a test or a check can read
exactly what a learner's app sent::

    mailbox = Mailbox(delay=1.0)            # a slow mail provider: 1 s per message
    email_client = EmailClient.for_mailbox(mailbox)
    inbox = serve(lambda: mailbox_app(mailbox), name="mailbox")  # starts SMTP, GET /messages

Like a real server, the mailbox refuses recipients at :data:`REFUSED_DOMAIN`
(``550 5.1.1``), so a failing e-mail is a real ``smtplib.SMTPRecipientsRefused``.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from pydantic import BaseModel, Field

REFUSED_DOMAIN = "bounce.example.org"  # the mailbox answers 550 for every address here
SENDER = "welcome@workbook.example.org"


@dataclass(frozen=True)
class Message:
    """One accepted message. Times are ``time.time()`` seconds, comparable across processes."""

    to: list[str]
    sender: str
    subject: str
    body: str
    started: float  # MAIL FROM: the sender began this delivery
    delivered: float  # after DATA (and the mailbox's delay): the sender's send() returns


class _Handler:
    """aiosmtpd hooks: refuse one domain, wait ``delay`` like a slow provider, keep the rest."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        session.started = time.time()  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower().rpartition("@")[2] in self.mailbox.refuse_domains:
            self.mailbox.refused.append(address)
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.mailbox.delay)
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        body = parsed.get_body(("plain",)) if isinstance(parsed, EmailMessage) else None
        self.mailbox.messages.append(
            Message(
                to=list(envelope.rcpt_tos),
                sender=str(envelope.mail_from),
                subject=str(parsed.get("Subject", "")),
                body=body.get_content().strip() if body is not None else "",
                started=getattr(session, "started", time.time()),
                delivered=time.time(),
            )
        )
        return "250 Message accepted for delivery"


class _FreePortController(Controller):
    """aiosmtpd's Controller, bound to port 0: it would otherwise probe port 0 itself."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]  # the port the OS picked
        super()._trigger_server()


def _port_is_free(host: str, port: int) -> bool:
    """Whether ``port`` can be bound again (a restarted mailbox keeps its address)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's create_server does
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class Mailbox:
    """An SMTP server on 127.0.0.1 (its own thread and loop) that keeps what it accepts.

    ``start()`` takes a few milliseconds; ``stop()`` cancels open sessions, joins the
    thread and closes the listening socket and the loop. A restart reuses the port,
    so an :class:`EmailClient` made earlier keeps working. ``delay`` (seconds per
    message) can be changed at any time.
    """

    def __init__(self, delay: float = 0.0, refuse_domains: tuple[str, ...] = (REFUSED_DOMAIN,)) -> None:
        self.delay = delay
        self.refuse_domains = {d.lower() for d in refuse_domains}
        self.messages: list[Message] = []
        self.refused: list[str] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._controller: _FreePortController | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> Mailbox:
        """Listen (on the previous port if there was one and it is free); idempotent."""
        with self._lock:
            if self._controller is not None:
                return self
            port = self.port if self.port and _port_is_free(self.host, self.port) else 0
            controller = _FreePortController(_Handler(self), hostname=self.host, port=port, ready_timeout=10)
            try:
                controller.start()
            except BaseException:
                with contextlib.suppress(RuntimeError):  # the loop may be closed already
                    controller.stop(no_assert=True)
                if not controller.loop.is_closed():
                    controller.loop.close()
                raise
            assert controller._thread is not None
            controller._thread.name = f"workbook-smtp-{controller.port}"
            self.port = controller.port
            self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening and end the thread; safe to call twice."""
        with self._lock:
            controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def to(self, address: str) -> list[Message]:
        """The messages delivered to ``address`` (case-insensitive), oldest first."""
        wanted = address.lower()
        return [m for m in list(self.messages) if wanted in (a.lower() for a in m.to)]

    def __repr__(self) -> str:
        where = f"smtp://{self.host}:{self.port}" if self.running else "stopped"
        return f"<Mailbox {where}, {len(self.messages)} messages, delay {self.delay} s>"


class EmailClient:
    """Sends plain-text e-mail over SMTP. ``send`` is async: smtplib runs in a worker thread.

    Errors are not swallowed: a refused recipient raises ``smtplib.SMTPRecipientsRefused``,
    an unreachable server ``ConnectionRefusedError`` — what to do about them is the
    caller's decision (chapter 06 decides it inside a background task).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 25, sender: str = SENDER, timeout: float = 10.0) -> None:
        self.host, self._port, self.sender, self.timeout = host, port, sender, timeout
        self._mailbox: Mailbox | None = None

    @classmethod
    def for_mailbox(cls, mailbox: Mailbox, sender: str = SENDER) -> EmailClient:
        """A client that follows ``mailbox`` (its port is read at each send)."""
        client = cls(mailbox.host, mailbox.port, sender)
        client._mailbox = mailbox
        return client

    @property
    def port(self) -> int:
        return self._mailbox.port if self._mailbox is not None else self._port

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        await asyncio.to_thread(self._deliver, message)

    def _deliver(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)


class _Delay(BaseModel):
    seconds: float = Field(ge=0, le=10)


def mailbox_app(mailbox: Mailbox) -> FastAPI:
    """A small HTTP view of ``mailbox``; its lifespan starts and stops the SMTP server.

    Checks run in another process and reach the mailbox only over HTTP: GET /messages
    (filter with ``?to=``), GET /refused, and PUT /delay to make delivery slow or fast.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mailbox.start()
        try:
            yield
        finally:
            mailbox.stop()

    app = FastAPI(title="Mailbox", lifespan=lifespan)

    @app.get("/messages")
    async def messages(to: str | None = None) -> list[dict[str, Any]]:
        found = mailbox.to(to) if to else list(mailbox.messages)
        return [asdict(m) for m in found]

    @app.get("/refused")
    async def refused() -> list[str]:
        return list(mailbox.refused)

    @app.put("/delay")
    async def set_delay(body: _Delay) -> dict[str, float]:
        previous, mailbox.delay = mailbox.delay, body.seconds
        return {"seconds": body.seconds, "previous": previous}

    return app
