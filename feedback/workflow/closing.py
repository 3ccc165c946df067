"""Publication and closing: publish the anonymised answer, close, withdraw,
and the internal note."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..models import Case, CaseEvent, Status
from ..redaction import describe, find_personal_data, redact
from ..text import fold
from .core import Actor, flush, move, now_or, record, require_text, transition
from .errors import InvalidInput
from .policy import refresh_next_due
from .rules import guard


@transition
def publish_case(case: Case, actor: Actor, public_title: str, public_content: str, public_answer: str | None = None,
                 version: int | None = None, now: datetime | None = None) -> Case:
    """Desk: publish the anonymised question with its answer, exactly as the
    desk checked them. Needs the sender's consent on record, and refuses while
    any of the sender's data (or anything shaped like personal data) is still
    found in the title, the question or the answer, naming what was found.
    Without ``public_answer`` (callers other than the forms), the answer
    redacted automatically is checked and published."""
    guard(case, actor, "publish", version)
    public_title = require_text(public_title, "public_title", _l("Vui lòng nhập tiêu đề công khai."))
    public_content = require_text(public_content, "public_content", _l("Vui lòng nhập nội dung công khai."))
    if public_answer is None:
        public_answer = redact(case.answer or "", case)
    public_answer = require_text(public_answer, "public_answer", _l("Vui lòng nhập câu trả lời công khai."))
    errors = {}
    for field, text in (("public_title", public_title), ("public_content", public_content),
                        ("public_answer", public_answer)):
        leftovers = find_personal_data(text, case)
        if leftovers:
            errors[field] = str(_l("Còn thông tin cá nhân của người gửi: %(items)s", items=describe(leftovers)))
    if errors:
        found = find_personal_data("\n".join((public_title, public_content, public_answer)), case)
        raise InvalidInput(_l("Nội dung công khai còn thông tin cá nhân: %(items)s", items=describe(found)), errors)
    now = now_or(now)
    case.published = True
    case.published_at = now
    case.public_title = public_title
    case.public_content = public_content
    case.public_answer = public_answer
    case.search_text = fold(f"{public_title} {public_content} {public_answer}")
    record(case, actor, "published", case.status, at=now)
    flush()
    return case


@transition
def close_case(case: Case, actor: Actor, reason: str = "", version: int | None = None,
               now: datetime | None = None) -> Case:
    """Supervisor or desk closes an answered case; the system closes one whose
    rating window has passed."""
    now = now_or(now)
    guard(case, actor, "close", version, now=now)
    previous = move(case, Status.closed)
    case.closed_at = now
    case.close_reason = "rating_window" if actor.kind == "system" else "closed"
    refresh_next_due(case)
    record(case, actor, "closed", previous, note=reason, at=now)
    flush()
    return case


@transition
def withdraw_case(case: Case, actor: Actor, reason: str = "", version: int | None = None,
                  now: datetime | None = None) -> Case:
    """Citizen: withdraw a case that has not been answered yet."""
    guard(case, actor, "withdraw", version)
    now = now_or(now)
    previous = move(case, Status.withdrawn)
    case.closed_at = now
    refresh_next_due(case)
    record(case, actor, "withdrawn", previous, note=reason, at=now)
    flush()
    return case


@transition
def add_note(case: Case, actor: Actor, note: str, now: datetime | None = None) -> CaseEvent:
    """Staff in scope: an internal note on the timeline (no status change)."""
    guard(case, actor, "note")
    note = require_text(note, "note", _l("Vui lòng nhập ghi chú."))
    event = record(case, actor, "note", case.status, note=note, public=False, at=now_or(now), bump=False)
    flush()
    return event
