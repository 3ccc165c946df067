"""The case life cycle (DESIGN.md section 3): one function per transition.

Every function here checks the actor's role and agency and the case's
status and version, records a CaseEvent, recomputes deadlines and
``next_due``, writes the notifications to send and the audit row, and
flushes. The caller commits once, so the change, its event, its
notifications and its audit row land together or not at all. Nothing else
assigns ``Case.status``.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .audit import record_audit
from .deadlines import OFFICE_TZ, WorkingCalendar, load_calendar
from .extensions import db
from .models import (
    FINAL_STATUSES,
    Agency,
    Case,
    CaseEvent,
    CaseType,
    Channel,
    Classification,
    DailyCounter,
    Outcome,
    Role,
    Status,
    User,
    hash_token,
    utcnow,
)
from .notifications import notify_citizen, notify_user


class WorkflowError(Exception):
    """A refused transition; ``message`` is shown to the user as is."""

    http_status = 409

    def __init__(self, message, fields: dict[str, str] | None = None):
        super().__init__(str(message))
        self.message = message
        self.fields = fields or {}


class PermissionDenied(WorkflowError):
    http_status = 403


class NotAllowedNow(WorkflowError):
    http_status = 409


class StaleCase(WorkflowError):
    http_status = 409


class InvalidInput(WorkflowError):
    http_status = 422


@dataclass
class Actor:
    """Who acts: a staff user, the citizen holding the private link, or the system."""

    user: User | None = None
    kind: str = "staff"  # staff | citizen | system

    @classmethod
    def citizen(cls, user: User | None = None) -> "Actor":
        return cls(user=user, kind="citizen")

    @classmethod
    def system(cls) -> "Actor":
        return cls(user=None, kind="system")

    @property
    def role(self) -> Role | None:
        return self.user.role_enum if (self.user and self.kind == "staff") else None


STALE_MESSAGE = _l("Phản ánh này vừa được người khác thay đổi. Vui lòng tải lại trang rồi thực hiện lại.")


# Deadline policy ---------------------------------------------------------


def policy_days(case: Case, kind: str) -> int:
    """Working days allowed for ``kind`` (classify, answer, extension, info, rating),
    from the case's category when it overrides the configured default."""
    config = current_app.config
    category = case.category
    if kind == "classify":
        return (category and category.classify_days) or config["CLASSIFY_DAYS"]
    if kind == "answer":
        if case.type == CaseType.recommendation.value:
            return (category and category.recommendation_answer_days) or config["RECOMMENDATION_ANSWER_DAYS"]
        return (category and category.report_answer_days) or config["REPORT_ANSWER_DAYS"]
    if kind == "extension":
        return (category and category.extension_max_days) or config["EXTENSION_MAX_DAYS"]
    if kind == "info":
        return (category and category.info_reply_days) or config["INFO_REPLY_DAYS"]
    if kind == "rating":
        return config["RATING_WINDOW_DAYS"]
    raise ValueError(f"unknown deadline kind {kind}")


# Which deadline is open in which status: the reminder scan and the inbox
# both read next_due, so it must always be the earliest of these.
OPEN_DEADLINES = {
    Status.submitted: ("classify_due",),
    Status.assigned: ("answer_due",),
    Status.in_progress: ("answer_due",),
    Status.awaiting_approval: ("answer_due",),
    Status.needs_info: ("info_due",),
    Status.review_requested: ("review_due",),
    Status.responded: ("rating_due",),
}


def open_deadlines(case: Case) -> dict[str, datetime]:
    names = OPEN_DEADLINES.get(case.status_enum, ())
    return {name: getattr(case, name) for name in names if getattr(case, name) is not None}


def refresh_next_due(case: Case) -> None:
    due = open_deadlines(case)
    case.next_due = min(due.values()) if due else None


# Internals ---------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


def _check_version(case: Case, version: int | None) -> None:
    """Refuse a change made from an out-of-date page."""
    if version is not None and int(version) != case.version:
        raise StaleCase(STALE_MESSAGE)


def _require_status(case: Case, *allowed: Status) -> None:
    if case.status_enum not in allowed:
        raise NotAllowedNow(
            _l("Không thể thực hiện thao tác này khi phản ánh đang ở trạng thái hiện tại (%(status)s).",
               status=case.status)
        )


def _require_role(actor: Actor, *roles: Role) -> User:
    if actor.kind != "staff" or actor.user is None or actor.role not in roles:
        raise PermissionDenied(_l("Bạn không có quyền thực hiện thao tác này."))
    return actor.user


def _require_agency_staff(actor: Actor, case: Case, *roles: Role) -> User:
    """Officers and leads act only on cases their agency holds now."""
    user = _require_role(actor, *roles)
    if user.role_enum in (Role.officer, Role.lead) and user.agency_id != case.agency_id:
        raise PermissionDenied(_l("Phản ánh này không thuộc cơ quan của bạn."))
    return user


