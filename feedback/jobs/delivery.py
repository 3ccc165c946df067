"""Delivering one outbox row, handing due rows to the queue (or delivering
them in this process), and what staff see and do about failed deliveries."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from redis.exceptions import RedisError
from sqlalchemy import CursorResult, Table, and_, bindparam, or_, select, update

from ..extensions import db
from ..mail import DeliveryError, TemporaryFailure, channel_for
from ..models import Case, Notification, utcnow
from ..notifications import dispatch_after_commit
from ..sealing import drop_sealed
from .queue import enqueue_deliveries, get_queue

log = logging.getLogger(__name__)

# Waits after the 1st, 2nd, 3rd and 4th failed attempt; the 5th failure is final.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
MAX_ATTEMPTS = len(BACKOFF) + 1
# Longer than any SMTP conversation and the job timeout: a row "sending" for
# longer than this belongs to a process that died.
SENDING_LEASE = timedelta(minutes=15)
# Web and worker clocks may differ a little; a fresh row is due for either.
CLOCK_SKEW = timedelta(minutes=1)
# Staff mail that must not arrive at night: a retry falling outside office
# hours waits for the next opening (first attempts are filed in office hours).
OFFICE_HOURS_TEMPLATES = frozenset({"reminder", "digest"})

# Prefixes of Notification.last_error for the three kinds of final failure.
PERMANENT = "permanent"
GAVE_UP = "gave up"
UNCERTAIN = "uncertain"

PROBLEM_LABELS = {
    PERMANENT: _l("Không gửi được: địa chỉ hoặc nội dung bị từ chối, hệ thống không thử lại"),
    GAVE_UP: _l("Không gửi được sau %(n)s lần thử", n=MAX_ATTEMPTS),
    UNCERTAIN: _l("Có thể đã gửi: tiến trình gửi bị gián đoạn, hãy kiểm tra trước khi gửi lại"),
    "retrying": _l("Gửi chưa thành công, hệ thống sẽ tự thử lại"),
}


# Dispatch: handing due rows to the queue or to this process ------------------


def dispatch_committed(notification_ids: list[int]) -> None:
    """Called by the outbox hook once a transaction that wrote rows has
    committed. Never raises: the change is committed whatever happens here,
    and the sweeper retries what could not be handed over."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # current_app is a LocalProxy typed as Flask
    try:
        # A fresh app context has its own session: the committing one is
        # still finishing its transaction and must not be reused.
        with app.app_context():
            dispatch([(notification_id, 0) for notification_id in notification_ids])
    except Exception:
        log.exception("could not dispatch notifications %s; the sweeper will", notification_ids)


def dispatch(rows: list[tuple[int, int]], now: datetime | None = None) -> int:
    """Hand rows ``(id, attempts seen)`` to RQ, or deliver them now in process.
    Returns how many were handed over."""
    if not rows:
        return 0
    queue = get_queue()
    if queue is None:
        _mark_queued(rows, now)
        for notification_id, _attempts in rows:
            deliver(notification_id, now)
        return len(rows)
    try:
        enqueue_deliveries(queue, [notification_id for notification_id, _ in rows])
    except RedisError as exc:
        log.warning("Redis unavailable, %d notification(s) left for the sweeper: %s", len(rows), exc)
        return 0
    _mark_queued(rows, now)
    return len(rows)


def _mark_queued(rows: list[tuple[int, int]], now: datetime | None) -> None:
    # Compare-and-set on attempts: a worker that already took the row (and
    # maybe scheduled a retry) must not have it marked queued again.
    table = cast(Table, Notification.__table__)  # typed as FromClause; a mapped class's is a Table
    statement = (table.update()
                 .where(table.c.id == bindparam("nid"), table.c.status == "pending",
                        table.c.attempts == bindparam("seen"))
                 .values(status="queued", queued_at=now or utcnow()))
    with db.engine.begin() as connection:
        connection.execute(statement, [{"nid": i, "seen": attempts} for i, attempts in rows])


# Delivery --------------------------------------------------------------------


