"""Background work: RQ when ``REDIS_URL`` is set, in process when it is not.

The work itself is plain functions taking an optional ``now``: ``deliver``
(one outbox row, ``delivery``), ``sweep`` (rows nobody is delivering,
``sweeper``), and the reminder scan and digest in ``feedback.reminders``. The
``*_job`` functions below are what RQ runs (``rq worker``, ``rq cron
feedback.cron``); they push an app context, so a stock RQ worker works.
``AppWorker`` (``worker``) builds the app once before forking, which saves
rebuilding it for every job. ``queue`` switches between RQ and in process;
``scheduler`` is the in-process thread.

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
"may have been sent" in the failed-deliveries list and pressing "retry now"
after checking (a confirmation page first). The moment the transport returns,
``accepted_at`` is committed on its own, so such a row can say that the mail
server had accepted it. (Render errors and refused connections are caught and
recorded, so only a real crash mid-send ends up uncertain.)

Redis is only the doorbell; the outbox table is the truth. Backoff is kept in
``next_attempt_at`` and the sweeper (every minute) re-enqueues what is due,
what was never queued (Redis was down) and what was queued but whose job
vanished (Redis flushed), so a lost job delays a message but never loses it.
"""
from __future__ import annotations

import os

from flask import Flask

from .delivery import (
    BACKOFF,
    GAVE_UP,
    MAX_ATTEMPTS,
    PERMANENT,
    PROBLEM_LABELS,
    UNCERTAIN,
    deliver,
    delivery_problems,
    dispatch,
    dispatch_committed,
    is_uncertain,
    problem_kind,
    problem_label,
    retry_failed,
    retry_now,
    uncertain_detail,
)
from .queue import DELIVERY_JOB_TIMEOUT, delivery_job_id, exclusive, get_queue, redis_connection
from .scheduler import start_inprocess_scheduler, start_scheduler_on_first_request
from .sweeper import IDEMPOTENCY_TTL, SweepReport, sweep
from .worker import AppWorker, in_app_context, worker_app

__all__ = [
    "BACKOFF", "DELIVERY_JOB_TIMEOUT", "GAVE_UP", "IDEMPOTENCY_TTL", "MAX_ATTEMPTS", "PERMANENT", "PROBLEM_LABELS",
    "UNCERTAIN", "AppWorker", "SweepReport", "deliver", "deliver_job", "delivery_job_id", "delivery_problems",
    "digest_job", "dispatch", "dispatch_committed", "exclusive", "get_queue", "init_app", "is_uncertain",
    "problem_kind",
    "problem_label", "redis_connection", "retry_failed", "retry_now", "scan_job", "start_inprocess_scheduler",
    "sweep", "sweep_job", "uncertain_detail", "worker_app",
]


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
        app.before_request(start_scheduler_on_first_request)


# What RQ runs ----------------------------------------------------------------
# Defined here, not in a submodule: RQ stores each job's dotted name
# (``feedback.jobs.deliver_job``) and workers import it by that name, so
# jobs already queued and the cron schedule keep working.


@in_app_context
def deliver_job(notification_id: int) -> str:
    """RQ: deliver one outbox row (see ``delivery.deliver``), under the id of
    the request that queued it (the job's ``meta``), so its log lines carry it."""
    from rq import get_current_job

    from ..request_log import reset_request_id, set_request_id

    job = get_current_job()
    token = set_request_id((job.meta or {}).get("request_id") if job is not None else None)
    try:
        return deliver(notification_id)
    finally:
        reset_request_id(token)


@in_app_context
def sweep_job() -> dict:
    """RQ cron, every minute: see ``sweeper.sweep``; then the heartbeat
    ``/healthz/jobs`` reads (see ``heartbeat``)."""
    from .heartbeat import beat

    report = sweep().as_dict()
    beat()
    return report


@in_app_context
def scan_job() -> dict:
    """RQ cron, every few minutes: reminders and automatic actions."""
    from ..reminders import scan

    return scan().as_dict()


@in_app_context
def digest_job() -> dict:
    """RQ cron, working-day mornings: the leads' and supervisors' digest."""
    from ..reminders import file_digests

    return file_digests().as_dict()
