"""Prometheus metrics at ``/metrics``, for the monitoring server only.

The endpoint answers only ``Authorization: Bearer <FEEDBACK_METRICS_TOKEN>``
and is a 404 when no token is configured. It serves:

- ``feedback_http_request_duration_seconds`` (histogram; its ``_count`` is
  the request count) labelled by endpoint name and status class (``2xx``…),
  measured from before_request to after_request;
- gauges computed at scrape time: RQ queue depth and failed jobs (0 without
  Redis, absent when Redis does not answer), the age of the oldest
  undelivered outbox row, failed outbox rows, open and overdue cases per agency.

Several gunicorn workers: when ``PROMETHEUS_MULTIPROC_DIR`` is set (the
gunicorn configuration in ``deploy/`` sets it before any worker starts) the
request metrics of all workers are added up from files in that directory;
without it each process counts only its own requests.
"""
from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from .extensions import db

bp = Blueprint("metrics", __name__)

# The request metrics live in their own registry (several apps in one process,
# as in the tests, must not register them twice).
REQUEST_REGISTRY = CollectorRegistry(auto_describe=True)
REQUEST_DURATION = Histogram(
    "feedback_http_request_duration_seconds", "Time to answer a request, by endpoint and status class.",
    ["endpoint", "status_class"], registry=REQUEST_REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class StateCollector:
    """Gauges read from the database and Redis at each scrape."""

    def collect(self):
        yield from _queue_gauges()
        yield from _outbox_gauges()
        yield from _case_gauges()


def _queue_gauges():
    from .jobs import get_queue

    depth = GaugeMetricFamily("feedback_rq_queue_depth", "Jobs waiting in the RQ queue.", labels=["queue"])
    failed = GaugeMetricFamily("feedback_rq_failed_jobs", "Jobs in the RQ failed-job registry.", labels=["queue"])
    name = current_app.config["RQ_QUEUE"]
    queue = get_queue()
    if queue is None:  # jobs run in process: nothing ever waits in a queue
        depth.add_metric([name], 0)
        failed.add_metric([name], 0)
    else:
        try:
            depth.add_metric([name], queue.count)
            failed.add_metric([name], queue.failed_job_registry.count)
        except Exception:  # Redis down: leave the gauges out (/readyz says why)
            current_app.logger.warning("metrics: Redis did not answer; queue gauges left out")
            return
    yield depth
    yield failed


def _outbox_gauges():
    from .models import Notification, utcnow

    rows = db.session.execute(
        select(Notification.status, func.count(), func.min(Notification.created_at))
        .group_by(Notification.status)).all()
    oldest = min((created for status, _count, created in rows if status in ("pending", "queued") and created),
                 default=None)
    age = GaugeMetricFamily("feedback_outbox_oldest_undelivered_seconds",
                            "Age of the oldest notification not yet delivered (pending or queued); 0 if none.")
    age.add_metric([], max(0.0, (utcnow() - _aware(oldest)).total_seconds()) if oldest else 0.0)
    yield age
    counts = GaugeMetricFamily("feedback_outbox_notifications", "Outbox rows by delivery status.", labels=["status"])
    seen = {status: count for status, count, _created in rows}
    for status in ("pending", "queued", "sending", "sent", "failed"):
        counts.add_metric([status], seen.get(status, 0))
    yield counts


def _aware(value):
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _case_gauges():
    from .models import Agency, Case, utcnow
    from .reporting.stats import OPEN, count_if, is_overdue

    rows = db.session.execute(
        select(Agency.code, func.count(Case.id), count_if(is_overdue(utcnow())))
        .join(Agency, Agency.id == Case.agency_id)
        .where(Case.status.in_(OPEN))
        .group_by(Agency.code)).all()
    open_cases = GaugeMetricFamily("feedback_cases_open", "Open cases held by each agency.", labels=["agency"])
    overdue = GaugeMetricFamily("feedback_cases_overdue", "Open cases past their deadline, by agency.",
                                labels=["agency"])
    for code, open_count, overdue_count in rows:
        open_cases.add_metric([code], open_count)
        overdue.add_metric([code], overdue_count)
    yield open_cases
    yield overdue


def _scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_dir()
    if directory:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_RequestMetrics())
    registry.register(StateCollector())
    return registry


class _RequestMetrics:
    def collect(self):
        return REQUEST_REGISTRY.collect()


def _authorized() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        abort(404)
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@bp.route("/metrics")
def metrics():
    if not _authorized():
        return Response("unauthorized\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": "Bearer"})
    return Response(generate_latest(_scrape_registry()), mimetype=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    app.config.setdefault("METRICS_TOKEN", os.environ.get("FEEDBACK_METRICS_TOKEN", ""))
    app.register_blueprint(bp)

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def observe(response):
        started = g.pop("metrics_started", None)
        if started is not None:
            endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
            REQUEST_DURATION.labels(endpoint, f"{response.status_code // 100}xx").observe(
                time.perf_counter() - started)
        return response
