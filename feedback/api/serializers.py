"""Cases and catalogue rows as the API shows them, to three audiences.

- ``public_case``: anyone with the code: status, agencies, deadlines and the
  published answer, never personal data or the case's own text.
- ``citizen_case``: the holder of the private token: everything they sent,
  the answer, the public timeline, the ``version`` to act with.
- ``staff_case``: in-scope staff: all of that, the internal timeline, the
  draft answer and the actions the caller may take now; the sender's contact
  details only when ``access.may_see_contacts`` allows (otherwise null, with
  ``sender.contacts_hidden: true``).

Times are ISO 8601 in the city's time zone, with the offset (+07:00).
"""
from __future__ import annotations

from typing import Any

from ..labels import iso
from ..models import Agency, Case, CaseEvent, Category, Procedure, Rating, User
from ..ratings import rating_open
from ..timeline import NOTES_FOR_SENDER
from ..workflow import Actor, actions_for, available_actions


def _code(row) -> str | None:
    return row.code if row is not None else None


# Catalogue ----------------------------------------------------------------------


def agency_item(agency: Agency) -> dict[str, Any]:
    return {"code": agency.code, "name": agency.name, "name_en": agency.name_en or None, "kind": agency.kind,
            "parent": _code(agency.parent), "is_desk": agency.is_desk}


def category_item(category: Category) -> dict[str, Any]:
    return {"code": category.code, "name": category.name, "name_en": category.name_en or None,
            "parent": _code(category.parent), "default_agency": _code(category.default_agency)}


def procedure_item(procedure: Procedure) -> dict[str, Any]:
    return {"code": procedure.code, "name": procedure.title, "kind": procedure.kind,
            "category": _code(procedure.category)}


# Cases ------------------------------------------------------------------------


def case_summary(case: Case) -> dict[str, Any]:
    """What every view of a case carries."""
    return {
        "code": case.code, "status": case.status, "type": case.type, "category": _code(case.category),
        "agency": _code(case.agency), "proposed_agency": _code(case.proposed_agency),
        "received_at": iso(case.received_at), "classify_due": iso(case.classify_due),
        "answer_due": iso(case.answer_due), "next_due": iso(case.next_due),
    }


def published_answer(case: Case) -> dict[str, Any] | None:
    if not case.published:
        return None
    return {"title": case.public_title, "content": case.public_content, "outcome": case.outcome,
            "answer": case.public_answer, "answered_at": iso(case.answered_at), "published_at": iso(case.published_at)}


def public_case(case: Case) -> dict[str, Any]:
    return {**case_summary(case), "view": "public", "answered_at": iso(case.answered_at),
            "published_answer": published_answer(case)}


def list_item(case: Case) -> dict[str, Any]:
    return {**case_summary(case), "title": case.title, "version": case.version,
            "officer": case.officer.email if case.officer else None}


def sender(case: Case, contacts: bool) -> dict[str, Any]:
    """Who sent the case; their contact details only with ``contacts``."""
    shown = {
        "kind": case.sender_kind, "name": case.sender_name, "representative": case.sender_representative or None,
        "address": case.sender_address, "phone": case.sender_phone, "email": case.sender_email or None,
        "id_number": case.sender_id_number or None, "tax_code": case.sender_tax_code or None,
        "contacts_hidden": False,
    }
    if not contacts:
        shown.update(address=None, phone=None, email=None, id_number=None, tax_code=None, contacts_hidden=True)
    return shown


def _details(case: Case) -> dict[str, Any]:
    """The case as sent and as answered: for the sender and for staff."""
    return {
        **case_summary(case), "version": case.version, "channel": case.channel,
        "procedure": _code(case.procedure), "title": case.title, "content": case.content,
        "publish_consent": case.publish_consent,
        "sender": sender(case, contacts=True),
        "answered_at": iso(case.answered_at), "info_due": iso(case.info_due), "rating_due": iso(case.rating_due),
        "review_due": iso(case.review_due), "closed_at": iso(case.closed_at),
        "answer": {"outcome": case.outcome, "text": case.answer} if case.answered_at else None,
        "rejection_reason": case.rejection_reason or None,
        "merged_into": _code(case.merged_into), "published_answer": published_answer(case),
        "rating": rating_item(case.rating),
    }


def citizen_case(case: Case) -> dict[str, Any]:
    """The sender's view: what they sent, the answer, the public timeline
    (with the notes meant for them), and what they may do now."""
    approved = case.extension_status == "approved"
    # What the sender may do now: the transitions the table allows them, and rating.
    actions = sorted(actions_for(case, Actor.citizen()) & {"provide_info", "withdraw"})
    if rating_open(case):
        actions.append("rate")
    return {
        **_details(case), "view": "citizen",
        "extension": {"status": "approved", "days": case.extension_days, "reason": case.extension_reason}
        if approved else None,
        "timeline": [_citizen_event(e) for e in case.events if e.public],
        "actions": actions,
    }


def staff_case(case: Case, user: User, contacts: bool) -> dict[str, Any]:
    """In-scope staff's view: the sender's view plus the internal timeline,
    the draft answer, the extension request and the actions ``user`` may take;
    the sender's contacts only with ``contacts`` (``access.show_contacts``)."""
    return {
        **_details(case), "sender": sender(case, contacts), "view": "staff", "classification": case.classification,
        "officer": case.officer.email if case.officer else None,
        "draft": {"outcome": case.draft_outcome, "text": case.draft_answer} if case.draft_answer else None,
        "answer_on_time": case.answer_on_time, "answer_lateness_days": case.answer_lateness_days,
        "extension": {"status": case.extension_status, "days": case.extension_requested_days,
                      "reason": case.extension_reason} if case.extension_status else None,
        "timeline": [_staff_event(e) for e in case.events],
        "actions": sorted(available_actions(case, user)),
    }


def _citizen_event(event: CaseEvent) -> dict[str, Any]:
    return {"at": iso(event.at), "action": event.action, "from_status": event.from_status,
            "to_status": event.to_status, "actor_kind": event.actor_kind,
            "note": event.note if event.action in NOTES_FOR_SENDER and event.note else None}


def _staff_event(event: CaseEvent) -> dict[str, Any]:
    return {"at": iso(event.at), "action": event.action, "from_status": event.from_status,
            "to_status": event.to_status, "actor_kind": event.actor_kind,
            "actor": event.actor.email if event.actor else None, "note": event.note or None,
            "public": event.public}


def rating_item(rating: Rating | None) -> dict[str, Any] | None:
    if rating is None:
        return None
    return {"level": rating.level, "resolved": rating.resolved, "comment": rating.comment or None,
            "created_at": iso(rating.created_at), "updated_at": iso(rating.updated_at)}
