"""Background work: RQ when ``REDIS_URL`` is set, in process when it is not.

The work itself is plain functions taking an optional ``now``: :func:`deliver`
(one outbox row), :func:`sweep` (rows nobody is delivering), and the reminder
scan and digest in ``feedback.reminders``. The ``*_job`` functions are what
RQ runs (``rq worker``, ``rq cron feedback.cron``); they push an app context,
so a stock RQ worker works. :class:`AppWorker` builds the app once before
forking, which saves rebuilding it for every job.

With no Redis (the embedded default) the same functions run in the web
process: rows are delivered right after the commit that wrote them, and a
background thread runs the sweeper, the scan and the digest.

Delivery states (``Notification.status``)::

    pending ─dispatch─► queued ─claim─► sending ─► sent
       ▲                                   │  └──► failed  (permanent, or 5th attempt)
       └──── temporary failure, backoff ───┘
                             lease expired ─► failed  ("uncertain")

Idempotence: a delivery first claims its row with one conditional UPDATE
(pending/queued → sending, attempts + 1); only the job whose UPDATE matched
sends. A job run twice, or two workers taking the same job, send one mail.

At-most-once per claim: if the process dies after the mail server accepted the
message but before the row says "sent", the row stays "sending". When its lease
runs out the sweeper marks it failed as *uncertain* instead of sending again:
a citizen receiving the same answer twice is worse than a clerk seeing
"outcome unknown" in the failed-deliveries list and pressing "retry now"
after checking. (Render errors and refused connections are caught and
recorded, so only a real crash mid-send ends up uncertain.)

Redis is only the doorbell; the outbox table is the truth. Backoff is kept in
``next_attempt_at`` and the sweeper (every minute) re-enqueues what is due,
what was never queued (Redis was down) and what was queued but whose job
vanished (Redis flushed), so a lost job delays a message but never loses it.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Callable, Iterator

from flask import Flask, current_app, has_app_context
from flask_babel import lazy_gettext as _l
from redis import Redis
from redis.exceptions import LockError, RedisError
from rq import Queue, Worker
from rq.job import Job, JobStatus
from sqlalchemy import and_, bindparam, delete, or_, select, update

from .extensions import db
from .mail import DeliveryError, TemporaryFailure, channel_for
from .models import Case, Notification, SubmissionKey, utcnow
from .notifications import dispatch_after_commit

log = logging.getLogger(__name__)

# Waits after the 1st, 2nd, 3rd and 4th failed attempt; the 5th failure is final.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
MAX_ATTEMPTS = len(BACKOFF) + 1
# Longer than any SMTP conversation and the job timeout: a row "sending" for
# longer than this belongs to a process that died.
SENDING_LEASE = timedelta(minutes=15)
# A queued row older than this whose job is not in Redis any more is re-enqueued.
QUEUED_GRACE = timedelta(minutes=2)
# API Idempotency-Keys hold for 24 hours; the sweeper drops older ones.
IDEMPOTENCY_TTL = timedelta(hours=24)
# Web and worker clocks may differ a little; a fresh row is due for either.
CLOCK_SKEW = timedelta(minutes=1)
SWEEP_BATCH = 500
DELIVERY_JOB_TIMEOUT = 120
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
    UNCERTAIN: _l("Không rõ đã gửi hay chưa: tiến trình gửi bị gián đoạn, hãy kiểm tra trước khi gửi lại"),
    "retrying": _l("Gửi chưa thành công, hệ thống sẽ tự thử lại"),
}


def init_app(app: Flask) -> None:
    """Defaults for the job settings, and the embedded scheduler's starter."""
    env = os.environ
    app.config.setdefault("OUTBOX_DISPATCH_AFTER_COMMIT", True)
    app.config.setdefault("MAIL_TIMEOUT", int(env.get("FEEDBACK_MAIL_TIMEOUT", "30")))
    app.config.setdefault("REMINDER_DUE_SOON_DAYS", int(env.get("FEEDBACK_REMINDER_DUE_SOON_DAYS", "2")))
    app.config.setdefault("REMINDER_ESCALATE_AFTER_DAYS", int(env.get("FEEDBACK_REMINDER_ESCALATE_AFTER_DAYS", "2")))
    app.config.setdefault("INPROCESS_SCHEDULER", env.get("FEEDBACK_INPROCESS_SCHEDULER", "1") != "0")
    app.config.setdefault("INPROCESS_SWEEP_SECONDS", int(env.get("FEEDBACK_SWEEP_SECONDS", "60")))
    app.config.setdefault("INPROCESS_SCAN_SECONDS", int(env.get("FEEDBACK_SCAN_SECONDS", "300")))
    if not app.testing and not app.config.get("REDIS_URL") and app.config["INPROCESS_SCHEDULER"]:
        # Started by the first request, so `flask db upgrade` and other
        # commands never start it, and a reloader's watcher process neither.
        app.before_request(_start_scheduler_on_first_request)


