"""Intake: a case arrives, online or recorded by the desk."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import Case, Category, Channel, Status
from ..notifications import case_links, notify_citizen
from .core import (
    Actor,
    desk_agency,
    flush,
    now_or,
    record,
    transition,
    working_calendar,
)
from .errors import InvalidInput
from .links import new_access_token, next_case_code
from .policy import policy_days, refresh_next_due
from .rules import guard_actor


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
    # The consent wording exactly as the sender was shown it; consent without
    # it is not on record and does not allow publication.
    publish_consent_text: str = ""
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
    actor = actor or Actor.citizen()
    now = now_or(now)
    received_at = submission.received_at or now
    if received_at > now:
        raise InvalidInput(_l("Ngày tiếp nhận không được ở tương lai."),
                           {"received_at": str(_l("Ngày tiếp nhận không được ở tương lai."))})
    if submission.channel != Channel.online.value and actor.kind == "staff":
        guard_actor(actor, "record")
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
        publish_consent_at=now if submission.publish_consent and submission.publish_consent_text else None,
        publish_consent_text=submission.publish_consent_text if submission.publish_consent else "",
        category=category, procedure_id=submission.procedure_id, agency=desk,
        proposed_agency_id=proposed, status=Status.submitted.value, received_at=received_at, created_at=now,
    )
    token = new_access_token(case)
    case.classify_due = working_calendar().deadline(received_at, policy_days(case, "classify"))
    refresh_next_due(case)
    db.session.add(case)
    flush()
    record(case, actor, "submitted", None, data={"channel": submission.channel}, at=now, bump=False)
    notify_citizen(case, "receipt", {**case_links(case, token), "classify_due": case.classify_due.isoformat()})
    flush()
    return case, token
