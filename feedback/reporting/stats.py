"""The dashboard's figures: aggregate SQL over recorded facts, scoped to the viewer.

Every function takes the viewing user and a period ``[start, end)`` of aware
UTC datetimes and returns plain dicts (numbers, ``None`` for a rate with
nothing to measure), so the dashboard, the six-monthly report and the JSON
API (``GET /api/v1/stats``) share one definition of each figure.

Definitions (what a supervisor reads on the page):

- ``received``: cases whose ``received_at`` falls in the period.
- ``open``: cases open now: not closed, rejected, merged or withdrawn and not
  answered (``models.OPEN_STATUSES``; a case waiting for the citizen or under
  review is open).
- ``overdue``: open now, past ``next_due``, counting only the staff's own
  deadlines (``STAFF_DEADLINE_STATUSES``): a case waiting for the citizen is
  not overdue for the agency.
- ``due_soon``: same statuses, ``next_due`` from now up to the close of office
  hours of the 2nd working day after today (the reminders' "due soon").
- ``answered``: cases whose answer reached the citizen in the period
  (``answered_at``). ``on_time``/``late`` count the ``answer_on_time`` recorded
  at that moment; ``on_time_rate`` = on_time / (on_time + late), so a case
  answered without an answer deadline (none in practice) is left out rather
  than guessed. The city's target is ``ON_TIME_TARGET`` (95%).
- ``median_working_days_to_answer``: median of ``answer_working_days``
  (assignment to answer, citizen waiting time excluded) of the answered cases.
- ``ratings``: ratings given in the period (``Rating.created_at``);
  ``satisfaction_rate`` = share at levels 4 and 5. Ratings carry the agency that
  answered (recorded when rated), and are counted against that agency.
- ``review_requests``: cases whose sender asked for a review in the period,
  from the timeline (``CaseEvent`` action ``review_requested``), counted once
  per case. Events are facts: a request stays counted after the supervisor
  decides it, which a count of cases *in* status ``review_requested`` would not.

Why recorded facts: ``answer_on_time`` and ``answer_working_days`` are
stored when the answer is sent, so a past period's figures never change when
the deadline policy or the holiday calendar does.

Why several small queries instead of one: each is bounded by an indexed
column (``received_at``, ``answered_at``, ``(status, next_due)``,
``rating.created_at``) so its cost follows the cases in the period or open
now, never the size of the whole table. Grouping by agency adds
``GROUP BY agency_id`` to the same queries, so the number of queries is fixed
whatever the number of agencies.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.sql.elements import ColumnElement

from ..access import inbox_cases
from ..deadlines import due_soon_limit
from ..extensions import db
from ..models import OPEN_STATUSES, Agency, Case, CaseEvent, Outcome, Procedure, Rating, Role, Status, User, utcnow

ON_TIME_TARGET = 0.95
SATISFIED_LEVELS = (4, 5)
OPEN = tuple(sorted(s.value for s in OPEN_STATUSES))
# Statuses whose next_due is a deadline on the staff (desk, agency, supervisor),
# as opposed to the citizen's (needs_info) or the rating window (responded).
STAFF_DEADLINE_STATUSES = tuple(s.value for s in (
    Status.submitted, Status.assigned, Status.in_progress, Status.awaiting_approval, Status.review_requested,
))
OUTCOMES = tuple(o.value for o in Outcome)
# Outcomes that change a rule: what the six-monthly report lists.
RULE_CHANGING_OUTCOMES = (Outcome.amend_rule.value, Outcome.recommendation_forwarded.value)

COUNT_KEYS = ("received", "open", "overdue", "due_soon", "answered", "on_time", "late",
              "ratings", "satisfied", "review_requests")
FIGURE_KEYS = COUNT_KEYS + ("on_time_rate", "median_working_days_to_answer", "satisfaction_rate")


# Scope ------------------------------------------------------------------------


def case_scope(user: User, agency_id: int | None = None) -> Select:
    """The cases the figures count for ``user``: every case for city-wide
    roles, the cases their agency holds now for a lead (``inbox_cases``, which
    starts from ``scoped_cases``), optionally narrowed to one agency."""
    query = inbox_cases(user)
    if agency_id is not None:
        query = query.where(Case.agency_id == agency_id)
    return query


def rating_scope(user: User, agency_id: int | None = None) -> Select:
    """Ratings counted for ``user``: the same rule as ``case_scope`` applied to
    the agency recorded on the rating."""
    query = select(Rating)
    if not user.sees_all_agencies:
        if user.role_enum not in (Role.officer, Role.lead) or user.agency_id is None:
            return query.where(false())
        query = query.where(Rating.agency_id == user.agency_id)
    if agency_id is not None:
        query = query.where(Rating.agency_id == agency_id)
    return query


def count_if(condition: ColumnElement) -> ColumnElement:
    """COUNT(CASE WHEN condition THEN 1 END): a conditional count in one pass."""
    return func.count(sql_case((condition, 1)))


def _columns(scope: Select, *columns: ColumnElement | QueryableAttribute, table=Case) -> Select:
    """The scope's filters with other columns: an aggregate over the same rows."""
    return scope.with_only_columns(*columns, maintain_column_froms=False).select_from(table)