def _require_text(value: str | None, field_name: str, message) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message, {field_name: str(message)})
    return value


def _record(case: Case, actor: Actor, action: str, from_status: str | None, note: str = "",
            public: bool = True, data: dict[str, Any] | None = None, at: datetime | None = None,
            bump: bool = True) -> CaseEvent:
    """Append the timeline event and claim the case's next version: the UPDATE
    is conditional on the version we read, so a concurrent change loses."""
    if bump and case.id is not None:
        case.version = case.version + 1
    # Linked by id, not through case.events: appending to the collection would
    # count as a second change of the case and bump its version twice.
    event = CaseEvent(
        case_id=case.id, at=at or utcnow(), actor_id=actor.user.id if actor.user else None,
        actor_kind=actor.kind, action=action, from_status=from_status, to_status=case.status,
        note=note, public=public, data=data or {},
    )
    db.session.add(event)
    if actor.kind == "staff" and actor.user is not None:
        record_audit(f"case.{action}", case_id=case.id, detail={"from": from_status, "to": case.status},
                     user=actor.user)
    return event


def _move(case: Case, status: Status) -> str:
    previous = case.status
    case.status = status.value
    return previous


def commit() -> None:
    """Commit the transition's transaction; a lost race becomes StaleCase."""
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise StaleCase(STALE_MESSAGE) from exc


def _flush() -> None:
    try:
        db.session.flush()
    except StaleDataError as exc:  # another request committed first
        db.session.rollback()
        raise StaleCase(STALE_MESSAGE) from exc


def _calendar() -> WorkingCalendar:
    with db.session.no_autoflush:  # see _staff_of
        return load_calendar()


def _agency(code_or_id: str | int | Agency | None) -> Agency:
    if isinstance(code_or_id, Agency):
        agency = code_or_id
    elif isinstance(code_or_id, int):
        agency = db.session.get(Agency, code_or_id)
    else:
        with db.session.no_autoflush:
            agency = db.session.execute(select(Agency).where(Agency.code == (code_or_id or ""))).scalar_one_or_none()
    if agency is None or not agency.active:
        raise InvalidInput(_l("Cơ quan không hợp lệ."), {"agency": str(_l("Cơ quan không hợp lệ."))})
    return agency


def desk_agency() -> Agency:
    with db.session.no_autoflush:
        agency = db.session.execute(select(Agency).where(Agency.is_desk.is_(True)).order_by(Agency.id)).scalars().first()
    if agency is None:
        raise RuntimeError("no receiving desk agency is configured (seed the agencies first)")
    return agency


def _staff_of(agency_id: int, *roles: Role) -> list[User]:
    with db.session.no_autoflush:  # the pending change is flushed once, by _flush
        return list(db.session.execute(
            select(User).where(User.agency_id == agency_id, User.active.is_(True),
                               User.role.in_([r.value for r in roles])).order_by(User.id)
        ).scalars())


def _supervisors() -> list[User]:
    with db.session.no_autoflush:
        return list(db.session.execute(
            select(User).where(User.role == Role.supervisor.value, User.active.is_(True)).order_by(User.id)
        ).scalars())


def transition(fn):
    """Run a transition without autoflush: its change is written once, by
    _flush at the end, where a lost race (StaleDataError) becomes StaleCase
    instead of surfacing from whichever lookup happened to flush first."""
    from functools import wraps

    @wraps(fn)
    def wrapper(*args, **kwargs):
        with db.session.no_autoflush:
            return fn(*args, **kwargs)

    return wrapper


# Codes and access links --------------------------------------------------


def next_case_code(at: datetime) -> str:
    """``PAKN.YYYYMMDD.NNNN`` by the local date of receipt, from a per-day counter
    that stays correct with concurrent submissions on PostgreSQL."""
    day = at.astimezone(OFFICE_TZ).strftime("%Y%m%d")
    for _attempt in range(5):
        value = db.session.execute(
            update(DailyCounter).where(DailyCounter.day == day).values(value=DailyCounter.value + 1)
            .returning(DailyCounter.value)
        ).scalar_one_or_none()
        if value is not None:
            return f"PAKN.{day}.{value:04d}"
        try:
            with db.session.begin_nested():
                db.session.add(DailyCounter(day=day, value=0))
        except IntegrityError:
            continue  # another submission created today's counter first
    raise RuntimeError("could not allocate a case code")


def new_access_token(case: Case) -> str:
    """Issue a fresh private link token; the previous one stops working."""
    token = secrets.token_urlsafe(24)
    case.access_token_hash = hash_token(token)
    return token


def case_for_token(token: str) -> Case | None:
    if not token or len(token) > 100:
        return None
    return db.session.execute(select(Case).where(Case.access_token_hash == hash_token(token))).scalar_one_or_none()


