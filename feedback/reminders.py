"""The reminder scan, the morning digest and the automatic actions (docs/design.md §5).

:func:`scan` runs every few minutes (RQ cron, or the embedded scheduler). It
reads only cases whose indexed ``next_due`` falls before the due-soon horizon
(``WHERE next_due <= :horizon``), so its cost follows the number of cases near
or past a deadline, not the size of the table.

Steps for each open staff deadline (``classify_due`` for the desk,
``answer_due`` for the case's officer, or the agency's officers while nobody
has taken it, and the agency's leads, ``review_due`` for supervisors):

- ``due_soon``: from the working day ``REMINDER_DUE_SOON_DAYS`` (2) working
  days before the due day;
- ``due_today``: on the due day;
- ``overdue``: once the deadline has passed;
- ``escalated``: still overdue ``REMINDER_ESCALATE_AFTER_DAYS`` (2) working
  days after the due day: every supervisor.

A scan that meets a case late (the scheduler was down) files only the latest
of due_soon / due_today / overdue: a stale "due soon" helps nobody.

Office hours: staff reminders are filed only while the office is open on a
working day. Outside office hours the scan files none; the first scan after
opening files what is due then. Nothing reaches staff at night or on Tết, and
a reminder describes the case as it is when it is read.

Once each: a reminder is filed by claiming its ``ReminderDelivery`` key (case,
deadline kind, deadline instant, step, recipient) with
``INSERT ... ON CONFLICT DO NOTHING`` in the same transaction as its
Notification. A second scan, or one after a worker died, finds the key taken.
An extended deadline is a different instant, so it gets its own reminders.

``info_due`` and ``rating_due`` are not staff reminders: once they pass, the
scan closes the case through the workflow, each case in its own transaction.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, and_, bindparam, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .deadlines import OFFICE_TZ, WorkingCalendar, load_calendar
from .extensions import db
from .jobs import exclusive
from .models import Agency, Case, DigestDelivery, ReminderDelivery, Role, Status, User, utcnow
from .notifications import case_links, notify_user
from .workflow import OPEN_DEADLINES, Actor, WorkflowError, close_case, close_incomplete, open_deadlines

log = logging.getLogger(__name__)

DUE_SOON, DUE_TODAY, OVERDUE, ESCALATED = "due_soon", "due_today", "overdue", "escalated"
STAFF_DEADLINES = ("classify_due", "answer_due", "review_due")
# Statuses whose open deadline is a staff one (the digest lists these).
STAFF_STATUSES = tuple(s.value for s, names in OPEN_DEADLINES.items() if set(names) & set(STAFF_DEADLINES))
ANSWER_STATUSES = tuple(s.value for s, names in OPEN_DEADLINES.items() if "answer_due" in names)
BATCH = 200
CLAIM_CHUNK = 500  # rows per INSERT: well under SQLite's bound-parameter limit
DIGEST_MAX_CASES = 200
_KEY = ("case_id", "deadline_kind", "deadline_at", "step", "recipient_id")


@dataclass
class Filed:
    code: str
    deadline_kind: str
    step: str
    recipient: str


@dataclass
class ScanReport:
    """What one scan did, for the CLI and the job result."""

    at: datetime
    office_hours: bool = False
    busy: bool = False
    filed: list[Filed] = field(default_factory=list)
    closed_incomplete: list[str] = field(default_factory=list)
    closed_after_rating: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


@dataclass
class DigestReport:
    at: datetime
    busy: bool = False
    filed: list[tuple[str, int]] = field(default_factory=list)  # (recipient, number of cases)

    def as_dict(self) -> dict:
        return {"at": self.at.isoformat(), "busy": self.busy, "filed": self.filed}


# The scan --------------------------------------------------------------------


def scan(now: datetime | None = None) -> ScanReport:
    """Close cases whose information or rating window has passed, then (in
    office hours) file the staff reminders that are due. One scan at a time;
    a second one started meanwhile returns at once with ``busy`` set."""
    now = now or utcnow()
    report = ScanReport(at=now)
    with exclusive("reminder-scan") as mine:
        if not mine:
            report.busy = True
            return report
        run_auto_actions(now, report)
        calendar = load_calendar()
        report.office_hours = calendar.is_office_hours(now)
        if report.office_hours:
            file_reminders(now, calendar, report)
    return report


def reminder_steps(calendar: WorkingCalendar, due: datetime, now: datetime,
                   due_soon_days: int = 2, escalate_after_days: int = 2) -> list[str]:
    """The reminder steps a deadline ``due`` has reached at ``now`` (the latest
    of due_soon / due_today / overdue, plus escalated)."""
    if now > due:
        steps = [OVERDUE]
        if now > calendar.extend(due, escalate_after_days):
            steps.append(ESCALATED)
        return steps
    today, due_day = now.astimezone(OFFICE_TZ).date(), due.astimezone(OFFICE_TZ).date()
    if today >= due_day:
        return [DUE_TODAY]
    if due_soon_days and today >= working_days_before(calendar, due_day, due_soon_days):
        return [DUE_SOON]
    return []


def working_days_before(calendar: WorkingCalendar, day: date, n: int) -> date:
    """The ``n``-th working day strictly before ``day``."""
    for _ in range(n):
        day -= timedelta(days=1)
        while not calendar.is_working_day(day):
            day -= timedelta(days=1)
    return day


def file_reminders(now: datetime, calendar: WorkingCalendar, report: ScanReport) -> None:
    """File every due reminder not filed before, batch by batch along ``next_due``."""
    config = current_app.config
    due_soon_days = config["REMINDER_DUE_SOON_DAYS"]
    escalate_days = config["REMINDER_ESCALATE_AFTER_DAYS"]
    today = now.astimezone(OFFICE_TZ).date()
    horizon = calendar.close_of(calendar.add_working_days(today, due_soon_days))
    recipients = _Recipients()
    last: tuple[datetime, int] | None = None
    while True:
        query = select(Case).where(Case.next_due <= horizon)
        if last is not None:  # keyset pagination: stable while rows are added
            query = query.where(or_(Case.next_due > last[0], and_(Case.next_due == last[0], Case.id > last[1])))
        cases = db.session.execute(query.order_by(Case.next_due, Case.id).limit(BATCH)).scalars().all()
        if not cases:
            break
        last = (cases[-1].next_due, cases[-1].id)
        taken = _taken_keys([case.id for case in cases])
        try:
            wanted = [(case, kind, due, step, user)
                      for case in cases
                      for kind, due in open_deadlines(case).items() if kind in STAFF_DEADLINES
                      for step in reminder_steps(calendar, due, now, due_soon_days, escalate_days)
                      for user in recipients.for_step(case, kind, step)
                      if (case.id, kind, due, step, user.id) not in taken]
            if wanted:  # committing expires every loaded row: only when there is news
                filed = _file_reminders(wanted, recipients, now)
                db.session.commit()
                report.filed.extend(filed)
        except SQLAlchemyError as exc:  # one bad batch must not stop the others
            db.session.rollback()
            log.exception("reminder batch ending at case %s failed", last[1])
            report.skipped.append(f"batch ending at case {last[1]}: {exc.__class__.__name__}")
        if len(cases) < BATCH:
            break
    db.session.commit()


def _taken_keys(case_ids: list[int]) -> set[tuple]:
    columns = [getattr(ReminderDelivery, name) for name in _KEY]
    rows = db.session.execute(select(*columns).where(ReminderDelivery.case_id.in_(case_ids)))
    return {tuple(row) for row in rows}


def _file_reminders(wanted: list[tuple], recipients: _Recipients, now: datetime) -> list[Filed]:
    """Claim the keys, then write a reminder for each key this scan won, all in
    the caller's transaction: a key is never taken without its notification."""
    claimed = claim_reminder_keys([(case.id, kind, due, step, user.id) for case, kind, due, step, user in wanted],
                                  now)
    filed, links = [], []
    for case, kind, due, step, user in wanted:
        delivery_id = claimed.get((case.id, kind, due, step, user.id))
        if delivery_id is None:
            continue  # another scan filed it meanwhile
        notification = notify_user(case, user, "reminder", {
            **case_links(case), "deadline_kind": kind, "deadline_at": due.isoformat(), "step": step,
            "status": case.status, "agency": recipients.agency_name(case.agency_id),
        })
        # Filed "now" on the scan's clock, so frozen-clock runs stay consistent.
        notification.created_at = notification.next_attempt_at = now
        links.append((delivery_id, notification))
        filed.append(Filed(case.code, kind, step, user.email))
    if links:
        db.session.flush()
        table = cast(Table, ReminderDelivery.__table__)  # typed as FromClause; a mapped class's is a Table
        db.session.execute(table.update().where(table.c.id == bindparam("delivery"))
                           .values(notification_id=bindparam("notification")),
                           [{"delivery": d, "notification": n.id} for d, n in links])
    return filed


