"""Supervisors' decisions: extensions, the sender's review request, reopening."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..models import Case, Role, Status
from ..notifications import notify_citizen, notify_user
from .core import (
    Actor,
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
from .policy import policy_days, refresh_next_due
from .rules import guard


@transition
def decide_extension(case: Case, actor: Actor, approve: bool, note: str = "", version: int | None = None,
                     now: datetime | None = None) -> Case:
    """Supervisor: approve (the answer deadline moves by the days asked, and the
    citizen is told why) or refuse an extension request."""
    guard(case, actor, "decide_extension", version)
    now = now_or(now)
    if approve:
        days = case.extension_requested_days or 0
        case.extension_status = "approved"
        case.extension_days = days
        case.answer_due = working_calendar().extend(case.answer_due, days)
        refresh_next_due(case)
        record(case, actor, "extension_approved", case.status, note=case.extension_reason,
                data={"days": days, "answer_due": case.answer_due.isoformat()}, at=now)
        notify_citizen(case, "extension_approved", {"days": days, "reason": case.extension_reason,
                                                    "answer_due": case.answer_due.isoformat()})
    else:
        case.extension_status = "denied"
        record(case, actor, "extension_denied", case.status, note=note, public=False, at=now)
    flush()
    return case


@transition
def request_review(case: Case, actor: Actor, reason: str, version: int | None = None,
                   now: datetime | None = None) -> Case:
    """Citizen: ask for the answer to be reviewed (after a low rating) within
    the rating window; supervisors decide."""
    now = now_or(now)
    guard(case, actor, "request_review", version, now=now)
    reason = require_text(reason, "reason", _l("Vui lòng nêu lý do đề nghị xem xét lại."))
    previous = move(case, Status.review_requested)
    case.review_due = working_calendar().deadline(now, policy_days(case, "classify"))
    refresh_next_due(case)
    record(case, actor, "review_requested", previous, note=reason, at=now)
    for supervisor in supervisors():
        notify_user(case, supervisor, "review_requested", {"reason": reason})
    flush()
    return case


@transition
def decide_review(case: Case, actor: Actor, reopen: bool, note: str, version: int | None = None,
                  now: datetime | None = None) -> Case:
    """Supervisor: uphold the answer (the case closes, the citizen is told why)
    or reopen it to the agency with a fresh answer deadline."""
    guard(case, actor, "decide_review", version)
    note = require_text(note, "note", _l("Vui lòng ghi rõ lý do quyết định."))
    now = now_or(now)
    if reopen:
        return _reopen(case, actor, note, now)
    previous = move(case, Status.closed)
    case.closed_at = now
    case.close_reason = "review_upheld"
    case.review_due = None
    refresh_next_due(case)
    record(case, actor, "review_upheld", previous, note=note, at=now)
    notify_citizen(case, "review_outcome", {"reopened": False, "note": note})
    flush()
    return case


@transition
def reopen_case(case: Case, actor: Actor, reason: str, version: int | None = None,
                now: datetime | None = None) -> Case:
    """Supervisor: reopen an answered or closed case to its agency with a new deadline."""
    guard(case, actor, "reopen", version)
    reason = require_text(reason, "reason", _l("Vui lòng nêu lý do mở lại."))
    return _reopen(case, actor, reason, now_or(now))


def _reopen(case: Case, actor: Actor, note: str, now: datetime) -> Case:
    previous = move(case, Status.in_progress)
    case.closed_at = None
    case.close_reason = ""
    case.review_due = None
    case.rating_due = None
    case.assigned_at = now
    case.answer_due = working_calendar().deadline(now, policy_days(case, "answer"))
    refresh_next_due(case)
    record(case, actor, "reopened", previous, note=note, data={"answer_due": case.answer_due.isoformat()}, at=now)
    notify_citizen(case, "review_outcome", {"reopened": True, "note": note, "answer_due": case.answer_due.isoformat()})
    for user in staff_of(case.agency_id, Role.lead, Role.officer):
        notify_user(case, user, "assigned", {"reopened": True, "answer_due": case.answer_due.isoformat()})
    flush()
    return case
