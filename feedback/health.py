"""Probes. ``/healthz`` is liveness and ``/readyz`` readiness for the load
balancer: only what this web process needs to serve a citizen (the
database; submissions work without Redis). ``/healthz/jobs`` is for
monitoring alerts, not the load balancer: is background delivery working?"""
from __future__ import annotations

import time
from datetime import UTC, timedelta

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select, text

from .extensions import db

bp = Blueprint("health", __name__)

# A sweep runs every minute; three missed ones mean the schedule is dead.
HEARTBEAT_MAX_AGE = 180
# A row due for delivery this long and still undelivered means nobody delivers.
OUTBOX_MAX_DUE_AGE = 600


@bp.route("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        db.session.rollback()
        checks["database"] = f"error: {exc.__class__.__name__}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "unavailable", checks=checks), (200 if ok else 503)


@bp.route("/healthz/jobs")
def jobs_health():
    """Redis, RQ workers, the scheduler's heartbeat and the outbox: 200 when
    all is well, 503 with the failing checks named in ``failing``."""
    checks: dict[str, dict] = {}
    if current_app.config.get("REDIS_URL"):
        checks.update(_rq_checks())
    else:
        checks["scheduler"] = _inprocess_scheduler_check()
    checks["outbox"] = _outbox_check()
    failing = sorted(name for name, check in checks.items() if not check["ok"])
    body = {"status": "unavailable" if failing else "ok", "failing": failing, "checks": checks,
            "mode": "rq" if current_app.config.get("REDIS_URL") else "in-process"}
    return jsonify(body), (503 if failing else 200)


def _heartbeat_check(beat_at: float | None) -> dict:
    max_age = current_app.config.get("JOBS_HEARTBEAT_MAX_AGE", HEARTBEAT_MAX_AGE)
    if beat_at is None:
        return {"ok": False, "last_beat_age_seconds": None, "error": "no heartbeat recorded"}
    age = max(0.0, time.time() - beat_at)
    check: dict = {"ok": age <= max_age, "last_beat_age_seconds": round(age, 1)}
    if not check["ok"]:
        check["error"] = f"last sweep more than {max_age} s ago"
    return check


def _rq_checks() -> dict[str, dict]:
    from redis.exceptions import RedisError
    from rq import Worker

    from .jobs import get_queue
    from .jobs.heartbeat import last_beat

    queue = get_queue()
    assert queue is not None
    try:
        queue.connection.ping()
    except RedisError as exc:
        error = f"Redis unreachable: {exc.__class__.__name__}"
        return {"redis": {"ok": False, "error": error},
                "workers": {"ok": False, "alive": None, "error": error},
                "scheduler": {"ok": False, "last_beat_age_seconds": None, "error": error}}
    checks: dict[str, dict] = {"redis": {"ok": True}}
    try:
        alive = len(Worker.all(queue=queue))
        checks["workers"] = {"ok": alive > 0, "alive": alive}
        if not alive:
            checks["workers"]["error"] = f"no RQ worker listens on queue {queue.name!r}"
        checks["scheduler"] = _heartbeat_check(last_beat())
    except RedisError as exc:
        checks["redis"] = {"ok": False, "error": f"Redis unreachable: {exc.__class__.__name__}"}
    return checks


def _inprocess_scheduler_check() -> dict:
    from .jobs.heartbeat import last_beat
    from .jobs.scheduler import scheduler_alive

    beat_at = last_beat()
    if beat_at is None and scheduler_alive():
        return {"ok": True, "embedded": True, "last_beat_age_seconds": None, "note": "first sweep running"}
    check = _heartbeat_check(beat_at)
    check["embedded"] = True
    if not scheduler_alive():
        check.update(ok=False, error="the embedded scheduler thread does not run in this process")
    return check


def _outbox_check() -> dict:
    from .models import Notification, utcnow

    now = utcnow()
    due_since = func.coalesce(Notification.next_attempt_at, Notification.created_at)
    try:
        oldest, oldest_due = db.session.execute(
            select(func.min(Notification.created_at),
                   func.min(due_since).filter(due_since <= now))
            .where(Notification.status.in_(("pending", "queued")))).one()
    except Exception as exc:
        db.session.rollback()
        return {"ok": False, "error": f"database: {exc.__class__.__name__}"}

    def age(value) -> float | None:
        if value is None:
            return None
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return round(max(timedelta(0), now - value).total_seconds(), 1)

    max_due = current_app.config.get("JOBS_OUTBOX_MAX_DUE_AGE", OUTBOX_MAX_DUE_AGE)
    due_age = age(oldest_due)
    check: dict = {"ok": due_age is None or due_age <= max_due, "oldest_undelivered_seconds": age(oldest),
                   "oldest_due_seconds": due_age}
    if not check["ok"]:
        check["error"] = f"a notification due for more than {max_due} s is still undelivered"
    return check