def claim_reminder_keys(keys: list[tuple], now: datetime) -> dict[tuple, int]:
    """Insert a ReminderDelivery row for each key not yet taken; returns the
    keys this call inserted, with their row ids.

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on SQLite and PostgreSQL:
    a concurrent scan waits for ours to commit, then finds the keys taken.
    Other databases fall back to a savepoint per row.
    """
    if not keys:
        return {}
    table = cast(Table, ReminderDelivery.__table__)  # typed as FromClause; a mapped class's is a Table
    rows = [dict(zip(_KEY, key, strict=False), created_at=now) for key in keys]
    dialect = db.session.get_bind().dialect.name
    claimed: dict[tuple, int] = {}
    if dialect in ("sqlite", "postgresql"):
        dialect_insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        for start in range(0, len(rows), CLAIM_CHUNK):
            statement = (dialect_insert(table).values(rows[start:start + CLAIM_CHUNK])
                         .on_conflict_do_nothing(index_elements=list(_KEY))
                         .returning(table.c.id, *[table.c[name] for name in _KEY]))
            claimed.update({tuple(row[1:]): row[0] for row in db.session.execute(statement)})
        return claimed
    for key, row in zip(keys, rows, strict=False):
        try:
            with db.session.begin_nested():
                claimed[key] = db.session.execute(insert(table).values(**row).returning(table.c.id)).scalar_one()
        except IntegrityError:
            pass
    return claimed