# Intake ------------------------------------------------------------------


@dataclass
class Submission:
    """What a sender gives; validated by the form or API before it gets here."""

    type: str
    sender_kind: str
    sender_name: str
    sender_address: str
    sender_phone: str
    sender_email: str
    title: str
    content: str
    category_id: int
    procedure_id: int | None = None
    proposed_agency_id: int | None = None
    sender_id_number: str = ""
    sender_tax_code: str = ""
    sender_representative: str = ""
    publish_consent: bool = False
    language: str = "vi"
    channel: str = Channel.online.value
    received_at: datetime | None = None
    citizen_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@transition
def submit_case(submission: Submission, actor: Actor | None = None, now: datetime | None = None) -> tuple[Case, str]:
    """Create a case held by the receiving desk, with its classify deadline,
    a 'received' event and the receipt in the outbox. Anyone may submit; desk
    staff record cases received by letter, phone or in person, with the real
    date of receipt. Returns the case and its private access token."""
    from .models import Category

    actor = actor or Actor.citizen()
    now = _now(now)
    received_at = submission.received_at or now
    if received_at > now:
        raise InvalidInput(_l("Ngày tiếp nhận không được ở tương lai."),
                           {"received_at": str(_l("Ngày tiếp nhận không được ở tương lai."))})
    if submission.channel != Channel.online.value and actor.kind == "staff":
        _require_role(actor, Role.desk, Role.admin)
    category = db.session.get(Category, submission.category_id)
    if category is None or not category.active:
        raise InvalidInput(_l("Lĩnh vực không hợp lệ."), {"category": str(_l("Lĩnh vực không hợp lệ."))})
    proposed = submission.proposed_agency_id or category.default_agency_id
    desk = desk_agency()
    case = Case(
        code=next_case_code(received_at), version=1, type=submission.type, channel=submission.channel,
        language=submission.language, sender_kind=submission.sender_kind,
        sender_name=submission.sender_name, sender_address=submission.sender_address,
        sender_phone=submission.sender_phone, sender_email=(submission.sender_email or "").strip().lower(),
        sender_id_number=submission.sender_id_number, sender_tax_code=submission.sender_tax_code,
        sender_representative=submission.sender_representative, citizen_id=submission.citizen_id,
        title=submission.title, content=submission.content, publish_consent=submission.publish_consent,
        category=category, procedure_id=submission.procedure_id, agency_id=desk.id,
        proposed_agency_id=proposed, status=Status.submitted.value, received_at=received_at, created_at=now,
    )
    token = new_access_token(case)
    case.classify_due = _calendar().deadline(received_at, policy_days(case, "classify"))
    refresh_next_due(case)
    db.session.add(case)
    _flush()
    _record(case, actor, "submitted", None, data={"channel": submission.channel}, at=now, bump=False)
    from .notifications import case_links

    notify_citizen(case, "receipt", {**case_links(case, token), "classify_due": case.classify_due.isoformat()})
    _flush()
    return case, token


# The desk ----------------------------------------------------------------


@transition
def assign_case(case: Case, actor: Actor, agency, classification: str = Classification.within_competence.value,
                note: str = "", version: int | None = None, now: datetime | None = None) -> Case:
    """Desk: classify a new or returned case and send it to the responsible
    agency. Starts the answer deadline from the moment of assignment."""
    _require_role(actor, Role.desk, Role.admin)
    _check_version(case, version)
    _require_status(case, Status.submitted)
    if classification not in {c.value for c in Classification} - {Classification.rejected.value}:
        raise InvalidInput(_l("Phân loại không hợp lệ."), {"classification": str(_l("Phân loại không hợp lệ."))})
    target = _agency(agency)
    if target.is_desk and classification != Classification.within_competence.value:
        raise InvalidInput(_l("Chọn cơ quan có thẩm quyền xử lý."), {"agency": str(_l("Chọn cơ quan có thẩm quyền xử lý."))})
    now = _now(now)
    first_classification = case.classified_at is None
    previous = _move(case, Status.assigned)
    case.agency_id = target.id
    case.agency = target
    case.classification = classification
    case.officer_id = None
    if first_classification:
        case.classified_at = now
        case.classify_on_time = now <= case.classify_due if case.classify_due else None
    case.assigned_at = now
    case.answer_due = _calendar().deadline(now, policy_days(case, "answer"))
    refresh_next_due(case)
    _record(case, actor, "assigned", previous, note=note,
            data={"agency": target.code, "classification": classification}, at=now)
    for user in _staff_of(target.id, Role.lead, Role.officer):
        notify_user(case, user, "assigned", {"agency": target.name, "answer_due": case.answer_due.isoformat()})
    if classification == Classification.outside_competence.value or previous != Status.submitted.value:
        notify_citizen(case, "transferred", {"agency": target.name})
    _flush()
    return case