# The queue switch ------------------------------------------------------------


def redis_connection() -> Redis | None:
    """The app's Redis client, or None in the embedded mode."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    clients = current_app.extensions.setdefault("feedback_redis", {})
    if url not in clients:
        # Short timeouts: a web request must not hang on a dead Redis.
        clients[url] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    return clients[url]


def get_queue() -> Queue | None:
    """The RQ queue jobs go to, or None when they run in process."""
    connection = redis_connection()
    if connection is None:
        return None
    return Queue(current_app.config["RQ_QUEUE"], connection=connection)


def delivery_job_id(notification_id: int) -> str:
    """One RQ job id per row, so the sweeper can ask Redis whether its job still exists."""
    return f"feedback-notification-{notification_id}"


# What RQ runs ----------------------------------------------------------------

_worker_app: Flask | None = None
_worker_app_pid: int | None = None


def worker_app() -> Flask:
    """The app jobs run in when RQ calls them outside any app context."""
    global _worker_app, _worker_app_pid
    if _worker_app is None:
        from . import create_app

        _worker_app, _worker_app_pid = create_app(), os.getpid()
    elif _worker_app_pid != os.getpid():
        # A forked work horse must not reuse the parent's pooled connections.
        with _worker_app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)
        _worker_app_pid = os.getpid()
    return _worker_app


def _in_app_context(func: Callable) -> Callable:
    @wraps(func)
    def run(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        with worker_app().app_context():
            return func(*args, **kwargs)

    return run


class AppWorker(Worker):
    """``rq worker -w feedback.jobs.AppWorker``: builds the app before forking."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        worker_app()


@_in_app_context
def deliver_job(notification_id: int) -> str:
    """RQ: deliver one outbox row (see :func:`deliver`)."""
    return deliver(notification_id)


@_in_app_context
def sweep_job() -> dict:
    """RQ cron, every minute: see :func:`sweep`."""
    return sweep().as_dict()


@_in_app_context
def scan_job() -> dict:
    """RQ cron, every few minutes: reminders and automatic actions."""
    from .reminders import scan

    return scan().as_dict()


@_in_app_context
def digest_job() -> dict:
    """RQ cron, working-day mornings: the leads' and supervisors' digest."""
    from .reminders import file_digests

    return file_digests().as_dict()


# Dispatch: handing due rows to the queue or to this process ------------------


def dispatch_committed(notification_ids: list[int]) -> None:
    """Called by the outbox hook once a transaction that wrote rows has
    committed. Never raises: the change is committed whatever happens here,
    and the sweeper retries what could not be handed over."""
    app = current_app._get_current_object()
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
        _enqueue(queue, [notification_id for notification_id, _ in rows])
    except RedisError as exc:
        log.warning("Redis unavailable, %d notification(s) left for the sweeper: %s", len(rows), exc)
        return 0
    _mark_queued(rows, now)
    return len(rows)


def _enqueue(queue: Queue, notification_ids: list[int]) -> None:
    with queue.connection.pipeline() as pipeline:
        for notification_id in notification_ids:
            queue.enqueue(deliver_job, notification_id, job_id=delivery_job_id(notification_id),
                          job_timeout=DELIVERY_JOB_TIMEOUT, result_ttl=3600, failure_ttl=7 * 86400,
                          description=f"deliver notification {notification_id}", pipeline=pipeline)
        pipeline.execute()


