"""Publication and closing: publish the anonymised answer, close, withdraw,
and the internal note."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..models import Case, CaseEvent, Status
from ..redaction import find_personal_data
from ..text import fold
from .core import Actor, flush, move, now_or, record, require_text, transition
from .errors import InvalidInput
from .policy import refresh_next_due
from .rules import guard


@transition
def publish_case(case: Case, actor: Actor, public_title: str, public_content: str, version: int | None = None,
                 now: datetime | None = None) -> Case:
    """Desk: publish the anonymised question with its answer. Needs the sender's
    consent, and refuses text in which personal data is still detected."""
    guard(case, actor, "publish", version)
    public_title = require_text(public_title, "public_title", _l("Vui lòng nhập tiêu đề công khai."))
    public_content = require_text(public_content, "public_content", _l("Vui lòng nhập nội dung công khai."))
    leftovers = find_personal_data(f"{public_title}\n{public_content}", case)
    if leftovers:
        message = _l("Nội dung công khai còn thông tin cá nhân: %(items)s", items=", ".join(leftovers))
        raise InvalidInput(message, {"public_content": str(message)})
    now = now_or(now)
    case.published = True
    case.published_at = now
    case.public_title = public_title
    case.public_content = public_content
    case.search_text = fold(f"{public_title} {public_content} {case.public_answer}")
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
