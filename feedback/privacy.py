"""The sender's personal data: retention, a copy for the sender, erasure.

Anonymising a case (:func:`anonymise_case`) removes what identifies or was
written by the sender and keeps every column the statistics read (type,
channel, category, procedure, agency, status, the deadlines and when they
were met, the outcome, the rating level, the timeline's actions and times).
The retention command runs it on final cases closed longer ago than
``FEEDBACK_RETENTION_DAYS``; the desk runs it when it confirms a sender's
erasure request. Both go through the same function, so both remove the same.

Files are removed from the attachment storage only after the transaction
that removed their rows has committed (:func:`commit_and_remove_files`): a
rolled-back anonymisation leaves the case as it was, files included.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .audit import record_audit
from .extensions import db
from .models import FINAL_STATUSES, Case, ErasureRequest, Notification, Rating, User, utcnow
from .redaction import redact
from .storage import storage
from .timeline import public_timeline
from .workflow.errors import InvalidInput, NotAllowedNow

# What replaces the sender's name, the title and the content.
ERASED = "[đã xoá]"
FINAL = tuple(s.value for s in FINAL_STATUSES)
# Rows not sent yet when the case is anonymised are never sent: their
# recipient and payload are gone. Delivery only claims pending/queued rows.
CANCELLED = "cancelled"


@dataclass
class Anonymised:
    """What anonymising one case removed; ``files`` (stored names) are deleted after commit."""

    attachments: int = 0
    notes: int = 0
    notifications: int = 0
    ratings: int = 0
    files: list[str] = field(default_factory=list)


def anonymise_case(case: Case, *, reason: str, user: User | None = None, now: datetime | None = None,
                   keep_private_link: bool = False) -> Anonymised:
    """Strip the sender's personal data and the case's files, keep the figures.

    ``reason`` (``retention`` or ``erasure_request``) goes into the audit row.
    With ``keep_private_link`` the private link keeps opening the case, and
    then shows only that the data was erased (a sender who asked for erasure
    sees it done); the retention command clears it with everything else.
    The caller commits (then removes ``files`` with :func:`commit_and_remove_files`).
    """
    if case.anonymised_at is not None:
        return Anonymised()
    now = now or utcnow()
    done = Anonymised()
    # Texts staff wrote for the sender may quote them: masked while the
    # sender's own values are still known to the redaction.
    case.answer = redact(case.answer or "", case)
    case.draft_answer = redact(case.draft_answer or "", case)
    case.rejection_reason = redact(case.rejection_reason or "", case)
    case.extension_reason = redact(case.extension_reason or "", case)

    published = case.published and case.publish_consent
    case.title = case.public_title if published and case.public_title else ERASED
    case.content = ERASED
    case.sender_name = ERASED
    case.sender_address = ""
    case.sender_phone = ""
    case.sender_email = ""
    case.sender_id_number = ""
    case.sender_tax_code = ""
    case.sender_representative = ""
    case.citizen_id = None
    if not keep_private_link:
        case.access_token_hash = None
    if not published:
        case.public_title = ""
        case.public_content = ""
        case.search_text = ""

    # Every note: citizens' own (information, withdrawal, review request) and
    # staff notes, which address or quote the sender. Actions, times, actors
    # and statuses stay: the statistics and the public timeline read them.
    for event in case.events:
        if event.note:
            event.note = ""
            done.notes += 1

    for attachment in list(case.attachments):
        done.files.append(attachment.stored_name)
        case.attachments.remove(attachment)  # delete-orphan: the row goes
        done.attachments += 1

    rating = db.session.execute(select(Rating).where(Rating.case_id == case.id)).scalar_one_or_none()
    if rating is not None and rating.comment:
        rating.comment = ""
        done.ratings += 1

    for notification in db.session.execute(select(Notification).where(Notification.case_id == case.id)).scalars():
        notification.recipient = ""
        notification.recipient_user_id = None
        notification.payload = {}
        notification.last_error = ""
        if notification.status in ("pending", "queued"):
            notification.status = CANCELLED
            notification.next_attempt_at = None
        done.notifications += 1

    case.anonymised_at = now
    case.version = case.version + 1
    record_audit("case.anonymised", case_id=case.id, user=user, detail={
        "reason": reason, "attachments": done.attachments, "notes": done.notes,
        "notifications": done.notifications, "ratings": done.ratings,
    })
    return done


def commit_and_remove_files(files: Iterable[str]) -> None:
    """Commit (a concurrent change of the case becomes ``StaleCase``), then
    delete from the attachment storage the files whose rows the transaction removed."""
    from .workflow import commit

    commit()
    store = storage()
    for name in files:
        store.delete(name)


# Retention --------------------------------------------------------------------


def retention_cutoff(days: int | None = None, now: datetime | None = None) -> datetime:
    """Cases closed before this instant are due for anonymisation."""
    days = current_app.config["RETENTION_DAYS"] if days is None else days
    return (now or utcnow()) - timedelta(days=days)


def cases_past_retention(cutoff: datetime) -> list[Case]:
    """Final cases closed before ``cutoff`` that still hold personal data."""
    return list(db.session.execute(
        select(Case).where(Case.status.in_(FINAL), Case.closed_at < cutoff, Case.anonymised_at.is_(None))
        .order_by(Case.closed_at, Case.id)).scalars())


@dataclass
class RetentionReport:
    cutoff: datetime
    cases: list[str] = field(default_factory=list)
    attachments: int = 0
    notes: int = 0
    notifications: int = 0
    ratings: int = 0


def anonymise_past_retention(days: int | None = None, *, dry_run: bool = False,
                             now: datetime | None = None) -> RetentionReport:
    """Anonymise every final case closed more than ``days`` ago (default: the
    setting), one commit per case so a failure keeps what was done. With
    ``dry_run`` only count what would go. Cases already anonymised are skipped."""
    now = now or utcnow()
    report = RetentionReport(cutoff=retention_cutoff(days, now))
    for case in cases_past_retention(report.cutoff):
        report.cases.append(case.code)
        if dry_run:
            report.attachments += len(case.attachments)
            report.notes += sum(1 for e in case.events if e.note)
            report.notifications += len(db.session.execute(
                select(Notification.id).where(Notification.case_id == case.id)).all())
            report.ratings += 1 if case.rating is not None and case.rating.comment else 0
            continue
        done = anonymise_case(case, reason="retention", now=now)
        report.attachments += done.attachments
        report.notes += done.notes
        report.notifications += done.notifications
        report.ratings += done.ratings
        commit_and_remove_files(done.files)
    return report


# The sender's copy --------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def data_copy(case: Case) -> dict[str, Any]:
    """Everything the system holds about the case and its sender, as the
    sender may see it: what they sent, the public timeline with the notes
    meant for them, the answer, their rating, their files (names and sizes)
    and the messages sent to them."""
    sent_to = {a for a in (case.sender_email.strip().lower(),) if a}
    messages = db.session.execute(
        select(Notification).where(Notification.case_id == case.id).order_by(Notification.id)).scalars()
    rating = case.rating
    return {
        "code": case.code,
        "exported_at": _iso(utcnow()),
        "anonymised_at": _iso(case.anonymised_at),
        "submission": {
            "type": case.type, "channel": case.channel, "language": case.language,
            "received_at": _iso(case.received_at),
            "category": case.category.name, "procedure": case.procedure.title if case.procedure else None,
            "proposed_agency": case.proposed_agency.name if case.proposed_agency else None,
            "title": case.title, "content": case.content, "publish_consent": case.publish_consent,
        },
        "sender": {
            "kind": case.sender_kind, "name": case.sender_name, "address": case.sender_address,
            "phone": case.sender_phone, "email": case.sender_email, "id_number": case.sender_id_number,
            "tax_code": case.sender_tax_code, "representative": case.sender_representative,
            "has_account": case.citizen_id is not None,
        },
        "status": case.status,
        "agency": case.agency.name,
        "timeline": [{"at": _iso(entry.at), "what": str(entry.label), "note": entry.note}
                     for entry in public_timeline(case, with_notes=True)],
        "answer": {"outcome": case.outcome, "text": case.answer, "answered_at": _iso(case.answered_at)}
        if case.answered_at else None,
        "rejection_reason": case.rejection_reason or None,
        "rating": {"level": rating.level, "resolved": rating.resolved, "comment": rating.comment,
                   "at": _iso(rating.created_at)} if rating else None,
        "attachments": [{"name": a.filename, "size": a.size, "type": a.content_type,
                         "from_sender": a.from_citizen, "uploaded_at": _iso(a.uploaded_at)}
                        for a in case.attachments],
        "messages_sent_to_you": [
            {"template": n.template, "to": n.recipient, "created_at": _iso(n.created_at),
             "sent_at": _iso(n.sent_at), "status": n.status}
            for n in messages if n.recipient.strip().lower() in sent_to],
        "published": {"title": case.public_title, "content": case.public_content,
                      "published_at": _iso(case.published_at)} if case.published else None,
    }


# Erasure on request ---------------------------------------------------------------

NOT_FINAL = _l("Chỉ có thể yêu cầu xoá dữ liệu của phản ánh đã rút hoặc đã kết thúc. "
               "Phản ánh này vẫn đang được xử lý.")


def pending_erasure(case: Case) -> ErasureRequest | None:
    return db.session.execute(select(ErasureRequest).where(
        ErasureRequest.case_id == case.id, ErasureRequest.status == "pending")).scalars().first()


def can_request_erasure(case: Case) -> bool:
    """The sender may ask while the case is final, not yet anonymised, and
    no request of theirs is waiting."""
    return case.status in FINAL and case.anonymised_at is None and pending_erasure(case) is None


def request_erasure(case: Case, now: datetime | None = None) -> ErasureRequest:
    """Record the sender's request for the desk; the caller commits."""
    if case.anonymised_at is not None:
        raise NotAllowedNow(_l("Dữ liệu cá nhân của phản ánh này đã được xoá."))
    if case.status not in FINAL:
        raise NotAllowedNow(NOT_FINAL)
    existing = pending_erasure(case)
    if existing is not None:
        return existing
    request = ErasureRequest(case_id=case.id, requested_at=now or utcnow(), status="pending")
    db.session.add(request)
    record_audit("case.erasure_requested", case_id=case.id)
    return request


