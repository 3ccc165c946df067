"""Working-day arithmetic on Vietnam's official calendar.

Every legal time limit in the feedback process (classify within 5 working
days, answer within 10 or 15, the citizen's 10 days to add information) is
counted in working days of the Vietnamese public service, in the office's
time zone, and ends at the close of office hours (docs/design.md §4).

Which days are worked comes from the pinned ``holidays`` package, which
already knows Tết, observed days off and the government's announced swaps
(a weekday off paid back by a worked Saturday).  Swaps announced after the
package was released live in the admins' ``CalendarOverride`` table and win
over the package.

Everything here is pure except :func:`load_calendar`, which reads that table.
Datetimes going in must be timezone-aware (the database stores UTC);
datetimes coming out are aware UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from flask import current_app, g
from sqlalchemy import select

OFFICE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Names shown for days that have no holiday name of their own.
WEEKEND_NAME = "Cuối tuần"
OVERRIDE_OFF_NAME = "Ngày nghỉ"
OVERRIDE_WORKED_NAME = "Ngày làm việc bù"

_ONE_DAY = timedelta(days=1)


# The package's Vietnamese holidays, shared by every calendar of the process
# (building them costs about a millisecond a year, and they never change
# while the process runs: the package is pinned). Vietnamese names whatever
# the server's locale, since citizens see them.
#
# The package fills in a year lazily, the first time a date of it is looked
# up, and marks the year as known *before* filling it in: two threads
# sharing one object could see a year with no holidays at all (and a
# calendar would remember Tết as a working day). So a published object is
# never filled in afterwards: it is built with its years up front, and a
# year it lacks makes a new object, built under a lock, that replaces it.
_SHARED: tuple[frozenset[int], holidays.HolidayBase] | None = None
_BUILDING = threading.Lock()


def holidays_with_year(year: int) -> holidays.HolidayBase:
    """The shared holidays, with ``year`` (and its neighbours) already in."""
    global _SHARED
    shared = _SHARED
    if shared is not None and year in shared[0]:
        return shared[1]
    with _BUILDING:
        shared = _SHARED
        if shared is None or year not in shared[0]:
            years = (shared[0] if shared is not None else frozenset()) | set(range(year - 1, year + 2))
            _SHARED = shared = (years, holidays.country_holidays("VN", language="vi", years=sorted(years)))
        return shared[1]


class WorkingCalendar:
    """Vietnam's working days plus the admins' overrides, with office hours.

    ``overrides`` maps a date to True (worked, e.g. a Saturday paid back for a
    bridge day) or False (a weekday given off); ``override_names`` gives those
    days the name the announcement used. Never changed once built: it
    remembers the days it has looked up, and :func:`load_calendar` shares it
    between requests (a different calendar is a new object).
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        office_open: time = time(7, 30),
        office_close: time = time(17, 0),
        *,
        override_names: Mapping[date, str] | None = None,
    ) -> None:
        if office_open >= office_close:
            raise ValueError(
                f"office_open {office_open} must be before office_close {office_close}"
            )
        self.overrides: dict[date, bool] = dict(overrides or {})
        self.override_names: dict[date, str] = dict(override_names or {})
        self.office_open = office_open
        self.office_close = office_close
        # Deadlines step through the same days again and again; a calendar is
        # never changed once built (a change builds a new one), so remember.
        self._working: dict[date, bool] = {}

    # Days

    def is_working_day(self, day: date) -> bool:
        """Whether government offices are open on ``day``."""
        known = self._working.get(day)
        if known is None:
            known = self.overrides[day] if day in self.overrides else \
                holidays_with_year(day.year).is_working_day(day)
            self._working[day] = known
        return known

    def day_name(self, day: date) -> str | None:
        """The override's or the holiday's name for ``day``, if it has one."""
        if day in self.overrides:
            default = OVERRIDE_WORKED_NAME if self.overrides[day] else OVERRIDE_OFF_NAME
            return self.override_names.get(day) or default
        return holidays_with_year(day.year).get(day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        day += _ONE_DAY
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def subtract_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day strictly before ``day`` (``day`` itself
        when n is 0)."""
        if n < 0:
            raise ValueError("n must be zero or more working days")
        for _ in range(n):
            day -= _ONE_DAY
            while not self.is_working_day(day):
                day -= _ONE_DAY
        return day

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day strictly after ``day``.

        ``day`` itself may be a day off.  ``n == 0`` gives ``day`` if it is
        worked, else the next working day, so the result is never a day off.
        """
        if n < 0:
            raise ValueError(f"n must be 0 or more, got {n}")
        if n == 0:
            return day if self.is_working_day(day) else self.next_working_day(day)
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def days_off(self, year: int, *, include_weekends: bool = True) -> list[tuple[date, str]]:
        """Every day off in ``year`` with its name, in date order.

        Plain weekends are named ``Cuối tuần``; ``include_weekends=False``
        leaves them out, keeping only holidays and overrides.
        """
        result: list[tuple[date, str]] = []
        day = date(year, 1, 1)
        while day.year == year:
            if not self.is_working_day(day):
                name = self.day_name(day)
                if name is not None:
                    result.append((day, name))
                elif include_weekends:
                    result.append((day, WEEKEND_NAME))
            day += _ONE_DAY
        return result

    # Instants

    def effective_date(self, at: datetime) -> date:
        """The working day an event counts from.

        An event on a working day before the close of office hours counts
        from that day (even before opening); otherwise from the next working
        day, so mail received on Friday evening counts from Monday.
        """
        local = _to_office_time(at)
        if self.is_working_day(local.date()) and local.time() < self.office_close:
            return local.date()
        return self.next_working_day(local.date())

    def close_of(self, day: date) -> datetime:
        """The close of office hours on ``day``, in UTC."""
        return datetime.combine(day, self.office_close, OFFICE_TZ).astimezone(UTC)

    def deadline(self, at: datetime, n: int) -> datetime:
        """When a limit of ``n`` working days from an event at ``at`` runs out.

        Close of office hours of the ``n``-th working day strictly after the
        effective date: received Friday 10:00 with 5 days is due next Friday
        17:00; received Friday 18:00 or Saturday, the Monday after next.
        """
        return self.close_of(self.add_working_days(self.effective_date(at), n))

    def extend(self, due: datetime, n: int) -> datetime:
        """Push a deadline ``n`` working days later (extensions, paused days)."""
        return self.close_of(self.add_working_days(_to_office_time(due).date(), n))

    def working_days_paused(self, start: datetime, end: datetime) -> int:
        """Working days lost while the case waited for the citizen.

        Counts working days from the effective date of ``start`` up to, not
        including, that of ``end``; they are given back with :meth:`extend`.
        """
        first, stop = self.effective_date(start), self.effective_date(end)
        if end <= start:
            return 0
        return self._count_working_days(first, stop)

    def lateness(self, due: datetime, at: datetime) -> int:
        """By how many working days an answer at ``at`` missed ``due``.

        Positive when late (answered after close on the due day counts as one
        day late), negative when early (the working day before the due day is
        -1), and 0 when answered on the due day before it ran out.
        """
        due_day = _to_office_time(due).date()
        answered = self.effective_date(at)
        if at > due:
            return self._count_working_days(due_day + _ONE_DAY, answered + _ONE_DAY)
        return -self._count_working_days(answered + _ONE_DAY, due_day + _ONE_DAY)

    def working_days_until(self, now: datetime, due: datetime) -> int:
        """The countdown shown to citizens: 0 on the due day, negative once overdue."""
        return -self.lateness(due, now)

    def is_office_hours(self, at: datetime) -> bool:
        """Whether the office is open at ``at``."""
        local = _to_office_time(at)
        return (
            self.is_working_day(local.date())
            and self.office_open <= local.time() < self.office_close
        )

    def next_office_open(self, at: datetime) -> datetime:
        """``at`` if the office is open then, else when it next opens (UTC).

        Lets reminders wait for office hours instead of paging officers at night.
        """
        if self.is_office_hours(at):
            return at.astimezone(UTC)
        local = _to_office_time(at)
        day = local.date()
        if not (self.is_working_day(day) and local.time() < self.office_open):
            day = self.next_working_day(day)
        return datetime.combine(day, self.office_open, OFFICE_TZ).astimezone(UTC)

    def _count_working_days(self, first: date, stop: date) -> int:
        """Working days d with first <= d < stop."""
        count = 0
        day = first
        while day < stop:
            count += self.is_working_day(day)
            day += _ONE_DAY
        return count


def _to_office_time(at: datetime) -> datetime:
    """``at`` in the office's time zone; naive datetimes are refused.

    A naive datetime could be local or UTC, and guessing wrong moves a
    deadline by seven hours, sometimes across a day boundary.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(
            f"datetime must be timezone-aware (UTC as stored), got naive {at.isoformat()}"
        )
    return at.astimezone(OFFICE_TZ)


def load_calendar() -> WorkingCalendar:
    """The calendar in force: the package, the override table, configured hours.

    Kept on ``flask.g`` for the request (or CLI command); call
    :func:`forget_calendar` after changing the override table in the same one.

    Every request reads the override table (one small query, a few dozen
    rows), so a change committed by any process is in force at the very next
    request: there is no window in which a deadline is computed from a stale
    calendar. What is cached, per process, is the calendar built from those
    rows (:func:`calendar_for`): the same rows give the same calendar object,
    with the working days it has already worked out.
    """
    calendar = g.get("working_calendar")
    if calendar is None:
        # Imported here so the pure calendar above works without the models.
        from feedback.extensions import db
        from feedback.models import CalendarOverride

        rows = db.session.execute(
            select(CalendarOverride.day, CalendarOverride.is_working, CalendarOverride.name)
            .order_by(CalendarOverride.day)).all()
        calendar = calendar_for(
            tuple((row.day, row.is_working, row.name or "") for row in rows),
            _configured_time("OFFICE_OPEN", "07:30"), _configured_time("OFFICE_CLOSE", "17:00"))
        g.working_calendar = calendar
    return calendar


OverrideRows = tuple[tuple[date, bool, str], ...]
_calendars: dict[tuple[OverrideRows, time, time], WorkingCalendar] = {}
_calendars_lock = threading.Lock()
CACHED_CALENDARS = 4  # the one in force, plus a change being planned or rolled back


def calendar_for(rows: OverrideRows, office_open: time, office_close: time) -> WorkingCalendar:
    """The calendar for these override rows ``(day, is_working, name)`` and
    office hours, built once per process for each distinct content.

    Keyed by the rows themselves, not by a time or a counter: a change (or a
    rolled-back one) gives other rows and so another calendar, and a row
    changed back gives the earlier calendar again, which is then right too.
    """
    key = (rows, office_open, office_close)
    calendar = _calendars.get(key)
    if calendar is None:
        calendar = WorkingCalendar(
            overrides={day: is_working for day, is_working, _name in rows},
            office_open=office_open, office_close=office_close,
            override_names={day: name for day, _working, name in rows if name},
        )
        with _calendars_lock:
            if len(_calendars) >= CACHED_CALENDARS:
                _calendars.pop(next(iter(_calendars)))  # the oldest
            _calendars[key] = calendar
    return calendar


def forget_calendar() -> None:
    """Drop the request's calendar so the next :func:`load_calendar` rereads the table."""
    g.pop("working_calendar", None)


def _configured_time(key: str, default: str) -> time:
    """An office-hours setting such as ``"07:30"`` from the app config."""
    value = current_app.config.get(key, default)
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must look like '07:30', got {value!r}") from None


DUE_SOON_WORKING_DAYS = 2


def due_soon_limit(now: datetime, days: int = DUE_SOON_WORKING_DAYS) -> datetime:
    """Where "due soon" ends for lists and badges: close of office hours on
    the 2nd working day after today (after the next working day, when asked in
    the evening or on a day off)."""
    return load_calendar().deadline(now, days)
