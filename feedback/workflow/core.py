"""What every transition shares: who acts, how a change is recorded, moved,
flushed and committed, and the lookups transitions need."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..audit import record_audit
from ..deadlines import WorkingCalendar, load_calendar
from ..extensions import db
from ..models import Agency, Case, CaseEvent, Role, Status, User, utcnow
from .errors import STALE_MESSAGE, InvalidInput, StaleCase


@dataclass
class Actor:
    """Who acts: a staff user, the citizen holding the private link, or the system."""

    user: User | None = None
    kind: str = "staff"  # staff | citizen | system

    @classmethod
    def citizen(cls, user: User | None = None) -> Actor:
        return cls(user=user, kind="citizen")

    @classmethod
    def system(cls) -> Actor:
        return cls(user=None, kind="system")

    @property
    def role(self) -> Role | None:
        return self.user.role_enum if (self.user and self.kind == "staff") else None


def now_or(now: datetime | None) -> datetime:
    return now or utcnow()


def require_text(value: str | None, field_name: str, message) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message, {field_name: str(message)})
    return value


def record(case: Case, actor: Actor, action: str, from_status: str | None, note: str = "",
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


def move(case: Case, status: Status) -> str:
    previous = case.status
    case.status = status.value
    return previous


def commit() -> None:
    """Commit the transition's transaction; a lost race becomes StaleCase.
    Every caller of a transition commits through here."""
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise StaleCase(STALE_MESSAGE) from exc


def flush() -> None:
    try:
        db.session.flush()
    except StaleDataError as exc:  # another request committed first
        db.session.rollback()
        raise StaleCase(STALE_MESSAGE) from exc


def working_calendar() -> WorkingCalendar:
    with db.session.no_autoflush:  # see staff_of
        return load_calendar()


def agency_named(code_or_id: str | int | Agency | None) -> Agency:
    """The active agency given by code, id or itself; InvalidInput otherwise."""
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
        query = select(Agency).where(Agency.is_desk.is_(True)).order_by(Agency.id)
        agency = db.session.execute(query).scalars().first()
    if agency is None:
        raise RuntimeError("no receiving desk agency is configured (seed the agencies first)")
    return agency


def staff_of(agency_id: int, *roles: Role) -> list[User]:
    with db.session.no_autoflush:  # the pending change is flushed once, by flush()
        return list(db.session.execute(
            select(User).where(User.agency_id == agency_id, User.active.is_(True),
                               User.role.in_([r.value for r in roles])).order_by(User.id)
        ).scalars())


def supervisors() -> list[User]:
    with db.session.no_autoflush:
        return list(db.session.execute(
            select(User).where(User.role == Role.supervisor.value, User.active.is_(True)).order_by(User.id)
        ).scalars())


def transition(fn):
    """Run a transition without autoflush: its change is written once, by
    flush() at the end, where a lost race (StaleDataError) becomes StaleCase
    instead of surfacing from whichever lookup happened to flush first."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        with db.session.no_autoflush:
            return fn(*args, **kwargs)

    return wrapper