@transition
def reject_case(case: Case, actor: Actor, reason: str, version: int | None = None,
                now: datetime | None = None) -> Case:
    """Desk: refuse a case (missing required content or out of scope), with the reason."""
    _require_role(actor, Role.desk, Role.admin)
    _check_version(case, version)
    _require_status(case, Status.submitted)
    reason = _require_text(reason, "reason", _l("Vui lòng nêu lý do không tiếp nhận."))
    now = _now(now)
    previous = _move(case, Status.rejected)
    case.classification = Classification.rejected.value
    case.rejection_reason = reason
    if case.classified_at is None:
        case.classified_at = now
        case.classify_on_time = now <= case.classify_due if case.classify_due else None
    case.closed_at = now
    refresh_next_due(case)
    _record(case, actor, "rejected", previous, note=reason, at=now)
    notify_citizen(case, "rejected", {"reason": reason})
    _flush()
    return case


@transition
def merge_case(case: Case, actor: Actor, into_code: str, version: int | None = None,
               now: datetime | None = None) -> Case:
    """Desk: mark a duplicate as merged into another case; the sender follows that one."""
    _require_role(actor, Role.desk, Role.admin)
    _check_version(case, version)
    _require_status(case, Status.submitted)
    target = db.session.execute(select(Case).where(Case.code == (into_code or "").strip())).scalar_one_or_none()
    if target is None or target.id == case.id or target.status_enum in FINAL_STATUSES - {Status.closed}:
        raise InvalidInput(_l("Không tìm thấy phản ánh để gộp vào."), {"into": str(_l("Không tìm thấy phản ánh để gộp vào."))})
    now = _now(now)
    previous = _move(case, Status.merged)
    case.merged_into_id = target.id
    case.closed_at = now
    refresh_next_due(case)
    _record(case, actor, "merged", previous, note=target.code, data={"into": target.code}, at=now)
    notify_citizen(case, "merged", {"into": target.code})
    _flush()
    return case


@transition
def return_to_desk(case: Case, actor: Actor, reason: str, version: int | None = None,
                   now: datetime | None = None) -> Case:
    """Agency: hand a case back to the desk (not ours); the desk reclassifies it."""
    _require_agency_staff(actor, case, Role.officer, Role.lead)
    _check_version(case, version)
    _require_status(case, Status.assigned, Status.in_progress)
    reason = _require_text(reason, "reason", _l("Vui lòng nêu lý do trả lại."))
    now = _now(now)
    previous = _move(case, Status.submitted)
    case.agency_id = desk_agency().id
    case.officer_id = None
    case.answer_due = None
    refresh_next_due(case)
    _record(case, actor, "returned_to_desk", previous, note=reason, public=False, at=now)
    _flush()
    return case


# The agency --------------------------------------------------------------


@transition
def accept_case(case: Case, actor: Actor, officer: User | None = None, version: int | None = None,
                now: datetime | None = None) -> Case:
    """Officer or lead: take an assigned case into work. A lead may name the
    officer; an officer takes it themself."""
    user = _require_agency_staff(actor, case, Role.officer, Role.lead)
    _check_version(case, version)
    _require_status(case, Status.assigned)
    handler = officer or user
    if handler.agency_id != case.agency_id or handler.role_enum not in (Role.officer, Role.lead):
        raise InvalidInput(_l("Cán bộ được giao phải thuộc cơ quan đang xử lý."), {"officer": str(_l("Cán bộ được giao phải thuộc cơ quan đang xử lý."))})
    if officer is not None and officer.id != user.id and user.role_enum != Role.lead:
        raise PermissionDenied(_l("Chỉ lãnh đạo cơ quan được giao việc cho cán bộ khác."))
    now = _now(now)
    previous = _move(case, Status.in_progress)
    case.officer_id = handler.id
    refresh_next_due(case)
    _record(case, actor, "accepted", previous, data={"officer": handler.email}, at=now)
    _flush()
    return case


@transition
def assign_officer(case: Case, actor: Actor, officer: User, version: int | None = None,
                   now: datetime | None = None) -> Case:
    """Lead: give a case already in work to another officer of the agency."""
    _require_agency_staff(actor, case, Role.lead)
    _check_version(case, version)
    _require_status(case, Status.in_progress, Status.needs_info)
    if officer.agency_id != case.agency_id or officer.role_enum not in (Role.officer, Role.lead):
        raise InvalidInput(_l("Cán bộ được giao phải thuộc cơ quan đang xử lý."), {"officer": str(_l("Cán bộ được giao phải thuộc cơ quan đang xử lý."))})
    case.officer_id = officer.id
    _record(case, actor, "officer_assigned", case.status, public=False, data={"officer": officer.email}, at=_now(now))
    notify_user(case, officer, "assigned", {"answer_due": case.answer_due.isoformat() if case.answer_due else ""})
    _flush()
    return case


