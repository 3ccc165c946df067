"""Calendar overrides that move the deadlines already running.

When the government gives a working day off (or makes a Saturday worked)
after deadlines were computed, every open deadline counted across that day
is one working day off.  This module works out which deadlines the change
affects and by how much (:func:`plan_calendar_change`, the dry run shown to
the admin), and records the override together with those moves
(:func:`apply_calendar_change`).

The rule, for a day X that changes from worked to off, or back:

- X becomes a day off: an open deadline on day D with today < X <= D loses
  one of the working days it was counted over, so it moves to the first
  working day after D under the new calendar.
- X becomes worked: an open deadline on day D with today < X < D gains one,
  so it moves to the last working day before D under the new calendar.

Removing an override applies the opposite rule, which brings every deadline
exactly back: the days between the two dates are days off in both calendars.
Deadlines already past, days in the past (or today), and cases in a final
status never move.  A clock paused while the citizen adds information moves
too: the days it gets back are counted on resumption with the calendar then
in force.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from . import workflow as wf
from .audit import record_audit
from .deadlines import OFFICE_TZ, WorkingCalendar, forget_calendar, load_calendar
from .extensions import db
from .models import (
    FINAL_STATUSES,
    CalendarOverride,
    Case,
    CaseEvent,
    Status,
    User,
    utcnow,
)

# Every deadline column a calendar change may move.
DEADLINE_FIELDS = ("classify_due", "answer_due", "info_due", "review_due", "rating_due")
DEADLINE_NAMES = {
    "classify_due": _l("Hạn phân loại, chuyển cơ quan xử lý"),
    "answer_due": _l("Hạn trả lời"),
    "info_due": _l("Hạn bổ sung thông tin"),
    "review_due": _l("Hạn xem xét lại"),
    "rating_due": _l("Hạn đánh giá"),
}


@dataclass
class DeadlineMove:
    """One deadline of one case, before and after the change."""

    case: Case
    field: str
    old: datetime
    new: datetime

    @property
    def shift(self) -> int:
        """+1 when the deadline comes one working day later, -1 when earlier."""
        return 1 if self.new > self.old else -1


@dataclass
class CalendarPlan:
    """What a change to one day would do: the day's status before and after,
    and every deadline it moves."""

    day: date
    was_working: bool
    will_be_working: bool
    moves: list[DeadlineMove] = field(default_factory=list)

    @property
    def changes_the_day(self) -> bool:
        return self.was_working != self.will_be_working

    @property
    def cases(self) -> list[Case]:
        """The moved cases, once each, in code order."""
        seen: dict[int, Case] = {}
        for move in self.moves:
            seen.setdefault(move.case.id, move.case)
        return sorted(seen.values(), key=lambda case: case.code)

    @property
    def later(self) -> int:
        """How many cases get later deadlines."""
        return len({m.case.id for m in self.moves if m.shift > 0})

    @property
    def earlier(self) -> int:
        """How many cases get earlier deadlines."""
        return len({m.case.id for m in self.moves if m.shift < 0})


def _deadline_fields(case: Case) -> list[str]:
    """The deadlines running for ``case``: the open ones, plus the answer
    deadline while its clock is paused for the citizen's information."""
    names = list(wf.open_deadlines(case))
    if case.status == Status.needs_info.value and case.answer_due is not None and "answer_due" not in names:
        names.append("answer_due")
    return names


def _moved(due: datetime, day: date, today: date, old: WorkingCalendar, new: WorkingCalendar) -> datetime | None:
    """Where ``due`` goes when ``day`` changes from ``old`` to ``new``, or None
    when the change does not touch it (see the module's rule)."""
    local = due.astimezone(OFFICE_TZ)
    due_day = local.date()
    if day <= today:
        return None
    if old.is_working_day(day) and not new.is_working_day(day) and day <= due_day:
        target = new.next_working_day(due_day)
    elif not old.is_working_day(day) and new.is_working_day(day) and day < due_day:
        target = new.subtract_working_days(due_day, 1)
    else:
        return None
    return datetime.combine(target, local.timetz()).astimezone(due.tzinfo)


def _calendar_with(base: WorkingCalendar, day: date, is_working: bool | None) -> WorkingCalendar:
    """``base`` with ``day``'s override set (True/False) or removed (None)."""
    overrides = dict(base.overrides)
    if is_working is None:
        overrides.pop(day, None)
    else:
        overrides[day] = is_working
    return WorkingCalendar(overrides, base.office_open, base.office_close, override_names=base.override_names)


