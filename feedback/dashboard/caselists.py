"""The dashboard's case lists: every figure's matching cases, overdue and due soon.

One ``CaseFilters`` reads the query string, applies itself to the viewer's
scoped query and writes itself back into links (pager, exports), so the page,
its CSV and its XLSX always show the same cases.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists
from werkzeug.datastructures import MultiDict

from ..deadlines import due_soon_limit, load_calendar
from ..models import Case, CaseEvent, CaseType, Rating, Status, User
from ..reporting.periods import EARLIEST, LATEST, local_midnight
from ..reporting.stats import OPEN, OUTCOMES, SATISFIED_LEVELS, case_scope, is_due_soon, is_overdue

STATUS_CHOICES = ("open",) + tuple(s.value for s in Status)
DATE_FIELDS = ("received_from", "received_to", "answered_from", "answered_to",
               "rated_from", "rated_to", "review_from", "review_to")
ID_FIELDS = ("agency", "category", "officer", "procedure")
FLAG_FIELDS = ("overdue", "due_soon")
MAX_DAYS_OVERDUE_FILTER = 3650


@dataclass
class CaseFilters:
    """What a dashboard list shows; every field optional. Dates are local
    calendar days, both ends included."""

    agency: int | None = None
    category: int | None = None
    officer: int | None = None
    procedure: int | None = None
    type: str | None = None
    status: str | None = None  # a status, or "open"
    outcome: tuple[str, ...] = ()
    overdue: bool = False
    due_soon: bool = False
    min_days_overdue: int | None = None  # working days
    on_time: bool | None = None
    satisfied: bool | None = None
    received_from: date | None = None
    received_to: date | None = None
    answered_from: date | None = None
    answered_to: date | None = None
    rated_from: date | None = None
    rated_to: date | None = None
    review_from: date | None = None
    review_to: date | None = None
    errors: list[str] = field(default_factory=list, compare=False)

    @classmethod
    def from_args(cls, args: MultiDict) -> CaseFilters:
        """Read the query string; a value that cannot be used is dropped and
        explained in ``errors`` rather than silently widening or failing."""
        found = cls()
        for name in ID_FIELDS:
            value = args.get(name, "")
            if value:
                if value.isdigit():
                    setattr(found, name, int(value))
                else:
                    found.errors.append(str(_l("Bộ lọc “%(name)s” không hợp lệ, đã bỏ qua.", name=name)))
        if args.get("type") in {t.value for t in CaseType}:
            found.type = args["type"]
        if args.get("status") in STATUS_CHOICES:
            found.status = args["status"]
        found.outcome = tuple(o for o in args.getlist("outcome") if o in OUTCOMES)
        for name in FLAG_FIELDS:
            setattr(found, name, args.get(name) in ("1", "on", "true"))
        for name in ("on_time", "satisfied"):
            if args.get(name) in ("0", "1"):
                setattr(found, name, args[name] == "1")
        days = args.get("min_days_overdue", "").strip()
        if days:
            if days.isdigit() and int(days) <= MAX_DAYS_OVERDUE_FILTER:
                found.min_days_overdue = int(days)
            else:
                found.errors.append(str(_l("Số ngày quá hạn tối thiểu phải là số nguyên không âm.")))
        for name in DATE_FIELDS:
            value = args.get(name, "").strip()
            if value:
                try:
                    day = date.fromisoformat(value)
                    if not EARLIEST <= day <= LATEST:
                        raise ValueError(value)
                    setattr(found, name, day)
                except ValueError:
                    found.errors.append(str(_l("Ngày “%(value)s” không hợp lệ, đã bỏ qua bộ lọc này.",
                                               value=value[:20])))
        return found

    def query_args(self) -> dict[str, Any]:
        """The filters as query-string arguments (for url_for)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "errors" or value is None or value == ():
                continue
            if isinstance(value, bool):
                if value or f.name in ("on_time", "satisfied"):  # False is a filter there
                    out[f.name] = "1" if value else "0"
            elif isinstance(value, date):
                out[f.name] = value.isoformat()
            elif isinstance(value, tuple):
                out[f.name] = list(value)
            else:
                out[f.name] = value
        return out

    def apply(self, user: User, now: datetime) -> Select:
        """The viewer's scoped cases narrowed by these filters (no ordering)."""
        query = case_scope(user, self.agency)
        for column, value in ((Case.category_id, self.category), (Case.officer_id, self.officer),
                              (Case.procedure_id, self.procedure), (Case.type, self.type)):
            if value is not None:
                query = query.where(column == value)
        if self.status == "open":
            query = query.where(Case.status.in_(OPEN))
        elif self.status:
            query = query.where(Case.status == self.status)
        if self.outcome:
            query = query.where(Case.outcome.in_(self.outcome))
        if self.overdue or self.min_days_overdue:
            query = query.where(is_overdue(now))
        if self.min_days_overdue:
            query = query.where(Case.next_due < overdue_threshold(now, self.min_days_overdue))
        if self.due_soon:
            query = query.where(is_due_soon(now, due_soon_limit(now)))
        if self.on_time is not None:
            query = query.where(Case.answer_on_time.is_(self.on_time))
        query = _between(query, Case.received_at, self.received_from, self.received_to)
        query = _between(query, Case.answered_at, self.answered_from, self.answered_to)
        if self.rated_from or self.rated_to or self.satisfied is not None:
            query = query.join(Rating, Rating.case_id == Case.id)
            query = _between(query, Rating.created_at, self.rated_from, self.rated_to)
            if self.satisfied is not None:
                levels = Rating.level.in_(SATISFIED_LEVELS)
                query = query.where(levels if self.satisfied else ~levels)
        if self.review_from or self.review_to:
            reviewed = exists().where(CaseEvent.case_id == Case.id, CaseEvent.action == "review_requested")
            if self.review_from:
                reviewed = reviewed.where(CaseEvent.at >= local_midnight(self.review_from))
            if self.review_to:
                reviewed = reviewed.where(CaseEvent.at < local_midnight(self.review_to + timedelta(days=1)))
            query = query.where(reviewed)
        return query