class _Recipients:
    """Who receives which reminder; staff lists loaded once per scan."""

    def __init__(self) -> None:
        self.desk = _active_staff(Role.desk)
        self.supervisors = _active_staff(Role.supervisor)
        self._agency_staff: dict[int, tuple[list[User], list[User]]] = {}
        self._agency_names: dict[int, str] = {}

    def for_step(self, case: Case, kind: str, step: str) -> list[User]:
        if step == ESCALATED or kind == "review_due":
            return self.supervisors
        if kind == "classify_due":
            return self.desk
        officers, leads = self._staff_of(case.agency_id)
        officer = db.session.get(User, case.officer_id) if case.officer_id else None
        handlers = [officer] if officer is not None and officer.active else officers
        unique = {user.id: user for user in handlers + leads}
        return list(unique.values())

    def _staff_of(self, agency_id: int) -> tuple[list[User], list[User]]:
        if agency_id not in self._agency_staff:
            self._agency_staff[agency_id] = (_active_staff(Role.officer, agency_id),
                                             _active_staff(Role.lead, agency_id))
        return self._agency_staff[agency_id]

    def agency_name(self, agency_id: int) -> str:
        if agency_id not in self._agency_names:
            agency = db.session.get(Agency, agency_id)
            self._agency_names[agency_id] = agency.name if agency else ""
        return self._agency_names[agency_id]


def _active_staff(role: Role, agency_id: int | None = None) -> list[User]:
    query = select(User).where(User.role == role.value, User.active.is_(True))
    if agency_id is not None:
        query = query.where(User.agency_id == agency_id)
    return list(db.session.execute(query.order_by(User.id)).scalars())


# Automatic actions -------------------------------------------------------------


