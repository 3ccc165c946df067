"""Channels that carry an outbox row to its recipient, and the e-mail channel.

A *channel* turns a :class:`~feedback.models.Notification` into a message and
hands it to a *transport*. E-mail is the only channel today. SMS or Zalo plug
in with :func:`register_channel` under the name stored in
``Notification.channel``; the workflow, the outbox and the delivery job stay
as they are.

A channel reports the outcome by raising: :class:`TemporaryFailure` (try again
later: connection refused, SMTP 4xx) or :class:`PermanentFailure` (never retry:
a malformed address, SMTP 5xx for the recipient). Returning means sent.

E-mail transports, chosen by ``MAIL_BACKEND``:

- ``console`` (development only): prints the message and writes an ``.eml``
  file to ``MAIL_FOLDER``; those copies hold working links, so the folder is
  a development aid and each file says so in an ``X-Feedback-Note`` header;
- ``smtp``: the ``MAIL_*`` settings;
- ``memory`` (tests): keeps messages in a list, see :func:`memory_mailbox`.
"""
from __future__ import annotations

import logging
import re
import smtplib
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from .deadlines import OFFICE_TZ
from .labels import OUTCOME
from .mail_links import action_links
from .models import Notification, User, utcnow
from .sealing import DROPPED, SEALED, open_payload

log = logging.getLogger(__name__)

# What each template is about, for staff pages listing deliveries.
TEMPLATE_TITLES = {
    "receipt": _l("Xác nhận tiếp nhận"),
    "access_link": _l("Đường dẫn theo dõi"),
    "access_link_confirm": _l("Xác nhận cấp lại đường dẫn theo dõi"),
    "account_exists": _l("Thư điện tử đã có tài khoản"),
    "verify_email": _l("Xác minh thư điện tử"),
    "password_reset": _l("Đặt lại mật khẩu"),
    "info_requested": _l("Đề nghị bổ sung thông tin"),
    "transferred": _l("Chuyển cơ quan xử lý"),
    "answered": _l("Kết quả trả lời"),
    "rating_request": _l("Mời đánh giá"),
    "review_outcome": _l("Kết quả xem xét lại"),
    "closed_incomplete": _l("Kết thúc do không bổ sung thông tin"),
    "rejected": _l("Không tiếp nhận"),
    "extension_approved": _l("Gia hạn xử lý"),
    "merged": _l("Gộp phản ánh"),
    "reopened": _l("Mở lại phản ánh"),
    "reminder": _l("Nhắc hạn xử lý"),
    "digest": _l("Tổng hợp hằng ngày"),
    "assigned": _l("Giao xử lý"),
    "approval_needed": _l("Chờ phê duyệt"),
    "extension_requested": _l("Đề nghị gia hạn"),
    "review_requested": _l("Đề nghị xem xét lại"),
    "info_provided": _l("Công dân đã bổ sung thông tin"),
}

# Envelope-level sanity only; the mail server has the last word on addresses.
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


class DeliveryError(Exception):
    """A channel could not deliver; ``permanent`` says whether to try again."""

    permanent = False


class TemporaryFailure(DeliveryError):
    """Worth retrying later (server down, 4xx, timeout)."""


class PermanentFailure(DeliveryError):
    """Retrying cannot help (bad address, 5xx for the recipient)."""

    permanent = True


class Channel(Protocol):
    """Delivers one notification or raises :class:`DeliveryError`."""

    def send(self, notification: Notification) -> None: ...


_CHANNELS: dict[str, Callable[[Flask], Channel]] = {}


def register_channel(name: str, factory: Callable[[Flask], Channel]) -> None:
    """Make ``Notification.channel == name`` deliverable through ``factory(app)``."""
    _CHANNELS[name] = factory


def channel_for(notification: Notification) -> Channel:
    """The channel a notification goes through; an unknown one is a permanent failure."""
    factory = _CHANNELS.get(notification.channel)
    if factory is None:
        raise PermanentFailure(f"no channel named {notification.channel!r}")
    return factory(current_app._get_current_object())  # type: ignore[attr-defined]  # current_app is a LocalProxy typed as Flask


# Rendering -----------------------------------------------------------------


