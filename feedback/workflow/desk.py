"""The receiving desk: classify and send on, refuse, merge; and the agency
handing a case back to the desk."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..access import case_by_code
from ..models import FINAL_STATUSES, Case, Classification, Role, Status
from ..notifications import notify_citizen, notify_user
from .core import (
    Actor,
    agency_named,
    desk_agency,
    flush,
    move,
    now_or,
    record,
    require_text,
    staff_of,
    transition,
    working_calendar,
)
from .errors import InvalidInput
from .policy import policy_days, refresh_next_due
from .rules import guard


@transition
def assign_case(case: Case, actor: Actor, agency, classification: str = Classification.within_competence.value,
                note: str = "", version: int | None = None, now: datetime | None = None) -> Case:
    """Desk: classify a new or returned case and send it to the responsible
    agency. Starts the answer deadline from the moment of assignment."""
    guard(case, actor, "assign", version)
    if classification not in {c.value for c in Classification} - {Classification.rejected.value}:
        message = _l("Phân loại không hợp lệ.")
        raise InvalidInput(message, {"classification": str(message)})
    target = agency_named(agency)
    if target.is_desk and classification != Classification.within_competence.value:
        message = _l("Chọn cơ quan có thẩm quyền xử lý.")
        raise InvalidInput(message, {"agency": str(message)})
    now = now_or(now)
    first_classification = case.classified_at is None
    previous = move(case, Status.assigned)
    case.agency_id = target.id
    case.agency = target
    case.classification = classification
    case.officer_id = None
    if first_classification:
        case.classified_at = now
        case.classify_on_time = now <= case.classify_due if case.classify_due else None
    case.assigned_at = now
    case.answer_due = working_calendar().deadline(now, policy_days(case, "answer"))
    refresh_next_due(case)
    record(case, actor, "assigned", previous, note=note,
            data={"agency": target.code, "classification": classification}, at=now)
    for user in staff_of(target.id, Role.lead, Role.officer):
        notify_user(case, user, "assigned", {"agency": target.name, "answer_due": case.answer_due.isoformat()})
    # The sender hears of a move: to another agency than theirs on first
    # classification, or on any reassignment of a case an agency handed back.
    if classification == Classification.outside_competence.value or not first_classification:
        notify_citizen(case, "transferred", {"agency": target.name})
    flush()
    return case


@transition
def reject_case(case: Case, actor: Actor, reason: str, version: int | None = None,
                now: datetime | None = None) -> Case:
    """Desk: refuse a case (missing required content or out of scope), with the reason."""
    guard(case, actor, "reject", version)
    reason = require_text(reason, "reason", _l("Vui lòng nêu lý do không tiếp nhận."))
    now = now_or(now)
    previous = move(case, Status.rejected)
    case.classification = Classification.rejected.value
    case.rejection_reason = reason
    if case.classified_at is None:
        case.classified_at = now
        case.classify_on_time = now <= case.classify_due if case.classify_due else None
    case.closed_at = now
    refresh_next_due(case)
    record(case, actor, "rejected", previous, note=reason, at=now)
    notify_citizen(case, "rejected", {"reason": reason})
    flush()
    return case


@transition
def merge_case(case: Case, actor: Actor, into_code: str, version: int | None = None,
               now: datetime | None = None) -> Case:
    """Desk: mark a duplicate as merged into another case; the sender follows that one."""
    guard(case, actor, "merge", version)
    target = case_by_code((into_code or "").strip())
    if target is None or target.id == case.id or target.status_enum in FINAL_STATUSES - {Status.closed}:
        message = _l("Không tìm thấy phản ánh để gộp vào.")
        raise InvalidInput(message, {"into": str(message)})
    now = now_or(now)
    previous = move(case, Status.merged)
    case.merged_into_id = target.id
    case.closed_at = now
    refresh_next_due(case)
    record(case, actor, "merged", previous, note=target.code, data={"into": target.code}, at=now)
    notify_citizen(case, "merged", {"into": target.code})
    flush()
    return case


@transition
def return_to_desk(case: Case, actor: Actor, reason: str, version: int | None = None,
                   now: datetime | None = None) -> Case:
    """Agency: hand a case back to the desk (not ours); the desk reclassifies it."""
    guard(case, actor, "return_to_desk", version)
    reason = require_text(reason, "reason", _l("Vui lòng nêu lý do trả lại."))
    now = now_or(now)
    previous = move(case, Status.submitted)
    case.agency_id = desk_agency().id
    case.officer_id = None
    case.answer_due = None
    refresh_next_due(case)
    record(case, actor, "returned_to_desk", previous, note=reason, public=False, at=now)
    flush()
    return case