@transition
def transfer_case(case: Case, actor: Actor, agency, reason: str, version: int | None = None,
                  now: datetime | None = None) -> Case:
    """Agency (or desk): send the case on to the competent agency; the answer
    deadline starts again from the transfer."""
    user = _require_agency_staff(actor, case, Role.officer, Role.lead, Role.desk)
    _check_version(case, version)
    _require_status(case, Status.assigned, Status.in_progress)
    reason = _require_text(reason, "reason", _l("Vui lòng nêu lý do chuyển."))
    target = _agency(agency)
    if target.id == case.agency_id or target.is_desk:
        raise InvalidInput(_l("Chọn một cơ quan khác để chuyển."), {"agency": str(_l("Chọn một cơ quan khác để chuyển."))})
    now = _now(now)
    previous = _move(case, Status.assigned)
    from_code = case.agency.code if case.agency else None
    case.agency_id = target.id
    case.agency = target
    case.officer_id = None
    case.assigned_at = now
    case.answer_due = _calendar().deadline(now, policy_days(case, "answer"))
    refresh_next_due(case)
    _record(case, actor, "transferred", previous, note=reason,
            data={"from": from_code, "to": target.code, "by": user.email}, at=now)
    for staff in _staff_of(target.id, Role.lead, Role.officer):
        notify_user(case, staff, "assigned", {"agency": target.name, "answer_due": case.answer_due.isoformat()})
    notify_citizen(case, "transferred", {"agency": target.name, "reason": reason})
    _flush()
    return case


@transition
def request_information(case: Case, actor: Actor, message: str, version: int | None = None,
                        now: datetime | None = None) -> Case:
    """Officer or lead: ask the citizen for more information. The answer clock
    stops; the citizen has the configured working days to reply."""
    _require_agency_staff(actor, case, Role.officer, Role.lead)
    _check_version(case, version)
    _require_status(case, Status.in_progress)
    message = _require_text(message, "message", _l("Vui lòng nêu thông tin cần bổ sung."))
    now = _now(now)
    previous = _move(case, Status.needs_info)
    case.info_requested_at = now
    case.info_due = _calendar().deadline(now, policy_days(case, "info"))
    refresh_next_due(case)
    _record(case, actor, "info_requested", previous, note=message, at=now)
    notify_citizen(case, "info_requested", {"message": message, "info_due": case.info_due.isoformat()})
    _flush()
    return case


@transition
def provide_information(case: Case, actor: Actor, message: str, version: int | None = None,
                        now: datetime | None = None) -> Case:
    """Citizen: answer a request for information. The answer clock resumes with
    the working days spent waiting added back."""
    if actor.kind != "citizen":
        raise PermissionDenied(_l("Chỉ người gửi phản ánh được bổ sung thông tin."))
    _check_version(case, version)
    _require_status(case, Status.needs_info)
    message = _require_text(message, "message", _l("Vui lòng nhập nội dung bổ sung."))
    now = _now(now)
    calendar = _calendar()
    paused = calendar.working_days_paused(case.info_requested_at, now)
    previous = _move(case, Status.in_progress)
    case.paused_days = (case.paused_days or 0) + paused
    if paused and case.answer_due is not None:
        case.answer_due = calendar.extend(case.answer_due, paused)
    case.info_requested_at = None
    case.info_due = None
    refresh_next_due(case)
    _record(case, actor, "info_provided", previous, note=message, data={"paused_days": paused}, at=now)
    if case.officer is not None:
        notify_user(case, case.officer, "info_provided", {})
    _flush()
    return case


@transition
def close_incomplete(case: Case, actor: Actor | None = None, now: datetime | None = None) -> Case:
    """System: close a case whose citizen did not answer a request for
    information in time."""
    actor = actor or Actor.system()
    now = _now(now)
    _require_status(case, Status.needs_info)
    _check_version(case, None)
    if case.info_due is None or now <= case.info_due:
        raise NotAllowedNow(_l("Chưa hết hạn bổ sung thông tin."))
    previous = _move(case, Status.closed)
    case.closed_at = now
    case.close_reason = "incomplete"
    refresh_next_due(case)
    _record(case, actor, "closed_incomplete", previous, at=now)
    notify_citizen(case, "closed_incomplete", {})
    _flush()
    return case