def pending_erasure_requests() -> list[ErasureRequest]:
    """Requests waiting for the desk, oldest first."""
    return list(db.session.execute(select(ErasureRequest).where(ErasureRequest.status == "pending")
                                   .order_by(ErasureRequest.requested_at, ErasureRequest.id)).scalars())


def _pending(request: ErasureRequest) -> None:
    if request.status != "pending":
        raise NotAllowedNow(_l("Yêu cầu xoá dữ liệu này đã được xử lý."))


def confirm_erasure(request: ErasureRequest, user: User, now: datetime | None = None) -> Anonymised:
    """The desk confirms: the case is anonymised at once, its private link
    left to say so. The caller commits and removes the files."""
    _pending(request)
    now = now or utcnow()
    request.status = "confirmed"
    request.decided_at = now
    request.decided_by_id = user.id
    return anonymise_case(request.case, reason="erasure_request", user=user, now=now, keep_private_link=True)


def refuse_erasure(request: ErasureRequest, user: User, reason: str, now: datetime | None = None) -> None:
    """The desk refuses, with the reason the sender will read; the caller commits."""
    _pending(request)
    reason = (reason or "").strip()
    if not reason:
        message = _l("Vui lòng nêu lý do từ chối.")
        raise InvalidInput(message, {"reason": str(message)})
    request.status = "refused"
    request.decided_at = now or utcnow()
    request.decided_by_id = user.id
    request.refusal_reason = reason
    record_audit("case.erasure_refused", case_id=request.case_id, user=user)


def latest_erasure_request(case: Case) -> ErasureRequest | None:
    return db.session.execute(select(ErasureRequest).where(ErasureRequest.case_id == case.id)
                              .order_by(ErasureRequest.id.desc())).scalars().first()
