"""The outbox: notification rows written in the same transaction as a change.

Delivery is ``feedback.jobs``'s business; this module only records what is to
be sent, to whom, in which language, so that no change can commit without
its notifications and no notification can exist without its change.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from .extensions import db
from .models import Case, Notification, User, utcnow
from .sealing import seal_payload

# Templates citizens receive, and the ones staff receive.
CITIZEN_TEMPLATES = {
    "receipt", "info_requested", "transferred", "answered", "rating_request",
    "review_outcome", "closed_incomplete", "rejected", "access_link", "extension_approved",
    "merged", "reopened", "verify_email", "access_link_confirm", "account_exists",
}
STAFF_TEMPLATES = {"reminder", "digest", "assigned", "approval_needed", "extension_requested", "review_requested",
                   "info_provided"}


def case_links(case: Case, access_token: str | None = None) -> dict[str, str]:
    """The case's links; with ``access_token``, the private link too (an
    outbox row keeps that one sealed, see :func:`_add`)."""
    base = current_app.config["BASE_URL"].rstrip("/")
    links = {"lookup_url": f"{base}/lookup?code={case.code}", "staff_url": f"{base}/staff/cases/{case.code}"}
    if access_token:
        links["private_url"] = f"{base}/c/{access_token}"
    return links


def notify_citizen(case: Case, template: str, payload: dict[str, Any] | None = None) -> Notification | None:
    """Queue a message to the case's sender, if they gave an e-mail address."""
    if not case.sender_email:
        return None
    return _add(case, template, case.sender_email, case.language, payload, user=case.citizen)


def notify_user(case: Case | None, user: User, template: str, payload: dict[str, Any] | None = None) -> Notification:
    return _add(case, template, user.email, user.language or "vi", payload, user=user)


def _add(case: Case | None, template: str, recipient: str, language: str,
         payload: dict[str, Any] | None, user: User | None = None) -> Notification:
    data = {"code": case.code, "title": case.title} if case is not None else {}
    data.update(payload or {})
    notification = Notification(
        case=case, recipient=recipient, recipient_user_id=user.id if user else None,
        template=template, language=language if language in ("vi", "en") else "vi",
        # The database holds the private link's hash only; the row must not
        # be where it can be read in clear.
        payload=seal_payload(data), status="pending", next_attempt_at=utcnow(),
    )
    db.session.add(notification)
    return notification


# Delivery after commit ------------------------------------------------------
#
# Rows written in a transaction are handed to delivery only once it commits:
# before that a worker could not see them, and a rolled-back change must send
# nothing. If the hand-over fails (Redis down), the rows stay pending and the
# sweeper in feedback.jobs picks them up, so nothing is lost.

_PENDING_KEY = "feedback_outbox_ids"


def dispatch_after_commit(notification_id: int, session: Session | None = None) -> None:
    """Hand an existing row to delivery when the current transaction commits
    (a "retry now"); rows created in the transaction are handed over anyway."""
    (session or db.session()).info.setdefault(_PENDING_KEY, []).append(notification_id)


@event.listens_for(db.session, "after_flush")
def _collect_new_notifications(session: Session, _flush_context) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, Notification)]
    if ids:
        session.info.setdefault(_PENDING_KEY, []).extend(ids)


@event.listens_for(db.session, "after_commit")
def _dispatch_committed_notifications(session: Session) -> None:
    # Releasing a SAVEPOINT fires after_commit too; only the real commit counts.
    if session.in_nested_transaction():
        return
    ids = session.info.pop(_PENDING_KEY, None)
    if ids and current_app.config.get("OUTBOX_DISPATCH_AFTER_COMMIT", True):
        from .jobs import dispatch_committed

        dispatch_committed(sorted(set(ids)))


@event.listens_for(db.session, "after_rollback")
def _forget_rolled_back_notifications(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_PENDING_KEY, None)


# What staff see of a case's notifications ---------------------------------------

def case_notifications(case: Case) -> list[dict[str, Any]]:
    """Every notification about ``case``, oldest first, as the staff case page
    lists them: when, what, through which channel, its state, and who it was
    for by kind (the sender, or a member of staff by name) rather than by
    address, so the list shows what happened without repeating contacts."""
    from flask_babel import lazy_gettext as _l
    from sqlalchemy import select

    from .mail import TEMPLATE_TITLES

    states = {"pending": _l("Đang chờ gửi"), "queued": _l("Đang chờ gửi"), "sending": _l("Đang gửi"),
              "sent": _l("Đã gửi"), "failed": _l("Gửi thất bại")}
    channels = {"email": _l("Thư điện tử")}
    rows = db.session.execute(
        select(Notification, User).outerjoin(User, User.id == Notification.recipient_user_id)
        .where(Notification.case_id == case.id).order_by(Notification.created_at, Notification.id)).all()
    listed = []
    for notification, user in rows:
        if notification.template in CITIZEN_TEMPLATES and (user is None or user.role == "citizen"):
            recipient = _l("Người gửi")
        else:
            recipient = (user.full_name or _l("Cán bộ")) if user is not None else _l("Cán bộ")
        listed.append({
            "at": notification.sent_at or notification.created_at, "status": notification.status,
            "state": states.get(notification.status, notification.status),
            "what": TEMPLATE_TITLES.get(notification.template, notification.template),
            "channel": channels.get(notification.channel, notification.channel), "recipient": recipient,
        })
    return listed