def plan_calendar_change(day: date, is_working: bool | None, now: datetime | None = None) -> CalendarPlan:
    """The dry run: which open deadlines would move if ``day`` were declared
    worked (True), off (False) or given back to the package's calendar (None).
    Changes nothing."""
    now = now or utcnow()
    old = load_calendar()
    new = _calendar_with(old, day, is_working)
    plan = CalendarPlan(day=day, was_working=old.is_working_day(day), will_be_working=new.is_working_day(day))
    if not plan.changes_the_day:
        return plan
    today = now.astimezone(OFFICE_TZ).date()
    # Only deadlines still ahead can move; the status filter keeps final cases out.
    ahead = or_(*(getattr(Case, name) > now for name in DEADLINE_FIELDS))
    cases = db.session.execute(
        select(Case).where(Case.status.not_in([s.value for s in FINAL_STATUSES]), ahead).order_by(Case.code)
    ).scalars().all()
    for case in cases:
        for name in _deadline_fields(case):
            due = getattr(case, name)
            if due is None or due <= now:
                continue
            target = _moved(due, day, today, old, new)
            if target is not None and target != due:
                plan.moves.append(DeadlineMove(case, name, due, target))
    return plan


def apply_calendar_change(day: date, is_working: bool | None, name: str = "", *, actor: User | None = None,
                          now: datetime | None = None) -> CalendarPlan:
    """Record ``day`` as worked (True), off (False) or remove its override
    (None), and move every open deadline the change affects, with an event on
    each moved case and one audit row. The caller commits.

    The plan is recomputed here, in the same transaction, so what is applied
    is exactly what a dry run at this moment shows."""
    now = now or utcnow()
    plan = plan_calendar_change(day, is_working, now)
    override = db.session.execute(select(CalendarOverride).where(CalendarOverride.day == day)).scalar_one_or_none()
    if is_working is None:
        if override is not None:
            record_audit("calendar.override_delete", user=actor,
                         detail={"day": day.isoformat(), "working": override.is_working, "moved": len(plan.cases)})
            db.session.delete(override)
    else:
        if override is None:
            override = CalendarOverride(day=day)
            db.session.add(override)
        override.is_working = is_working
        override.name = name
        record_audit("calendar.override", user=actor,
                     detail={"day": day.isoformat(), "working": is_working, "moved": len(plan.cases)})
    for case in plan.cases:
        moves = [m for m in plan.moves if m.case.id == case.id]
        for move in moves:
            setattr(case, move.field, move.new)
        wf.refresh_next_due(case)
        case.version = case.version + 1  # pages opened before the move are out of date
        db.session.add(CaseEvent(
            case_id=case.id, at=now, actor_id=actor.id if actor else None,
            actor_kind="staff" if actor else "system", action="deadline_moved",
            from_status=case.status, to_status=case.status, public=True, note=_move_note(day, plan, moves),
            data={"day": day.isoformat(), "working": plan.will_be_working,
                  "moves": {m.field: [m.old.isoformat(), m.new.isoformat()] for m in moves}}))
    db.session.flush()
    forget_calendar()
    return plan


def _move_note(day: date, plan: CalendarPlan, moves: list[DeadlineMove]) -> str:
    """The sentence on the case's timeline, in Vietnamese (stored text, like every
    note); the event's data keeps the same facts for other languages."""
    reason = (f"ngày {day:%d/%m/%Y} được tính là ngày làm việc" if plan.will_be_working
              else f"ngày {day:%d/%m/%Y} được công bố là ngày nghỉ")
    parts = [f"{_VI_NAMES[m.field]}: {_local(m.old)} → {_local(m.new)}" for m in moves]
    return f"Điều chỉnh theo lịch làm việc ({reason}). " + "; ".join(parts) + "."


_VI_NAMES = {
    "classify_due": "Hạn phân loại, chuyển cơ quan xử lý",
    "answer_due": "Hạn trả lời",
    "info_due": "Hạn bổ sung thông tin",
    "review_due": "Hạn xem xét lại",
    "rating_due": "Hạn đánh giá",
}


def _local(at: datetime) -> str:
    return at.astimezone(OFFICE_TZ).strftime("%H:%M %d/%m/%Y")