# Deadline states ----------------------------------------------------------------


def is_overdue(now: datetime) -> ColumnElement:
    return and_(Case.status.in_(STAFF_DEADLINE_STATUSES), Case.next_due < now)


def is_due_soon(now: datetime, soon: datetime) -> ColumnElement:
    return and_(Case.status.in_(STAFF_DEADLINE_STATUSES), Case.next_due >= now, Case.next_due <= soon)


# The figures ----------------------------------------------------------------------

Grouped = dict[Any, dict[str, Any]]


def _rows(query: Select, key: ColumnElement | None) -> Grouped:
    """Run an aggregate, grouped by ``key`` when given, as {key: {label: value}}."""
    if key is not None:
        query = query.add_columns(key.label("group_key")).group_by(key)
    result = {}
    for row in db.session.execute(query).mappings():
        values = dict(row)
        result[values.pop("group_key", None)] = values
    return result


def _received(scope: Select, start: datetime, end: datetime, key) -> Grouped:
    query = _columns(scope, func.count().label("received")).where(
        Case.received_at >= start, Case.received_at < end)
    return _rows(query, key)


def _answered(scope: Select, start: datetime, end: datetime, key) -> Grouped:
    query = _columns(
        scope, func.count().label("answered"),
        count_if(Case.answer_on_time.is_(True)).label("on_time"),
        count_if(Case.answer_on_time.is_(False)).label("late"),
    ).where(Case.answered_at >= start, Case.answered_at < end)
    return _rows(query, key)


def _open_now(scope: Select, now: datetime, soon: datetime, key) -> Grouped:
    # Bounded by status: the (status, next_due) index holds the few open cases
    # however many closed ones the table has.
    query = _columns(
        scope, func.count().label("open"),
        count_if(is_overdue(now)).label("overdue"),
        count_if(is_due_soon(now, soon)).label("due_soon"),
    ).where(Case.status.in_(OPEN))
    return _rows(query, key)


def _ratings(scope: Select, start: datetime, end: datetime, key) -> Grouped:
    query = _columns(
        scope, func.count().label("ratings"),
        count_if(Rating.level.in_(SATISFIED_LEVELS)).label("satisfied"), table=Rating,
    ).where(Rating.created_at >= start, Rating.created_at < end)
    return _rows(query, key)


def _review_requests(scope: Select, start: datetime, end: datetime, key) -> Grouped:
    # An alias: a lead's scope has its own EXISTS over case_event, which the
    # joined table must not swallow by correlation.
    event = aliased(CaseEvent)
    query = _columns(scope, func.count(func.distinct(Case.id)).label("review_requests")).join(
        event, event.case_id == Case.id,
    ).where(event.action == "review_requested", event.at >= start, event.at < end)
    return _rows(query, key)