def deliver(notification_id: int, now: datetime | None = None) -> str:
    """Send one outbox row through its channel, at most once per claim.

    Returns what happened: ``sent``, ``retry`` (a temporary failure, tried
    again after the backoff), ``failed``, ``deferred`` (a staff retry at night
    waits for office hours) or ``skipped`` (someone else has it, or it is done).
    Logs one line with the outcome and the id of the request that caused it.
    """
    from ..request_log import current_request_id

    result = _deliver(notification_id, now)
    request_id = current_request_id()
    log.log(logging.WARNING if result in ("retry", "failed") else logging.INFO,
            "notification %s: %s (request %s)", notification_id, result, request_id or "-",
            extra={"request_id": request_id, "fields": {"notification_id": notification_id, "result": result}})
    return result


def _deliver(notification_id: int, now: datetime | None = None) -> str:
    notification = db.session.get(Notification, notification_id, populate_existing=True)
    if notification is None:
        return "skipped"
    if notification.attempts and notification.template in OFFICE_HOURS_TEMPLATES \
            and notification.status in ("pending", "queued"):
        from ..deadlines import load_calendar

        calendar = load_calendar()
        at = now or utcnow()
        if not calendar.is_office_hours(at):
            return _defer(notification, calendar.next_office_open(at))
    attempt = _claim(notification_id, now or utcnow())
    if attempt is None:
        return "skipped"
    notification = db.session.get(Notification, notification_id, populate_existing=True)
    try:
        channel_for(notification).send(notification)
    except DeliveryError as exc:
        return _record_failure(notification_id, attempt, exc, now)
    except Exception as exc:  # an unexpected error: retry, with the reason kept
        log.exception("delivery of notification %s crashed", notification_id)
        return _record_failure(notification_id, attempt, TemporaryFailure(f"{type(exc).__name__}: {exc}"), now)
    accepted_at = utcnow()
    _record_accepted(notification_id, attempt, accepted_at)
    _mark_sent(notification_id, attempt, now or accepted_at)
    return "sent"


def _record_accepted(notification_id: int, attempt: int, at: datetime) -> None:
    """The channel took the message: say so in a short transaction of its
    own, so that a row the final update then fails to mark sent (and the
    sweeper later calls uncertain) still tells staff the server had it."""
    try:
        db.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == "sending",
                   Notification.attempts == attempt)
            .values(accepted_at=at).execution_options(synchronize_session=False))
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("notification %s: sent, but its acceptance could not be recorded", notification_id)


def _mark_sent(notification_id: int, attempt: int, at: datetime) -> None:
    _finish(notification_id, attempt, status="sent", sent_at=at, last_error="", next_attempt_at=None)


def _claim(notification_id: int, now: datetime) -> int | None:
    """Take the row for one attempt; the attempt number, or None if someone else has it.

    A queued row was found due by whoever queued it; a pending row is only
    taken once its retry time has come.
    """
    table = cast(Table, Notification.__table__)  # typed as FromClause; a mapped class's is a Table
    attempt = db.session.execute(
        table.update()
        .where(table.c.id == notification_id,
               or_(table.c.status == "queued",
                   and_(table.c.status == "pending",
                        or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now + CLOCK_SKEW))))
        .values(status="sending", attempts=table.c.attempts + 1, next_attempt_at=now + SENDING_LEASE)
        .returning(table.c.attempts)
    ).scalar_one_or_none()
    db.session.commit()  # the claim must be visible before anything is sent
    return attempt


def _record_failure(notification_id: int, attempt: int, error: DeliveryError, now: datetime | None) -> str:
    now = now or utcnow()
    detail = str(error)[:2000]
    if error.permanent:
        _finish(notification_id, attempt, status="failed", last_error=f"{PERMANENT}: {detail}", next_attempt_at=None)
        return "failed"
    if attempt >= MAX_ATTEMPTS:
        _finish(notification_id, attempt, status="failed", next_attempt_at=None,
                last_error=f"{GAVE_UP} after {attempt} attempts: {detail}")
        return "failed"
    _finish(notification_id, attempt, status="pending", last_error=detail,
            next_attempt_at=now + BACKOFF[attempt - 1])
    return "retry"


def _finish(notification_id: int, attempt: int, **values) -> None:
    # Only the claim that sent may record the result.
    if values.get("status") in ("sent", "failed"):
        _add_dropped_secrets(notification_id, values)
    db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == "sending",
               Notification.attempts == attempt)
        .values(**values).execution_options(synchronize_session=False))
    db.session.commit()


