"""The sweeper: rows nobody is delivering. Expired leases become uncertain
failures, due retries and rows never queued are dispatched, queued rows whose
job vanished from Redis are queued again, and old API idempotency keys go."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from redis.exceptions import RedisError
from rq.job import Job, JobStatus
from sqlalchemy import CursorResult, delete, or_, select, update

from ..extensions import db
from ..models import Notification, SubmissionKey, utcnow
from .delivery import UNCERTAIN, deliver, dispatch, drop_secrets
from .queue import delivery_job_id, enqueue_deliveries, get_queue

log = logging.getLogger(__name__)

# A queued row older than this whose job is not in Redis any more is re-enqueued.
QUEUED_GRACE = timedelta(minutes=2)
# API Idempotency-Keys hold for 24 hours; the sweeper drops older ones.
IDEMPOTENCY_TTL = timedelta(hours=24)
SWEEP_BATCH = 500


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
        select(Notification.id, Notification.attempts, Notification.accepted_at)
        .where(Notification.status == "sending", Notification.next_attempt_at <= now).limit(SWEEP_BATCH)).all()
    for notification_id, attempts, accepted_at in stuck:
        if accepted_at is not None:
            known = (f"the mail server accepted the message at {accepted_at.isoformat(timespec='seconds')}, "
                     "so it was probably delivered")
        else:
            known = "not known whether the mail server accepted the message"
        # An UPDATE gives a CursorResult (with rowcount); Session.execute is typed as Result.
        result = cast("CursorResult[Any]", db.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == "sending",
                   Notification.attempts == attempts)
            .values(status="failed", next_attempt_at=None,
                    last_error=f"{UNCERTAIN}: the delivery process stopped during attempt {attempts} "
                               f"before recording the outcome; {known}")
            .execution_options(synchronize_session=False)))
        if result.rowcount:
            drop_secrets(notification_id)
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
    report.dispatched = dispatch([(row.id, row.attempts) for row in due], now)
    report.requeued = _requeue_vanished([row.id for row in stale], now)
    return report


def _expire_idempotency_keys(now: datetime) -> int:
    """API Idempotency-Keys hold for 24 hours; drop older ones so the table
    stays small (the sweeper runs every minute anyway)."""
    result = cast("CursorResult[Any]", db.session.execute(
        delete(SubmissionKey).where(SubmissionKey.key.like("api:%"),
                                    SubmissionKey.created_at < now - IDEMPOTENCY_TTL)
        .execution_options(synchronize_session=False)))
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
        vanished = [i for i, job in zip(notification_ids, jobs, strict=False)
                    if job is None or job.get_status(refresh=False) in finished]
        if vanished:
            enqueue_deliveries(queue, vanished)
    except RedisError as exc:
        log.warning("Redis unavailable, queued notifications not checked: %s", exc)
        return 0
    if vanished:
        db.session.execute(
            update(Notification).where(Notification.id.in_(vanished), Notification.status == "queued")
            .values(queued_at=now).execution_options(synchronize_session=False))
        db.session.commit()
    return len(vanished)