@dataclass
class Mail:
    """A rendered e-mail, before it becomes MIME."""

    to: str
    subject: str
    text: str
    html: str
    language: str
    template: str
    notification_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def render_mail(notification: Notification) -> Mail:
    """Subject, text and HTML bodies from ``templates/mail/<lang>/<template>.{txt,html}``
    in the recipient's language (Vietnamese unless they chose English)."""
    language = notification.language if notification.language in ("vi", "en") else "vi"
    context = _mail_context(notification, language)
    env = current_app.jinja_env
    # Top-level {% set subject %} in the text template is exported on its module.
    text_module = env.get_template(f"mail/{language}/{notification.template}.txt").make_module(context)
    subject = " ".join(str(getattr(text_module, "subject", "")).split())
    code = context.get("code")
    if code and code not in subject:
        subject = f"[{code}] {subject}"
    html = env.get_template(f"mail/{language}/{notification.template}.html").render({**context, "subject": subject})
    return Mail(to=notification.recipient, subject=subject, text=str(text_module).strip() + "\n", html=html,
                language=language, template=notification.template, notification_id=notification.id)


def _mail_context(notification: Notification, language: str) -> dict[str, Any]:
    base = current_app.config["BASE_URL"].rstrip("/")
    payload = dict(notification.payload or {})
    context: dict[str, Any] = {
        "lang": language, "base_url": base, "inbox_url": f"{base}/staff/",
        "fmt": format_when, "name": _recipient_name(notification),
    }
    code = payload.get("code")
    if code:
        context["lookup_url"] = f"{base}/lookup?code={code}"
        context["staff_url"] = f"{base}/staff/cases/{code}"
    context.update({key: value for key, value in payload.items() if key not in (SEALED, DROPPED)})
    opened = open_payload(payload)
    context.update(opened)
    if payload.get(DROPPED) or len(opened) < len(payload.get(SEALED) or {}):
        # Sent before, or failed for good and retried: the private link is
        # gone from the row, so the mail says how to ask for a new one.
        context["link_withdrawn"] = True
        context["resend_url"] = f"{base}/resend"
    if isinstance(payload.get("reset"), dict):
        # The outbox keeps what the link is made of; the link is signed only here.
        from .passwords import reset_url

        context["reset_url"] = reset_url(payload["reset"])
    if isinstance(payload.get("verify"), dict):
        from .mail_links import verification_url

        context["verify_url"] = verification_url(payload["verify"])
    # Signed links are made now, not stored in the outbox row.
    context.update(action_links(notification))
    if payload.get("outcome"):
        with force_locale(language):
            context["outcome_text"] = str(OUTCOME.get(payload["outcome"], payload["outcome"]))
    return context


def _recipient_name(notification: Notification) -> str:
    if notification.recipient_user_id:
        from .extensions import db

        user = db.session.get(User, notification.recipient_user_id)
        if user is not None and user.full_name:
            return user.full_name
    case = notification.case
    if case is not None and case.sender_email and case.sender_email == notification.recipient:
        return case.sender_name
    return ""


def format_when(value: str | datetime | date | None, with_time: bool = True) -> str:
    """An ISO timestamp from a payload as office-local ``17:00 16/03/2026``."""
    if not value:
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.strftime("%H:%M %d/%m/%Y") if with_time else value.strftime("%d/%m/%Y")
    if isinstance(value, datetime):
        local = value.astimezone(OFFICE_TZ)
        return local.strftime("%H:%M %d/%m/%Y") if with_time else local.strftime("%d/%m/%Y")
    return value.strftime("%d/%m/%Y")


def build_mime(mail: Mail, sender: str) -> EmailMessage:
    """A multipart/alternative message; the Message-ID is derived from the row so
    a mail client can recognise a copy if one ever went out twice."""
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = sender
    message["To"] = mail.to
    message["Date"] = format_datetime(utcnow())
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = (f"<notification-{mail.notification_id}@{domain}>" if mail.notification_id
                             else make_msgid(domain=domain))
    message["Content-Language"] = mail.language
    message["Auto-Submitted"] = "auto-generated"
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


# Transports ----------------------------------------------------------------


class Transport(Protocol):
    def send(self, mail: Mail) -> None: ...