@transition
def submit_answer(case: Case, actor: Actor, outcome: str, answer: str, version: int | None = None,
                  now: datetime | None = None) -> Case:
    """Officer or lead: write the answer. Where the agency requires its lead's
    approval and the writer is not the lead, it waits for approval; otherwise
    it goes to the citizen at once."""
    user = _require_agency_staff(actor, case, Role.officer, Role.lead)
    _check_version(case, version)
    _require_status(case, Status.in_progress)
    if outcome not in {o.value for o in Outcome}:
        raise InvalidInput(_l("Chọn kết quả xử lý."), {"outcome": str(_l("Chọn kết quả xử lý."))})
    answer = _require_text(answer, "answer", _l("Vui lòng nhập nội dung trả lời."))
    now = _now(now)
    case.draft_outcome = outcome
    case.draft_answer = answer
    if case.agency.requires_approval and user.role_enum != Role.lead:
        previous = _move(case, Status.awaiting_approval)
        refresh_next_due(case)
        _record(case, actor, "answer_drafted", previous, public=False, data={"outcome": outcome}, at=now)
        for lead in _staff_of(case.agency_id, Role.lead):
            notify_user(case, lead, "approval_needed", {})
        _flush()
        return case
    _deliver_answer(case, actor, user, now)
    return case


@transition
def approve_answer(case: Case, actor: Actor, version: int | None = None, now: datetime | None = None) -> Case:
    """Lead: approve the drafted answer; it goes to the citizen."""
    user = _require_agency_staff(actor, case, Role.lead)
    _check_version(case, version)
    _require_status(case, Status.awaiting_approval)
    _deliver_answer(case, actor, user, _now(now))
    return case


@transition
def send_back_answer(case: Case, actor: Actor, reason: str, version: int | None = None,
                     now: datetime | None = None) -> Case:
    """Lead: return the drafted answer to the officer with a reason."""
    _require_agency_staff(actor, case, Role.lead)
    _check_version(case, version)
    _require_status(case, Status.awaiting_approval)
    reason = _require_text(reason, "reason", _l("Vui lòng nêu lý do trả lại dự thảo."))
    previous = _move(case, Status.in_progress)
    refresh_next_due(case)
    _record(case, actor, "answer_sent_back", previous, note=reason, public=False, at=_now(now))
    if case.officer is not None:
        notify_user(case, case.officer, "approval_needed", {"sent_back": reason})
    _flush()
    return case


def _deliver_answer(case: Case, actor: Actor, user: User, now: datetime) -> None:
    """Record the answer as sent to the citizen, with its on-time result,
    measured once against the deadline in force (extension included)."""
    calendar = _calendar()
    previous = _move(case, Status.responded)
    case.outcome = case.draft_outcome
    case.answer = case.draft_answer
    case.answered_at = now
    case.answered_by_id = case.officer_id or user.id
    if case.answer_due is not None:
        case.answer_lateness_days = calendar.lateness(case.answer_due, now)
        case.answer_on_time = now <= case.answer_due
    if case.assigned_at is not None:
        case.answer_working_days = max(
            0, calendar.working_days_paused(case.assigned_at, now) - (case.paused_days or 0))
    case.rating_due = calendar.deadline(now, policy_days(case, "rating"))
    refresh_next_due(case)
    _record(case, actor, "answered", previous, note=case.answer,
            data={"outcome": case.outcome, "on_time": case.answer_on_time,
                  "lateness_days": case.answer_lateness_days}, at=now)
    notify_citizen(case, "answered", {"outcome": case.outcome, "answer": case.answer})

    notify_citizen(case, "rating_request", {"rating_due": case.rating_due.isoformat()})
    _flush()


@transition
def request_extension(case: Case, actor: Actor, days: int, reason: str, version: int | None = None,
                      now: datetime | None = None) -> Case:
    """Officer or lead: ask a supervisor for the one extension a case may have."""
    _require_agency_staff(actor, case, Role.officer, Role.lead)
    _check_version(case, version)
    _require_status(case, Status.assigned, Status.in_progress, Status.awaiting_approval)
    if case.extension_status in ("requested", "approved"):
        raise NotAllowedNow(_l("Mỗi phản ánh chỉ được gia hạn một lần."))
    maximum = policy_days(case, "extension")
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= maximum:
        message = _l("Số ngày gia hạn từ 1 đến %(max)s ngày làm việc.", max=maximum)
        raise InvalidInput(message, {"days": str(message)})
    reason = _require_text(reason, "reason", _l("Vui lòng nêu lý do gia hạn."))
    case.extension_status = "requested"
    case.extension_requested_days = days
    case.extension_reason = reason
    _record(case, actor, "extension_requested", case.status, note=reason, public=False,
            data={"days": days}, at=_now(now))
    for supervisor in _supervisors():
        notify_user(case, supervisor, "extension_requested", {"days": days, "reason": reason})
    _flush()
    return case


