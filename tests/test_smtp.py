"""Delivery over real SMTP (aiosmtpd on 127.0.0.1): a server that is down
means retries, not lost or doubled mail; a refused recipient is final."""
from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from feedback.extensions import db
from feedback.jobs import deliver, sweep
from feedback.models import Notification

from .helpers import submit


class RecordingServer:
    """An SMTP handler that keeps what it accepts and refuses chosen recipients."""

    def __init__(self) -> None:
        self.messages = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """An aiosmtpd server on a fixed port that a test starts when it wants it up."""

    def __init__(self, port: int) -> None:
        self.handler = RecordingServer()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=port)
        self.running = False

    def start(self) -> None:
        self._controller.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self._controller.stop()
            self.running = False


@pytest.fixture
def smtp(app, monkeypatch):
    """SMTP settings pointing at a port where nothing listens until the test starts the server."""
    port = free_port()
    for key, value in {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
                       "MAIL_TIMEOUT": 5, "MAIL_USE_TLS": False, "MAIL_USERNAME": ""}.items():
        monkeypatch.setitem(app.config, key, value)
    server = SmtpServer(port)
    yield server
    server.stop()


@pytest.fixture
def category(make):
    make.desk_agency()
    return make.category()


def receipt(case) -> Notification:
    return db.session.execute(
        select(Notification).where(Notification.case_id == case.id, Notification.template == "receipt")
        .execution_options(populate_existing=True)).scalar_one()


def test_a_refused_connection_is_retried_and_delivered_once_the_server_is_back(smtp, category):
    case, _ = submit(category)                      # first attempt: nothing listens
    row = receipt(case)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "unreachable" in row.last_error

    sweep(now=row.next_attempt_at)               # second attempt, still down
    row = receipt(case)
    assert (row.status, row.attempts) == ("pending", 2)

    smtp.start()
    sweep(now=row.next_attempt_at)               # third attempt: the server is back
    row = receipt(case)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")

    sweep(now=row.sent_at)                       # later sweeps and a replayed job send nothing more
    deliver(row.id)
    assert len(smtp.handler.messages) == 1
    message = smtp.handler.messages[0]
    assert case.code in message["Subject"] and message["To"] == "an@example.vn"
    assert message["Message-ID"] == f"<notification-{row.id}@haiphong.gov.vn>"
    assert {part.get_content_type() for part in message.iter_parts()} == {"text/plain", "text/html"}
    assert "Đăng ký khai sinh chậm" in message.get_body(("plain",)).get_content()


def test_a_recipient_refused_with_5xx_fails_for_good_and_others_still_get_mail(smtp, category):
    smtp.start()
    smtp.handler.refuse["gone@example.vn"] = "550 5.1.1 <gone@example.vn>: mailbox unavailable"

    refused = receipt(submit(category, sender_email="gone@example.vn")[0])
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert refused.last_error.startswith("permanent: recipient refused: 550 5.1.1")
    sweep(now=refused.created_at.replace(year=refused.created_at.year + 1))
    assert receipt(refused.case).attempts == 1

    delivered = receipt(submit(category)[0])
    assert delivered.status == "sent"
    assert [m["To"] for m in smtp.handler.messages] == ["an@example.vn"]


def test_a_recipient_refused_with_4xx_is_tried_again(smtp, category):
    smtp.start()
    smtp.handler.refuse["busy@example.vn"] = "451 4.3.0 try again later"
    row = receipt(submit(category, sender_email="busy@example.vn")[0])
    assert (row.status, row.attempts) == ("pending", 1)

    del smtp.handler.refuse["busy@example.vn"]
    sweep(now=row.next_attempt_at)
    assert receipt(row.case).status == "sent" and len(smtp.handler.messages) == 1


def test_a_connection_lost_after_the_server_accepted_the_message_is_not_sent_again(smtp, category, monkeypatch):
    import smtplib

    def quit_fails(self):
        raise OSError("connection reset while closing")

    monkeypatch.setattr(smtplib.SMTP, "quit", quit_fails)
    smtp.start()
    row = receipt(submit(category)[0])
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
    assert row.accepted_at is not None
    sweep(now=row.sent_at.replace(year=row.sent_at.year + 1))
    assert len(smtp.handler.messages) == 1