class Mailbox(list):
    """The memory transport's sent mail (tests read it)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[DeliveryError] = []

    def fail_next(self, *errors: DeliveryError) -> None:
        """Make the next sends raise these errors, in order (tests of retries)."""
        self.failures.extend(errors)

    def send(self, mail: Mail) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.append(mail)

    def clear(self) -> None:  # type: ignore[override]
        super().clear()
        self.failures.clear()


def memory_mailbox(app: Flask | None = None) -> Mailbox:
    """The app's in-memory mailbox (``MAIL_BACKEND = "memory"``)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]  # current_app is a LocalProxy typed as Flask
    return app.extensions.setdefault("feedback_mailbox", Mailbox())


class ConsoleTransport:
    """Development: print the text body and keep an ``.eml`` copy in ``MAIL_FOLDER``."""

    def __init__(self, folder: str, sender: str) -> None:
        self.folder = Path(folder)
        self.sender = sender

    def send(self, mail: Mail) -> None:
        message = build_mime(mail, self.sender)
        # These copies hold working links: a development aid, never for production.
        message["X-Feedback-Note"] = "development copy, holds working links"
        self.folder.mkdir(parents=True, exist_ok=True)
        # Timestamped, never overwritten: a duplicate send would show as two files.
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
        (self.folder / f"{stamp}-{mail.notification_id or 0}-{mail.template}.eml").write_bytes(message.as_bytes())
        print(f"--- mail to {mail.to}: {mail.subject}\n{mail.text}---", file=sys.stdout, flush=True)


class SmtpTransport:
    """SMTP with optional STARTTLS and login; errors sorted into temporary and permanent."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.host = config["MAIL_SERVER"]
        self.port = int(config["MAIL_PORT"])
        self.username = config.get("MAIL_USERNAME") or ""
        self.password = config.get("MAIL_PASSWORD") or ""
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.sender = config["MAIL_SENDER"]
        self.timeout = float(config.get("MAIL_TIMEOUT", 30))

    def send(self, mail: Mail) -> None:
        """Returns once the server has accepted the message. A failure after
        that (QUIT timing out, the connection dropping) is logged, not raised:
        raising would have the message retried and sent twice."""
        message = build_mime(mail, self.sender)
        accepted = False
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.use_tls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
                accepted = True
        except (OSError, smtplib.SMTPException) as exc:
            if not accepted:
                raise _smtp_failure(exc, self.host, self.port) from exc
            log.warning("mail %s to %s accepted by %s:%s; closing the connection failed: %s",
                        mail.notification_id, mail.to, self.host, self.port, exc)


def _smtp_failure(exc: BaseException, host: str, port: int) -> DeliveryError:
    """An SMTP error before the server accepted the message, sorted into
    temporary and permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        detail = "; ".join(f"{code} {_text(msg)}" for code, msg in exc.recipients.values())
        return (PermanentFailure if all(c >= 500 for c in codes) else TemporaryFailure)(
            f"recipient refused: {detail}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # Our credentials, not the recipient: fixable by an operator, so retry.
        return TemporaryFailure(f"SMTP login failed: {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return TemporaryFailure(f"sender refused: {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        kind = PermanentFailure if exc.smtp_code >= 500 else TemporaryFailure
        return kind(f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}")
    return TemporaryFailure(f"SMTP {host}:{port} unreachable: {exc}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def transport_for(app: Flask) -> Transport:
    backend = app.config.get("MAIL_BACKEND", "console")
    if backend == "smtp":
        return SmtpTransport(app.config)
    if backend == "memory":
        return memory_mailbox(app)
    if backend == "console":
        return ConsoleTransport(app.config["MAIL_FOLDER"], app.config["MAIL_SENDER"])
    raise PermanentFailure(f"unknown MAIL_BACKEND {backend!r}")


class EmailChannel:
    """Renders the notification's templates and sends them through the transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def send(self, notification: Notification) -> None:
        if not _ADDRESS.match(notification.recipient or ""):
            raise PermanentFailure(f"not an e-mail address: {notification.recipient!r}")
        try:
            mail = render_mail(notification)
        except Exception as exc:  # a template bug will not fix itself by retrying
            raise PermanentFailure(f"could not render {notification.template}: {exc}") from exc
        self.transport.send(mail)


register_channel("email", lambda app: EmailChannel(transport_for(app)))