def _mark_queued(rows: list[tuple[int, int]], now: datetime | None) -> None:
    # Compare-and-set on attempts: a worker that already took the row (and
    # maybe scheduled a retry) must not have it marked queued again.
    table = Notification.__table__
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
    """
    notification = db.session.get(Notification, notification_id, populate_existing=True)
    if notification is None:
        return "skipped"
    if notification.attempts and notification.template in OFFICE_HOURS_TEMPLATES \
            and notification.status in ("pending", "queued"):
        from .deadlines import load_calendar

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
    _finish(notification_id, attempt, status="sent", sent_at=now or utcnow(), last_error="", next_attempt_at=None)
    return "sent"


def _claim(notification_id: int, now: datetime) -> int | None:
    """Take the row for one attempt; the attempt number, or None if someone else has it.

    A queued row was found due by whoever queued it; a pending row is only
    taken once its retry time has come.
    """
    table = Notification.__table__
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
    db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == "sending",
               Notification.attempts == attempt)
        .values(**values).execution_options(synchronize_session=False))
    db.session.commit()


def _defer(notification: Notification, until: datetime) -> str:
    db.session.execute(
        update(Notification)
        .where(Notification.id == notification.id, Notification.status.in_(("pending", "queued")),
               Notification.attempts == notification.attempts)
        .values(status="pending", next_attempt_at=until).execution_options(synchronize_session=False))
    db.session.commit()
    return "deferred"


# The sweeper -----------------------------------------------------------------


@dataclass
class SweepReport:
    dispatched: int = 0
    requeued: int = 0
    uncertain: list[int] = field(default_factory=list)
    expired_keys: int = 0

    def as_dict(self) -> dict:
        return {"dispatched": self.dispatched, "requeued": self.requeued, "uncertain": self.uncertain,
                "expired_keys": self.expired_keys}


def sweep(now: datetime | None = None) -> SweepReport:
    """Make sure every row is on its way: mark rows stuck in "sending" past their
    lease as uncertain failures, dispatch pending rows that are due (never
    queued, or waiting for a retry), and re-enqueue queued rows whose RQ job
    is gone. Safe to run any number of times, from any number of processes."""
    now = now or utcnow()
    report = SweepReport()
    stuck = db.session.execute(
        select(Notification.id, Notification.attempts)
        .where(Notification.status == "sending", Notification.next_attempt_at <= now).limit(SWEEP_BATCH)).all()
    for notification_id, attempts in stuck:
        result = db.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == "sending",
                   Notification.attempts == attempts)
            .values(status="failed", next_attempt_at=None,
                    last_error=f"{UNCERTAIN}: the delivery process stopped during attempt {attempts}; "
                               "the message may or may not have been sent")
            .execution_options(synchronize_session=False))
        if result.rowcount:
            report.uncertain.append(notification_id)
    due = db.session.execute(
        select(Notification.id, Notification.attempts)
        .where(Notification.status == "pending",
               or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now))
        .order_by(Notification.next_attempt_at, Notification.id).limit(SWEEP_BATCH)).all()
    stale = db.session.execute(
        select(Notification.id, Notification.attempts)
        .where(Notification.status == "queued", Notification.queued_at <= now - QUEUED_GRACE)
        .order_by(Notification.queued_at, Notification.id).limit(SWEEP_BATCH)).all()
    report.expired_keys = _expire_idempotency_keys(now)
    db.session.commit()
    report.dispatched = dispatch([tuple(row) for row in due], now)
    report.requeued = _requeue_vanished([row.id for row in stale], now)
    return report


def _expire_idempotency_keys(now: datetime) -> int:
    """API Idempotency-Keys hold for 24 hours; drop older ones so the table
    stays small (the sweeper runs every minute anyway)."""
    result = db.session.execute(
        delete(SubmissionKey).where(SubmissionKey.key.like("api:%"),
                                    SubmissionKey.created_at < now - IDEMPOTENCY_TTL)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def _requeue_vanished(notification_ids: list[int], now: datetime) -> int:
    if not notification_ids:
        return 0
    queue = get_queue()
    if queue is None:  # Redis was switched off since: deliver here
        for notification_id in notification_ids:
            deliver(notification_id, now)
        return len(notification_ids)
    try:
        jobs = Job.fetch_many([delivery_job_id(i) for i in notification_ids], connection=queue.connection)
        finished = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
        vanished = [i for i, job in zip(notification_ids, jobs)
                    if job is None or job.get_status(refresh=False) in finished]
        if vanished:
            _enqueue(queue, vanished)
    except RedisError as exc:
        log.warning("Redis unavailable, queued notifications not checked: %s", exc)
        return 0
    if vanished:
        db.session.execute(
            update(Notification).where(Notification.id.in_(vanished), Notification.status == "queued")
            .values(queued_at=now).execution_options(synchronize_session=False))
        db.session.commit()
    return len(vanished)


# Operator actions and what staff pages show -----------------------------------


def retry_now(notification_id: int, now: datetime | None = None) -> bool:
    """Desk or operator: give a failed notification a fresh set of attempts.
    Flushes only; delivery starts when the caller commits. False if the row
    is not failed (already retried, or never failed)."""
    result = db.session.execute(
        update(Notification).where(Notification.id == notification_id, Notification.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now or utcnow(), queued_at=None)
        .execution_options(synchronize_session=False))
    if not result.rowcount:
        return False
    dispatch_after_commit(notification_id)
    return True


def retry_failed(now: datetime | None = None) -> list[int]:
    """Operator: :func:`retry_now` for every failed notification. Flushes only."""
    ids = db.session.execute(select(Notification.id).where(Notification.status == "failed")
                             .order_by(Notification.id)).scalars().all()
    return [notification_id for notification_id in ids if retry_now(notification_id, now)]


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


# Running something once at a time ----------------------------------------------

_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


@contextmanager
def exclusive(name: str, timeout: int = 900) -> Iterator[bool]:
    """Yield True if this process may run ``name`` now (no other scan is
    running): a Redis lock across workers, a thread lock in process. If Redis
    cannot be reached the work goes ahead; the unique keys keep it safe."""
    connection = redis_connection()
    if connection is None:
        with _local_locks_guard:
            lock = _local_locks.setdefault(name, threading.Lock())
        acquired = lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()
        return
    redis_lock = connection.lock(f"feedback:lock:{name}", timeout=timeout, blocking=False)
    try:
        acquired = redis_lock.acquire()
    except RedisError:
        yield True
        return
    try:
        yield acquired
    finally:
        if acquired:
            try:
                redis_lock.release()
            except (LockError, RedisError):
                pass  # expired or Redis gone: the timeout frees it


# The embedded scheduler ----------------------------------------------------------

_scheduler_thread: threading.Thread | None = None
_scheduler_guard = threading.Lock()


def _start_scheduler_on_first_request() -> None:
    if _scheduler_thread is None:
        start_inprocess_scheduler(current_app._get_current_object())


def start_inprocess_scheduler(app: Flask) -> bool:
    """Start the embedded scheduler thread once per process; False if it runs already."""
    global _scheduler_thread
    with _scheduler_guard:
        if _scheduler_thread is not None and _scheduler_thread.is_alive():
            return False
        _scheduler_thread = threading.Thread(target=_run_scheduler, args=(app,), name="feedback-scheduler",
                                             daemon=True)
        _scheduler_thread.start()
        return True


def _run_scheduler(app: Flask) -> None:
    from .reminders import file_digests, scan

    sweep_every = app.config["INPROCESS_SWEEP_SECONDS"]
    scan_every = app.config["INPROCESS_SCAN_SECONDS"]
    last_scan = float("-inf")
    log.info("embedded scheduler: sweep every %ss, scan every %ss", sweep_every, scan_every)
    while True:
        for task in (sweep,) + ((scan, file_digests) if time.monotonic() - last_scan >= scan_every else ()):
            with app.app_context():
                try:
                    task()
                except Exception:  # keep the thread alive; the next tick tries again
                    log.exception("embedded scheduler: %s failed", task.__name__)
                    db.session.rollback()
            if task is scan:
                last_scan = time.monotonic()
        time.sleep(sweep_every)