@transition
def decide_extension(case: Case, actor: Actor, approve: bool, note: str = "", version: int | None = None,
                     now: datetime | None = None) -> Case:
    """Supervisor: approve (the answer deadline moves by the days asked, and the
    citizen is told why) or refuse an extension request."""
    _require_role(actor, Role.supervisor)
    _check_version(case, version)
    if case.extension_status != "requested":
        raise NotAllowedNow(_l("Không có đề nghị gia hạn đang chờ quyết định."))
    now = _now(now)
    if approve:
        days = case.extension_requested_days or 0
        case.extension_status = "approved"
        case.extension_days = days
        case.answer_due = _calendar().extend(case.answer_due, days)
        refresh_next_due(case)
        _record(case, actor, "extension_approved", case.status, note=case.extension_reason,
                data={"days": days, "answer_due": case.answer_due.isoformat()}, at=now)
        notify_citizen(case, "extension_approved", {"days": days, "reason": case.extension_reason,
                                                    "answer_due": case.answer_due.isoformat()})
    else:
        case.extension_status = "denied"
        _record(case, actor, "extension_denied", case.status, note=note, public=False, at=now)
    _flush()
    return case


# Publication and closing ---------------------------------------------------


@transition
def publish_case(case: Case, actor: Actor, public_title: str, public_content: str, version: int | None = None,
                 now: datetime | None = None) -> Case:
    """Desk: publish the anonymised question with its answer. Needs the sender's
    consent, and refuses text in which personal data is still detected."""
    from .redaction import find_personal_data
    from .text import fold

    _require_role(actor, Role.desk, Role.admin)
    _check_version(case, version)
    _require_status(case, Status.responded, Status.closed)
    if not case.answer:
        raise NotAllowedNow(_l("Phản ánh chưa có câu trả lời để công khai."))
    if not case.publish_consent:
        raise NotAllowedNow(_l("Người gửi không đồng ý công khai phản ánh này."))
    public_title = _require_text(public_title, "public_title", _l("Vui lòng nhập tiêu đề công khai."))
    public_content = _require_text(public_content, "public_content", _l("Vui lòng nhập nội dung công khai."))
    leftovers = find_personal_data(f"{public_title}\n{public_content}", case)
    if leftovers:
        message = _l("Nội dung công khai còn thông tin cá nhân: %(items)s", items=", ".join(leftovers))
        raise InvalidInput(message, {"public_content": str(message)})
    now = _now(now)
    case.published = True
    case.published_at = now
    case.public_title = public_title
    case.public_content = public_content
    case.search_text = fold(f"{public_title} {public_content} {case.public_answer}")
    _record(case, actor, "published", case.status, at=now)
    _flush()
    return case


@transition
def close_case(case: Case, actor: Actor, reason: str = "", version: int | None = None,
               now: datetime | None = None) -> Case:
    """Supervisor or desk closes an answered case; the system closes one whose
    rating window has passed."""
    if actor.kind != "system":
        _require_role(actor, Role.supervisor, Role.desk, Role.admin)
    _check_version(case, version)
    _require_status(case, Status.responded)
    now = _now(now)
    if actor.kind == "system" and (case.rating_due is None or now <= case.rating_due):
        raise NotAllowedNow(_l("Chưa hết thời hạn đánh giá."))
    previous = _move(case, Status.closed)
    case.closed_at = now
    case.close_reason = "rating_window" if actor.kind == "system" else "closed"
    refresh_next_due(case)
    _record(case, actor, "closed", previous, note=reason, at=now)
    _flush()
    return case


@transition
def withdraw_case(case: Case, actor: Actor, reason: str = "", version: int | None = None,
                  now: datetime | None = None) -> Case:
    """Citizen: withdraw a case that has not been answered yet."""
    if actor.kind != "citizen":
        raise PermissionDenied(_l("Chỉ người gửi được rút phản ánh."))
    _check_version(case, version)
    _require_status(case, Status.submitted, Status.assigned, Status.in_progress, Status.needs_info,
                    Status.awaiting_approval)
    now = _now(now)
    previous = _move(case, Status.withdrawn)
    case.closed_at = now
    refresh_next_due(case)
    _record(case, actor, "withdrawn", previous, note=reason, at=now)
    _flush()
    return case


@transition
def request_review(case: Case, actor: Actor, reason: str, version: int | None = None,
                   now: datetime | None = None) -> Case:
    """Citizen: ask for the answer to be reviewed (after a low rating) within
    the rating window; supervisors decide."""
    if actor.kind != "citizen":
        raise PermissionDenied(_l("Chỉ người gửi được đề nghị xem xét lại."))
    _check_version(case, version)
    _require_status(case, Status.responded)
    now = _now(now)
    if case.rating_due is not None and now > case.rating_due:
        raise NotAllowedNow(_l("Đã hết thời hạn đề nghị xem xét lại."))
    reason = _require_text(reason, "reason", _l("Vui lòng nêu lý do đề nghị xem xét lại."))
    previous = _move(case, Status.review_requested)
    case.review_due = _calendar().deadline(now, policy_days(case, "classify"))
    refresh_next_due(case)
    _record(case, actor, "review_requested", previous, note=reason, at=now)
    for supervisor in _supervisors():
        notify_user(case, supervisor, "review_requested", {"reason": reason})
    _flush()
    return case