def _add_dropped_secrets(notification_id: int, values: dict) -> None:
    """Delivered or failed for good: the row's sealed secrets (the private
    link) have served their purpose and leave the database with it. A row an
    operator retries later tells the citizen to ask for a new link instead."""
    payload = db.session.execute(select(Notification.payload).where(Notification.id == notification_id)).scalar()
    dropped = drop_sealed(payload)
    if dropped is not None:
        values["payload"] = dropped


def drop_secrets(notification_id: int) -> None:
    """:func:`_add_dropped_secrets` for a row already marked final (the
    sweeper's uncertain rows). Flushes only."""
    values: dict = {}
    _add_dropped_secrets(notification_id, values)
    if values:
        db.session.execute(update(Notification).where(Notification.id == notification_id).values(**values)
                           .execution_options(synchronize_session=False))


def _defer(notification: Notification, until: datetime) -> str:
    db.session.execute(
        update(Notification)
        .where(Notification.id == notification.id, Notification.status.in_(("pending", "queued")),
               Notification.attempts == notification.attempts)
        .values(status="pending", next_attempt_at=until).execution_options(synchronize_session=False))
    db.session.commit()
    return "deferred"


# Operator actions and what staff pages show -----------------------------------


def retry_now(notification_id: int, now: datetime | None = None) -> bool:
    """Desk or operator: give a failed notification a fresh set of attempts.
    Flushes only; delivery starts when the caller commits. False if the row
    is not failed (already retried, or never failed). An uncertain row may
    have reached its recipient: callers ask a person first (see
    :func:`is_uncertain`)."""
    # An UPDATE gives a CursorResult (with rowcount); Session.execute is typed as Result.
    result = cast("CursorResult[Any]", db.session.execute(
        update(Notification).where(Notification.id == notification_id, Notification.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now or utcnow(), queued_at=None, accepted_at=None)
        .execution_options(synchronize_session=False)))
    if not result.rowcount:
        return False
    dispatch_after_commit(notification_id)
    return True


def retry_failed(now: datetime | None = None, include_uncertain: bool = False) -> tuple[list[int], list[int]]:
    """Operator: :func:`retry_now` for every failed notification, the
    uncertain ones (which may have been delivered) only with
    ``include_uncertain``. Returns (retried ids, skipped uncertain ids).
    Flushes only."""
    failed = db.session.execute(select(Notification.id, Notification.last_error)
                                .where(Notification.status == "failed").order_by(Notification.id)).all()
    retried: list[int] = []
    skipped: list[int] = []
    for notification_id, last_error in failed:
        if (last_error or "").startswith(UNCERTAIN) and not include_uncertain:
            skipped.append(notification_id)
        elif retry_now(notification_id, now):
            retried.append(notification_id)
    return retried, skipped


def delivery_problems(case: Case) -> list[Notification]:
    """Notifications about ``case`` that failed for good and wait for a person:
    refused (permanent), given up after the last retry, or uncertain. Newest
    first. For the staff case page; describe each with :func:`problem_label`.
    (Rows still being retried automatically are not listed.)"""
    return list(db.session.execute(
        select(Notification)
        .where(Notification.case_id == case.id, Notification.status == "failed")
        .order_by(Notification.created_at.desc(), Notification.id.desc())).scalars())


def problem_kind(notification: Notification) -> str | None:
    """``permanent``, ``gave up``, ``uncertain``, ``retrying`` or None (no problem)."""
    if notification.status == "failed":
        for kind in (PERMANENT, GAVE_UP, UNCERTAIN):
            if (notification.last_error or "").startswith(kind):
                return kind
        return PERMANENT
    if notification.status == "pending" and notification.attempts:
        return "retrying"
    return None


def problem_label(notification: Notification) -> str:
    """What went wrong, in the viewer's language."""
    kind = problem_kind(notification)
    return str(PROBLEM_LABELS[kind]) if kind else ""


def is_uncertain(notification: Notification) -> bool:
    """Failed because the delivery process stopped mid-send: it may have been delivered."""
    return problem_kind(notification) == UNCERTAIN


def uncertain_detail(notification: Notification) -> str:
    """What is known about an uncertain row, in the viewer's language: when
    the mail server accepted it, or that nobody knows whether it did."""
    from ..labels import localdatetime

    if not is_uncertain(notification):
        return ""
    if notification.accepted_at is not None:
        return _("Máy chủ thư đã nhận lúc %(at)s; có thể người nhận đã có thư này.",
                 at=localdatetime(notification.accepted_at))
    return _("Không rõ máy chủ thư đã nhận hay chưa.")
