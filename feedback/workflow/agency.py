"""The agency: take a case into work, hand it on, ask the sender, answer
(with the lead's approval where required), ask for an extension."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..models import Case, Outcome, Role, Status, User
from ..notifications import notify_citizen, notify_user
from .core import (
    Actor,
    agency_named,
    flush,
    move,
    now_or,
    record,
    require_text,
    staff_of,
    supervisors,
    transition,
    working_calendar,
)
from .errors import InvalidInput, PermissionDenied
from .policy import policy_days, refresh_next_due
from .rules import guard


@transition
def accept_case(case: Case, actor: Actor, officer: User | None = None, version: int | None = None,
                now: datetime | None = None) -> Case:
    """Officer or lead: take an assigned case into work. A lead may name the
    officer; an officer takes it themself."""
    user = guard(case, actor, "accept", version)
    handler = officer or user
    if handler.agency_id != case.agency_id or handler.role_enum not in (Role.officer, Role.lead):
        message = _l("Cán bộ được giao phải thuộc cơ quan đang xử lý.")
        raise InvalidInput(message, {"officer": str(message)})
    if officer is not None and officer.id != user.id and user.role_enum != Role.lead:
        raise PermissionDenied(_l("Chỉ lãnh đạo cơ quan được giao việc cho cán bộ khác."))
    now = now_or(now)
    previous = move(case, Status.in_progress)
    case.officer_id = handler.id
    refresh_next_due(case)
    record(case, actor, "accepted", previous, data={"officer": handler.email}, at=now)
    flush()
    return case


@transition
def assign_officer(case: Case, actor: Actor, officer: User, version: int | None = None,
                   now: datetime | None = None) -> Case:
    """Lead: give a case already in work to another officer of the agency."""
    guard(case, actor, "assign_officer", version)
    if officer.agency_id != case.agency_id or officer.role_enum not in (Role.officer, Role.lead):
        message = _l("Cán bộ được giao phải thuộc cơ quan đang xử lý.")
        raise InvalidInput(message, {"officer": str(message)})
    case.officer_id = officer.id
    record(case, actor, "officer_assigned", case.status, public=False, data={"officer": officer.email}, at=now_or(now))
    notify_user(case, officer, "assigned", {"answer_due": case.answer_due.isoformat() if case.answer_due else ""})
    flush()
    return case


@transition
def transfer_case(case: Case, actor: Actor, agency, reason: str, version: int | None = None,
                  now: datetime | None = None) -> Case:
    """Agency (or desk): send the case on to the competent agency; the answer
    deadline starts again from the transfer."""
    user = guard(case, actor, "transfer", version)
    reason = require_text(reason, "reason", _l("Vui lòng nêu lý do chuyển."))
    target = agency_named(agency)
    if target.id == case.agency_id or target.is_desk:
        message = _l("Chọn một cơ quan khác để chuyển.")
        raise InvalidInput(message, {"agency": str(message)})
    now = now_or(now)
    previous = move(case, Status.assigned)
    from_code = case.agency.code if case.agency else None
    case.agency_id = target.id
    case.agency = target
    case.officer_id = None
    case.assigned_at = now
    case.answer_due = working_calendar().deadline(now, policy_days(case, "answer"))
    refresh_next_due(case)
    record(case, actor, "transferred", previous, note=reason,
            data={"from": from_code, "to": target.code, "by": user.email}, at=now)
    for staff in staff_of(target.id, Role.lead, Role.officer):
        notify_user(case, staff, "assigned", {"agency": target.name, "answer_due": case.answer_due.isoformat()})
    notify_citizen(case, "transferred", {"agency": target.name, "reason": reason})
    flush()
    return case


@transition
def request_information(case: Case, actor: Actor, message: str, version: int | None = None,
                        now: datetime | None = None) -> Case:
    """Officer or lead: ask the citizen for more information. The answer clock
    stops; the citizen has the configured working days to reply."""
    guard(case, actor, "request_info", version)
    message = require_text(message, "message", _l("Vui lòng nêu thông tin cần bổ sung."))
    now = now_or(now)
    previous = move(case, Status.needs_info)
    case.info_requested_at = now
    case.info_due = working_calendar().deadline(now, policy_days(case, "info"))
    refresh_next_due(case)
    record(case, actor, "info_requested", previous, note=message, at=now)
    notify_citizen(case, "info_requested", {"message": message, "info_due": case.info_due.isoformat()})
    flush()
    return case


@transition
def provide_information(case: Case, actor: Actor, message: str, version: int | None = None,
                        now: datetime | None = None) -> Case:
    """Citizen: answer a request for information. The answer clock resumes with
    the working days spent waiting added back."""
    guard(case, actor, "provide_info", version)
    message = require_text(message, "message", _l("Vui lòng nhập nội dung bổ sung."))
    now = now_or(now)
    calendar = working_calendar()
    paused = calendar.working_days_paused(case.info_requested_at, now)
    previous = move(case, Status.in_progress)
    case.paused_days = (case.paused_days or 0) + paused
    if paused and case.answer_due is not None:
        case.answer_due = calendar.extend(case.answer_due, paused)
    case.info_requested_at = None
    case.info_due = None
    refresh_next_due(case)
    record(case, actor, "info_provided", previous, note=message, data={"paused_days": paused}, at=now)
    if case.officer is not None:
        notify_user(case, case.officer, "info_provided", {})
    flush()
    return case


@transition
def close_incomplete(case: Case, actor: Actor | None = None, now: datetime | None = None) -> Case:
    """System: close a case whose citizen did not answer a request for
    information in time."""
    actor = actor or Actor.system()
    now = now_or(now)
    guard(case, actor, "close_incomplete", now=now)
    previous = move(case, Status.closed)
    case.closed_at = now
    case.close_reason = "incomplete"
    refresh_next_due(case)
    record(case, actor, "closed_incomplete", previous, at=now)
    notify_citizen(case, "closed_incomplete", {})
    flush()
    return case


@transition
def submit_answer(case: Case, actor: Actor, outcome: str, answer: str, version: int | None = None,
                  now: datetime | None = None) -> Case:
    """Officer or lead: write the answer. Where the agency requires its lead's
    approval and the writer is not the lead, it waits for approval; otherwise
    it goes to the citizen at once."""
    user = guard(case, actor, "answer", version)
    if outcome not in {o.value for o in Outcome}:
        message = _l("Chọn kết quả xử lý.")
        raise InvalidInput(message, {"outcome": str(message)})
    answer = require_text(answer, "answer", _l("Vui lòng nhập nội dung trả lời."))
    now = now_or(now)
    case.draft_outcome = outcome
    case.draft_answer = answer
    if case.agency.requires_approval and user.role_enum != Role.lead:
        previous = move(case, Status.awaiting_approval)
        refresh_next_due(case)
        record(case, actor, "answer_drafted", previous, public=False, data={"outcome": outcome}, at=now)
        for lead in staff_of(case.agency_id, Role.lead):
            notify_user(case, lead, "approval_needed", {})
        flush()
        return case
    _deliver_answer(case, actor, user, now)
    return case


@transition
def approve_answer(case: Case, actor: Actor, version: int | None = None, now: datetime | None = None) -> Case:
    """Lead: approve the drafted answer; it goes to the citizen."""
    user = guard(case, actor, "approve", version)
    _deliver_answer(case, actor, user, now_or(now))
    return case


@transition
def send_back_answer(case: Case, actor: Actor, reason: str, version: int | None = None,
                     now: datetime | None = None) -> Case:
    """Lead: return the drafted answer to the officer with a reason."""
    guard(case, actor, "send_back", version)
    reason = require_text(reason, "reason", _l("Vui lòng nêu lý do trả lại dự thảo."))
    previous = move(case, Status.in_progress)
    refresh_next_due(case)
    record(case, actor, "answer_sent_back", previous, note=reason, public=False, at=now_or(now))
    if case.officer is not None:
        notify_user(case, case.officer, "approval_needed", {"sent_back": reason})
    flush()
    return case


def _deliver_answer(case: Case, actor: Actor, user: User, now: datetime) -> None:
    """Record the answer as sent to the citizen, with its on-time result,
    measured once against the deadline in force (extension included)."""
    calendar = working_calendar()
    previous = move(case, Status.responded)
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
    record(case, actor, "answered", previous, note=case.answer,
            data={"outcome": case.outcome, "on_time": case.answer_on_time,
                  "lateness_days": case.answer_lateness_days}, at=now)
    notify_citizen(case, "answered", {"outcome": case.outcome, "answer": case.answer})
    notify_citizen(case, "rating_request", {"rating_due": case.rating_due.isoformat()})
    flush()


@transition
def request_extension(case: Case, actor: Actor, days: int, reason: str, version: int | None = None,
                      now: datetime | None = None) -> Case:
    """Officer or lead: ask a supervisor for the one extension a case may have."""
    guard(case, actor, "request_extension", version)
    maximum = policy_days(case, "extension")
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= maximum:
        message = _l("Số ngày gia hạn từ 1 đến %(max)s ngày làm việc.", max=maximum)
        raise InvalidInput(message, {"days": str(message)})
    reason = require_text(reason, "reason", _l("Vui lòng nêu lý do gia hạn."))
    case.extension_status = "requested"
    case.extension_requested_days = days
    case.extension_reason = reason
    record(case, actor, "extension_requested", case.status, note=reason, public=False,
            data={"days": days}, at=now_or(now))
    for supervisor in supervisors():
        notify_user(case, supervisor, "extension_requested", {"days": days, "reason": reason})
    flush()
    return case