@transition
def decide_review(case: Case, actor: Actor, reopen: bool, note: str, version: int | None = None,
                  now: datetime | None = None) -> Case:
    """Supervisor: uphold the answer (the case closes, the citizen is told why)
    or reopen it to the agency with a fresh answer deadline."""
    _require_role(actor, Role.supervisor)
    _check_version(case, version)
    _require_status(case, Status.review_requested)
    note = _require_text(note, "note", _l("Vui lòng ghi rõ lý do quyết định."))
    now = _now(now)
    if reopen:
        return _reopen(case, actor, note, now)
    previous = _move(case, Status.closed)
    case.closed_at = now
    case.close_reason = "review_upheld"
    case.review_due = None
    refresh_next_due(case)
    _record(case, actor, "review_upheld", previous, note=note, at=now)
    notify_citizen(case, "review_outcome", {"reopened": False, "note": note})
    _flush()
    return case


@transition
def reopen_case(case: Case, actor: Actor, reason: str, version: int | None = None,
                now: datetime | None = None) -> Case:
    """Supervisor: reopen an answered or closed case to its agency with a new deadline."""
    _require_role(actor, Role.supervisor)
    _check_version(case, version)
    _require_status(case, Status.responded, Status.closed, Status.review_requested)
    if case.answered_at is None:
        raise NotAllowedNow(_l("Chỉ mở lại phản ánh đã được trả lời."))
    reason = _require_text(reason, "reason", _l("Vui lòng nêu lý do mở lại."))
    return _reopen(case, actor, reason, _now(now))


def _reopen(case: Case, actor: Actor, note: str, now: datetime) -> Case:
    previous = _move(case, Status.in_progress)
    case.closed_at = None
    case.close_reason = ""
    case.review_due = None
    case.rating_due = None
    case.assigned_at = now
    case.answer_due = _calendar().deadline(now, policy_days(case, "answer"))
    refresh_next_due(case)
    _record(case, actor, "reopened", previous, note=note, data={"answer_due": case.answer_due.isoformat()}, at=now)
    notify_citizen(case, "review_outcome", {"reopened": True, "note": note, "answer_due": case.answer_due.isoformat()})
    for user in _staff_of(case.agency_id, Role.lead, Role.officer):
        notify_user(case, user, "assigned", {"reopened": True, "answer_due": case.answer_due.isoformat()})
    _flush()
    return case


@transition
def add_note(case: Case, actor: Actor, note: str, now: datetime | None = None) -> CaseEvent:
    """Staff in scope: an internal note on the timeline (no status change)."""
    _require_agency_staff(actor, case, Role.officer, Role.lead, Role.desk, Role.supervisor)
    note = _require_text(note, "note", _l("Vui lòng nhập ghi chú."))
    event = _record(case, actor, "note", case.status, note=note, public=False, at=_now(now), bump=False)
    _flush()
    return event


def available_actions(case: Case, user: User | None) -> set[str]:
    """The transitions the viewer may attempt now, for showing buttons. The
    functions above still check everything when called."""
    if user is None or not user.is_staff:
        return set()
    role = user.role_enum
    status = case.status_enum
    in_agency = role in (Role.officer, Role.lead) and user.agency_id == case.agency_id
    actions: set[str] = set()
    if role in (Role.desk, Role.admin) and status == Status.submitted:
        actions |= {"assign", "reject", "merge"}
    if in_agency and status == Status.assigned:
        actions |= {"accept", "transfer", "return_to_desk", "request_extension"}
    if in_agency and status == Status.in_progress:
        actions |= {"request_info", "answer", "transfer", "return_to_desk", "request_extension"}
        if role == Role.lead:
            actions.add("assign_officer")
    if in_agency and role == Role.lead and status == Status.awaiting_approval:
        actions |= {"approve", "send_back"}
    if case.extension_status in ("requested", "approved"):
        actions.discard("request_extension")
    if role == Role.supervisor and case.extension_status == "requested":
        actions.add("decide_extension")
    if role == Role.supervisor and status == Status.review_requested:
        actions.add("decide_review")
    if role == Role.supervisor and status in (Status.responded, Status.closed) and case.answered_at:
        actions.add("reopen")
    if role in (Role.supervisor, Role.desk, Role.admin) and status == Status.responded:
        actions.add("close")
    if role in (Role.desk, Role.admin) and status in (Status.responded, Status.closed) and case.publish_consent \
            and case.answer and not case.published:
        actions.add("publish")
    if in_agency or role in (Role.desk, Role.supervisor):
        actions.add("note")
    return actions