def _between(query: Select, column, first: date | None, last: date | None) -> Select:
    if first:
        query = query.where(column >= local_midnight(first))
    if last:
        query = query.where(column < local_midnight(last + timedelta(days=1)))
    return query


def overdue_threshold(now: datetime, days: int) -> datetime:
    """Cases due before this instant are at least ``days`` working days overdue.

    Matches ``WorkingCalendar.lateness``: a deadline is N working days late
    once N working days have started after its due day, counting today (the
    effective date). So the due day must fall before the N-th working day
    counted back from today."""
    calendar = load_calendar()
    return local_midnight(calendar.subtract_working_days(calendar.effective_date(now), max(days - 1, 0)))


class DaysOverdue:
    """Working days a deadline is past, cached per due day: an export of a
    hundred thousand rows has only a few hundred distinct deadlines."""

    def __init__(self, now: datetime):
        self.now = now
        self.calendar = load_calendar()
        self._cache: dict[datetime, int] = {}

    def __call__(self, due: datetime | None) -> int | None:
        if due is None:
            return None
        if due not in self._cache:
            self._cache[due] = self.calendar.lateness(due, self.now)
        return self._cache[due]


def order_for(filters: CaseFilters) -> tuple:
    """Deadline lists put the oldest deadline first; others the newest case first."""
    if filters.overdue or filters.due_soon or filters.min_days_overdue:
        return (Case.next_due, Case.id)
    return (Case.received_at.desc(), Case.id.desc())


def parse_filters(args: MultiDict, **forced: Any) -> CaseFilters:
    filters = CaseFilters.from_args(args)
    for name, value in forced.items():
        setattr(filters, name, value)
    return filters
