"""Reporting periods: this month, quarter, half-year, year, or custom dates.

A period is a range of local (Asia/Ho_Chi_Minh) calendar days, first and
last included; queries use its UTC bounds ``[start, end)`` so a case
received at 23:30 local time on the last day still counts in that period.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask_babel import lazy_gettext as _l

from ..deadlines import OFFICE_TZ

KINDS = ("month", "quarter", "half", "year", "custom")
KIND_LABELS = {
    "month": _l("Tháng này"),
    "quarter": _l("Quý này"),
    "half": _l("6 tháng"),
    "year": _l("Năm nay"),
    "custom": _l("Tùy chọn"),
}
# Sanity bounds for typed dates: nothing was received before the system existed.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
MAX_CUSTOM_DAYS = 3 * 366


class PeriodError(ValueError):
    """A period the user asked for that cannot be used; the message is shown as is."""


def local_midnight(day: date) -> datetime:
    """The UTC instant at which ``day`` starts in the office's time zone."""
    return datetime(day.year, day.month, day.day, tzinfo=OFFICE_TZ).astimezone(UTC)


def local_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(OFFICE_TZ).date()


def month_end(day: date) -> date:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    kind: str
    first: date  # first local day, included
    last: date  # last local day, included

    @property
    def start(self) -> datetime:
        return local_midnight(self.first)

    @property
    def end(self) -> datetime:
        """Exclusive UTC bound: local midnight after the last day."""
        return local_midnight(self.last + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The period of equal length (in days) just before this one, for trends."""
        return Period("custom", self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def months(self, at_least: int = 12, at_most: int = 36) -> list[Period]:
        """Calendar months for the monthly chart: the period's months, or the
        ``at_least`` months ending with its last month when it is shorter."""
        last_month = self.last.replace(day=1)
        count = (last_month.year - self.first.year) * 12 + last_month.month - self.first.month + 1
        count = min(max(count, at_least), at_most)
        firsts = [add_months(last_month, -offset) for offset in range(count - 1, -1, -1)]
        return [Period("month", first, month_end(first)) for first in firsts]

    def query_args(self) -> dict[str, str]:
        """The query string that selects this period again (links, exports)."""
        if self.kind == "custom":
            return {"period": "custom", "from": self.first.isoformat(), "to": self.last.isoformat()}
        return {"period": self.kind}

    @property
    def label(self) -> str:
        return f"{self.first:%d/%m/%Y} – {self.last:%d/%m/%Y}"


def current(kind: str, today: date) -> Period:
    """The month, quarter, half-year or year that contains ``today``."""
    if kind == "month":
        first = today.replace(day=1)
        return Period(kind, first, month_end(first))
    if kind == "quarter":
        first = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        return Period(kind, first, month_end(add_months(first, 2)))
    if kind == "half":
        return half_year(today.year, 1 if today.month <= 6 else 2)
    if kind == "year":
        return Period(kind, date(today.year, 1, 1), date(today.year, 12, 31))
    raise ValueError(kind)


def half_year(year: int, half: int) -> Period:
    """H1 (January–June) or H2 (July–December): Decree 20's six-monthly report."""
    if half == 1:
        return Period("half", date(year, 1, 1), date(year, 6, 30))
    return Period("half", date(year, 7, 1), date(year, 12, 31))


def _parse_day(value: str | None, name) -> date:
    if not value:
        raise PeriodError(_l("Vui lòng nhập %(name)s.", name=name))
    day = None
    # The date input sends ISO dates; people typing a URL write dd/mm/yyyy.
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(value.strip(), pattern).date()
            break
        except ValueError:
            continue
    if day is None:
        raise PeriodError(_l("%(name)s không hợp lệ: “%(value)s”. Nhập ngày theo dạng dd/mm/yyyy.",
                             name=name, value=value[:20]))
    if not EARLIEST <= day <= LATEST:
        raise PeriodError(_l("%(name)s phải nằm trong khoảng năm 2000 đến 2100.", name=name))
    return day


def parse_period(args: Mapping[str, str], today: date) -> tuple[Period, str | None]:
    """The period the query string asks for, or this month with the reason
    why the request could not be used (shown above the figures)."""
    kind = args.get("period") or "month"
    default = current("month", today)
    if kind not in KINDS:
        return default, str(_l("Kỳ báo cáo không hợp lệ; đang hiển thị tháng này."))
    if kind != "custom":
        return current(kind, today), None
    try:
        first = _parse_day(args.get("from"), _l("Từ ngày"))
        last = _parse_day(args.get("to"), _l("Đến ngày"))
        if first > last:
            raise PeriodError(_l("“Từ ngày” phải trước hoặc bằng “Đến ngày”."))
        if (last - first).days >= MAX_CUSTOM_DAYS:
            raise PeriodError(_l("Kỳ báo cáo tùy chọn dài tối đa 3 năm."))
    except PeriodError as err:
        return default, str(_l("%(reason)s Đang hiển thị tháng này.", reason=str(err)))
    return Period("custom", first, last), None


def parse_half(args: Mapping[str, str], today: date) -> tuple[Period, str | None]:
    """The six-monthly period (``year`` and ``half`` = 1 or 2) of the report;
    the current half when missing or invalid."""
    default = half_year(today.year, 1 if today.month <= 6 else 2)
    if not args.get("year") and not args.get("half"):
        return default, None
    try:
        year, half = int(args.get("year", "")), int(args.get("half", ""))
    except ValueError:
        year = half = 0
    if not (EARLIEST.year <= year <= LATEST.year and half in (1, 2)):
        return default, str(_l("Năm hoặc kỳ báo cáo không hợp lệ; đang hiển thị 6 tháng hiện tại."))
    return half_year(year, half), None
