"""Signed links that e-mails give the citizen, made when the mail is rendered.

A mail that asks the citizen to do something links to the page that does it:
the answer and the rating form (``feedback.ratings``), or the form to add the
information an agency asked for (``/info/<token>``). The private link itself
is stored only hashed, so these links are signed instead: they expire, and
they carry the first characters of the private link's hash, so issuing a new
private link revokes every link mailed before it. They are built at delivery
time, so the outbox rows never hold a usable link.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from .extensions import db
from .models import Case, Notification

# Long enough for any request-for-information deadline and its reminders;
# whether the case still waits for information is checked on the page.
LINK_MAX_AGE = 60 * 24 * 3600


class MailLinkError(Exception):
    """A mailed link that is tampered with, expired or revoked."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"feedback.mail-link.{purpose}")


def _link_key(case: Case) -> str:
    return (case.access_token_hash or "")[:16]


def signed_token(case: Case, purpose: str) -> str:
    return _serializer(purpose).dumps({"case": case.code, "key": _link_key(case)})


def case_for_token(token: str, purpose: str, max_age: int = LINK_MAX_AGE) -> Case:
    """The case a mailed link is for; raises MailLinkError with the reason."""
    invalid = _l("Đường dẫn không hợp lệ. Vui lòng dùng đúng đường dẫn trong thư.")
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        expired = _l("Đường dẫn đã hết hạn. Vui lòng dùng đường dẫn riêng hoặc yêu cầu gửi lại đường dẫn.")
        raise MailLinkError(expired) from None
    except BadSignature:
        raise MailLinkError(invalid) from None
    case = db.session.execute(select(Case).where(Case.code == data.get("case", ""))).scalar_one_or_none()
    if case is None:
        raise MailLinkError(invalid) from None
    if data.get("key") != _link_key(case):
        raise MailLinkError(_l("Đường dẫn này không còn hiệu lực vì đường dẫn riêng đã được cấp lại. "
                               "Vui lòng dùng đường dẫn riêng mới."))
    return case


# E-mail verification: the outbox row keeps the account and address; the link
# is signed when the mail is rendered, so the row holds nothing usable.
VERIFY_MAX_AGE = 3 * 24 * 3600


def _verifier() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="feedback.verify-email")


def verification_url(verify: dict) -> str:
    """The link for an outbox row's ``verify`` payload (``{"user", "email"}``)."""
    token = _verifier().dumps({"user": verify["user"], "email": verify["email"]})
    return f"{current_app.config['BASE_URL'].rstrip('/')}/auth/verify/{token}"


def verification_data(token: str) -> dict:
    """What a verification link carries; raises itsdangerous' SignatureExpired
    or BadSignature."""
    return _verifier().loads(token, max_age=VERIFY_MAX_AGE)


def info_url(case: Case) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/info/{signed_token(case, 'info')}"


# The mailed confirmation of a new private link: short-lived, and bound to
# the current private link, so following it once (which issues a new private
# link) spends it and every other confirmation mailed before.
RESEND_MAX_AGE = 24 * 3600


def resend_confirm_url(case: Case) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/resend/{signed_token(case, 'resend')}"


def case_for_resend_token(token: str) -> Case:
    """The case whose private link the mailed confirmation may replace; MailLinkError otherwise."""
    return case_for_token(token, "resend", max_age=RESEND_MAX_AGE)


def action_links(notification: Notification) -> dict[str, str]:
    """The links a citizen mail needs, fresh at rendering time."""
    case = notification.case
    if case is None or notification.template not in ("answered", "rating_request", "info_requested",
                                                        "access_link_confirm"):
        return {}
    if notification.template == "info_requested":
        return {"info_url": info_url(case)}
    if notification.template == "access_link_confirm":
        return {"confirm_url": resend_confirm_url(case)}
    from .ratings import rating_url

    return {"rating_url": rating_url(case)}