def run_auto_actions(now: datetime, report: ScanReport) -> None:
    """Close, through the workflow and one case per transaction, the cases
    whose citizen did not answer a request for information in time and the
    answered cases whose rating window has passed. A case changed meanwhile
    (stale version, or no longer in that state) is skipped."""
    actions = (
        (Status.needs_info, lambda case: close_incomplete(case, now=now), report.closed_incomplete),
        (Status.responded, lambda case: close_case(case, Actor.system(), now=now), report.closed_after_rating),
    )
    for status, action, done in actions:
        rows = db.session.execute(
            select(Case.id, Case.code).where(Case.status == status.value, Case.next_due < now)
            .order_by(Case.next_due, Case.id)).all()
        db.session.commit()
        for case_id, code in rows:
            try:
                case = db.session.get(Case, case_id, populate_existing=True)
                action(case)
                db.session.commit()
                done.append(code)
            except (WorkflowError, SQLAlchemyError) as exc:
                db.session.rollback()
                report.skipped.append(f"{code}: {getattr(exc, 'message', exc)}")


# The morning digest --------------------------------------------------------------


def file_digests(now: datetime | None = None) -> DigestReport:
    """On a working day in office hours, file today's digest for each lead
    (their agency's answer deadlines) and each supervisor (every staff
    deadline): the cases overdue or due today, with links. Once per recipient
    and day; nobody gets an empty digest."""
    now = now or utcnow()
    report = DigestReport(at=now)
    calendar = load_calendar()
    if not calendar.is_office_hours(now):
        return report
    with exclusive("digest") as mine:
        if not mine:
            report.busy = True
            return report
        today = now.astimezone(OFFICE_TZ).date()
        # The lock spares the work; the unique (recipient, day) key in
        # DigestDelivery is what keeps it to one a day across processes.
        already = set(db.session.execute(
            select(DigestDelivery.recipient_id).where(DigestDelivery.day == today)).scalars())
        rows = db.session.execute(
            select(Case.code, Case.title, Case.agency_id, Case.status, Case.next_due)
            .where(Case.next_due <= calendar.close_of(today), Case.status.in_(STAFF_STATUSES))
            .order_by(Case.next_due, Case.id)).all()
        if rows:
            names = dict(db.session.execute(select(Agency.id, Agency.name)).all())
            for user in _active_staff(Role.lead) + _active_staff(Role.supervisor):
                if user.id in already:
                    continue
                if user.role == Role.supervisor.value:
                    mine_rows = rows
                else:
                    mine_rows = [r for r in rows if r.agency_id == user.agency_id and r.status in ANSWER_STATUSES]
                if mine_rows and _claim_digest(user, today, now):
                    _file_digest(user, mine_rows, names, today, now)
                    report.filed.append((user.email, len(mine_rows)))
        db.session.commit()
    return report


def _claim_digest(user: User, today: date, now: datetime) -> bool:
    """Insert today's key for ``user``; False if another process already did."""
    try:
        with db.session.begin_nested():
            db.session.add(DigestDelivery(recipient_id=user.id, day=today, created_at=now))
    except IntegrityError:
        return False
    return True


def _file_digest(user: User, rows: Sequence[Any], agency_names: dict[int, str], today: date, now: datetime) -> None:
    base = current_app.config["BASE_URL"].rstrip("/")
    cases = [{"code": r.code, "title": r.title, "due": r.next_due.isoformat(), "overdue": r.next_due < now,
              "agency": agency_names.get(r.agency_id, ""), "url": f"{base}/staff/cases/{r.code}"}
             for r in rows[:DIGEST_MAX_CASES]]
    notification = notify_user(None, user, "digest", {
        "date": today.isoformat(), "cases": cases, "more": max(0, len(rows) - DIGEST_MAX_CASES),
        "overdue_count": sum(1 for r in rows if r.next_due < now),
        "due_today_count": sum(1 for r in rows if r.next_due >= now),
        "inbox_url": f"{base}/staff/",
    })
    notification.created_at = notification.next_attempt_at = now