def _median_days(scope: Select, start: datetime, end: datetime, key) -> Grouped:
    """Median of answer_working_days with window functions (SQLite 3.25+ and
    PostgreSQL alike): number the period's answered cases in order and average
    the middle one or two. Bounded by answered_at, so the sort stays small."""
    partition: dict[str, Any] = {"partition_by": Case.agency_id} if key is not None else {}
    ranked = _columns(
        scope, Case.agency_id.label("agency_id"), Case.answer_working_days.label("days"),
        func.row_number().over(order_by=Case.answer_working_days, **partition).label("rank"),
        func.count().over(**partition).label("n"),
    ).where(Case.answered_at >= start, Case.answered_at < end, Case.answer_working_days.is_not(None)).subquery()
    query = select(func.avg(ranked.c.days).label("median_working_days_to_answer")).where(
        ranked.c.rank >= (ranked.c.n + 1) // 2, ranked.c.rank <= (ranked.c.n + 2) // 2)
    rows = _rows(query, ranked.c.agency_id if key is not None else None)
    for values in rows.values():
        median = values["median_working_days_to_answer"]
        values["median_working_days_to_answer"] = None if median is None else float(median)
    return rows


def _complete(values: dict[str, Any]) -> dict[str, Any]:
    """Zeros for missing counts, and the rates (None when nothing to measure)."""
    figures: dict[str, Any] = {name: int(values.get(name) or 0) for name in COUNT_KEYS}
    measured = figures["on_time"] + figures["late"]
    figures["on_time_rate"] = figures["on_time"] / measured if measured else None
    figures["satisfaction_rate"] = figures["satisfied"] / figures["ratings"] if figures["ratings"] else None
    figures["median_working_days_to_answer"] = values.get("median_working_days_to_answer")
    return figures


def _figures(user: User, start: datetime, end: datetime, now: datetime | None, agency_id: int | None,
             grouped: bool) -> Grouped:
    now = now or utcnow()
    scope = case_scope(user, agency_id)
    key = Case.agency_id if grouped else None
    parts = [
        _received(scope, start, end, key),
        _answered(scope, start, end, key),
        _open_now(scope, now, due_soon_limit(now), key),
        _ratings(rating_scope(user, agency_id), start, end, Rating.agency_id if grouped else None),
        _review_requests(scope, start, end, key),
        _median_days(scope, start, end, key),
    ]
    keys: set = set().union(*parts) if grouped else {None}
    merged: Grouped = {}
    for group in keys:
        values: dict[str, Any] = {}
        for part in parts:
            values.update(part.get(group, {}))
        merged[group] = _complete(values)
    return merged


def headline(user: User, start: datetime, end: datetime, agency_id: int | None = None, *,
             now: datetime | None = None) -> dict[str, Any]:
    """The headline figures for the period ``[start, end)`` in ``user``'s scope
    (one agency if ``agency_id``): the keys in ``FIGURE_KEYS`` plus
    ``on_time_target``. "Now" figures (open, overdue, due soon) are as of
    ``now`` (default: this instant). Rates are fractions (0.95), or None."""
    figures = _figures(user, start, end, now, agency_id, grouped=False)[None]
    figures["on_time_target"] = ON_TIME_TARGET
    return figures


def by_agency(user: User, start: datetime, end: datetime, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The same figures per agency, worst on-time rate first.

    City-wide viewers get every active agency (and any inactive one that still
    has figures: agencies merged in a reorganisation keep their history); a
    lead gets their own agency only. Each row adds ``agency_id``,
    ``agency_code`` and ``agency_name``."""
    figures = _figures(user, start, end, now, None, grouped=True)
    rows = []
    for agency in _agencies_for(user, [key for key in figures if key is not None]):
        row = {"agency_id": agency.id, "agency_code": agency.code, "agency_name": agency.name}
        row.update(figures.get(agency.id) or _complete({}))
        rows.append(row)
    return sort_agency_rows(rows)


def _agencies_for(user: User, with_figures: Iterable[int]) -> list[Agency]:
    query = select(Agency).order_by(Agency.name, Agency.id)
    if user.sees_all_agencies:
        query = query.where(or_(Agency.active.is_(True), Agency.id.in_(list(with_figures))))
    elif user.role_enum in (Role.officer, Role.lead) and user.agency_id is not None:
        query = query.where(Agency.id == user.agency_id)
    else:
        return []
    return list(db.session.execute(query).scalars())


SORT_KEYS = ("agency",) + tuple(k for k in FIGURE_KEYS if k != "satisfied")


def sort_agency_rows(rows: list[dict[str, Any]], key: str = "on_time_rate",
                     descending: bool = False) -> list[dict[str, Any]]:
    """Sort the by-agency table on one column; agencies with nothing to
    measure (None) go last either way. The default, on-time rate ascending,
    puts the agencies furthest from the target first, the most overdue first
    among equals."""
    if key == "agency":
        return sorted(rows, key=lambda r: (r["agency_name"].casefold(), r["agency_id"]), reverse=descending)
    if key not in FIGURE_KEYS:
        key = "on_time_rate"
    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    present.sort(key=lambda r: (r[key], -r["overdue"] if not descending else r["overdue"], r["agency_name"]),
                 reverse=descending)
    missing.sort(key=lambda r: (-r["overdue"], r["agency_name"]))
    return present + missing


# Charts ------------------------------------------------------------------------------


def monthly(user: User, months: list, agency_id: int | None = None) -> list[dict[str, Any]]:
    """Received, answered and answered-late per month (``months``: periods with
    ``start``/``end``, oldest first), in two queries: one conditional count
    per month over the range, bounded by the indexed date column.

    "Late" is the recorded fact (answered after its deadline), so a past
    month's bar never moves; what is overdue now is in the headline."""
    scope = case_scope(user, agency_id)
    first, last = months[0].start, months[-1].end
    received = db.session.execute(_columns(scope, *(
        count_if(and_(Case.received_at >= m.start, Case.received_at < m.end)) for m in months
    )).where(Case.received_at >= first, Case.received_at < last)).one()
    answered_columns = []
    for m in months:
        in_month = and_(Case.answered_at >= m.start, Case.answered_at < m.end)
        answered_columns += [count_if(in_month), count_if(and_(in_month, Case.answer_on_time.is_(False)))]
    answered = db.session.execute(_columns(scope, *answered_columns).where(
        Case.answered_at >= first, Case.answered_at < last)).one()
    return [
        {"month": m.first, "received": received[i], "answered": answered[2 * i], "late": answered[2 * i + 1]}
        for i, m in enumerate(months)
    ]


def rating_levels(user: User, start: datetime, end: datetime, agency_id: int | None = None) -> dict[int, int]:
    """How many ratings of each level (1..5) were given in the period."""
    query = _columns(rating_scope(user, agency_id), Rating.level, func.count(), table=Rating).where(
        Rating.created_at >= start, Rating.created_at < end).group_by(Rating.level)
    levels = dict.fromkeys(range(1, 6), 0)
    for level, count in db.session.execute(query):
        if level in levels:
            levels[level] = count
    return levels


# Rules ------------------------------------------------------------------------------


def rules_that_hurt(user: User, start: datetime, end: datetime, agency_id: int | None = None,
                    limit: int = 10) -> list[dict[str, Any]]:
    """The procedures and legal documents most cases received in the period
    are about, with the outcomes of those cases so far and the count in the
    previous period of equal length (``previous``; ``change`` = cases - previous)."""
    scope = case_scope(user, agency_id)
    cases = func.count().label("cases")
    query = _columns(
        scope, Procedure.id, Procedure.code, Procedure.title, Procedure.kind, cases,
        *(count_if(Case.outcome == outcome).label(outcome) for outcome in OUTCOMES),
    ).join(Procedure, Procedure.id == Case.procedure_id).where(
        Case.received_at >= start, Case.received_at < end,
    ).group_by(Procedure.id, Procedure.code, Procedure.title, Procedure.kind).order_by(
        cases.desc(), Procedure.code).limit(limit)
    rows = [dict(row) for row in db.session.execute(query).mappings()]
    if not rows:
        return rows
    before = start - (end - start)
    previous: dict[int, int] = dict(db.session.execute(_columns(scope, Case.procedure_id, func.count()).where(
        Case.received_at >= before, Case.received_at < start,
        Case.procedure_id.in_([row["id"] for row in rows]),
    ).group_by(Case.procedure_id)).all())
    for row in rows:
        row["previous"] = previous.get(row["id"], 0)
        row["change"] = row["cases"] - row["previous"]
    return rows


def rules_amended(user: User, start: datetime, end: datetime, agency_id: int | None = None,
                  limit: int = 500) -> tuple[list[dict[str, Any]], bool]:
    """Cases answered in the period whose outcome amends a rule or forwards a
    recommendation to the body that owns it, with their procedure, for the
    six-monthly report. Returns (rows, truncated) with at most ``limit`` rows."""
    query = _columns(
        case_scope(user, agency_id), Case.code, Case.title, Case.answered_at, Case.outcome,
        Agency.name.label("agency_name"), Procedure.code.label("procedure_code"),
        Procedure.title.label("procedure_title"), Procedure.kind.label("procedure_kind"),
    ).join(Agency, Agency.id == Case.agency_id).outerjoin(Procedure, Procedure.id == Case.procedure_id).where(
        Case.answered_at >= start, Case.answered_at < end, Case.outcome.in_(RULE_CHANGING_OUTCOMES),
    ).order_by(Procedure.code.is_(None), Procedure.code, Case.answered_at, Case.id).limit(limit + 1)
    rows = [dict(row) for row in db.session.execute(query).mappings()]
    return rows[:limit], len(rows) > limit
