"""/metrics behind its token, request ids, JSON request logs, and the id
travelling into the delivery jobs a request causes."""
from __future__ import annotations

import json
import logging
import os
import re
from datetime import timedelta
from uuid import uuid4

import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import Notification, utcnow
from feedback.request_log import JsonFormatter

from .conftest import require_service
from .helpers import online_form

TOKEN = "s3cret-metrics-token"


@pytest.fixture
def metrics_token(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    return TOKEN


def metric_value(text: str, name: str, **labels) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if wanted else "") + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name} {labels} not in:\n{text}"
    return float(match.group(1))


class Lines(logging.Handler):
    """Formats records like production (JsonFormatter) and keeps the lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines():
    handler = Lines()
    loggers = [logging.getLogger("feedback.request"), logging.getLogger("feedback.jobs.delivery")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield handler.lines
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


# /metrics ----------------------------------------------------------------------


def test_metrics_are_not_served_without_a_configured_token(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_refuse_a_missing_or_wrong_token(client, metrics_token):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
    assert response.status_code == 401 and b"feedback_" not in response.data


def test_metrics_serve_requests_queue_outbox_and_cases(client, app, make, monkeypatch, metrics_token):
    monkeypatch.setitem(app.config, "OUTBOX_DISPATCH_AFTER_COMMIT", False)  # rows stay undelivered
    department = make.agency(code="SO-XD")
    make.case(agency=department, status="in_progress", next_due=utcnow() - timedelta(days=1))
    make.case(agency=department, status="in_progress", next_due=utcnow() + timedelta(days=3))
    make.case(agency=department, status="closed")
    db.session.add(Notification(recipient="a@example.vn", template="receipt", status="pending",
                                created_at=utcnow() - timedelta(minutes=10)))
    db.session.add(Notification(recipient="b@example.vn", template="receipt", status="queued",
                                created_at=utcnow() - timedelta(minutes=2)))
    db.session.add(Notification(recipient="c@example.vn", template="receipt", status="sent",
                                created_at=utcnow() - timedelta(days=3)))
    db.session.commit()
    assert client.get("/healthz").status_code == 200
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.get_data(as_text=True)
    assert metric_value(text, "feedback_http_request_duration_seconds_count",
                        endpoint="health.healthz", status_class="2xx") >= 1
    age = metric_value(text, "feedback_outbox_oldest_undelivered_seconds")
    assert 590 <= age <= 900  # the pending row, ten minutes old; not the sent one
    assert metric_value(text, "feedback_outbox_notifications", status="pending") == 1
    assert metric_value(text, "feedback_rq_queue_depth", queue="feedback") == 0  # no Redis: nothing waits
    assert metric_value(text, "feedback_rq_failed_jobs", queue="feedback") == 0
    assert metric_value(text, "feedback_cases_open", agency="SO-XD") == 2
    assert metric_value(text, "feedback_cases_overdue", agency="SO-XD") == 1


def test_without_undelivered_rows_the_oldest_age_is_zero(client, metrics_token):
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    assert metric_value(text, "feedback_outbox_oldest_undelivered_seconds") == 0


# Request ids and the JSON request log --------------------------------------------


def test_a_request_gets_an_id_in_the_header_and_one_json_log_line(client, log_lines):
    response = client.get("/healthz?x=1")
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    (line,) = [line for line in log_lines if line["logger"] == "feedback.request"]
    assert line["request_id"] == request_id
    assert (line["method"], line["path"], line["status"], line["level"]) == ("GET", "/healthz", 200, "INFO")
    assert line["duration_ms"] >= 0 and line["user_id"] is None and "remote_addr" in line and "time" in line


def test_a_safe_incoming_id_is_kept_and_an_unsafe_one_replaced(client, log_lines):
    assert client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc_Z"}).headers["X-Request-ID"] == "lb-1234.abc_Z"
    for unsafe in ("a" * 65, "x\u00e9y", "a b", "id;drop", ""):
        echoed = client.get("/healthz", headers={"X-Request-ID": unsafe}).headers["X-Request-ID"]
        assert echoed != unsafe and re.fullmatch(r"[0-9a-f]{32}", echoed)
    assert [line["request_id"] for line in log_lines][0] == "lb-1234.abc_Z"


def test_the_log_line_names_the_signed_in_user(client, make, log_lines):
    user = make.user(role="desk")
    client.post("/auth/login", data={"email": user.email, "password": make.PASSWORD})
    client.get("/staff/")
    staff_lines = [line for line in log_lines if line.get("path", "").startswith("/staff")]
    assert staff_lines and staff_lines[-1]["user_id"] == user.id


# The id travels into delivery -------------------------------------------------


def submit_form(client, make, request_id: str):
    make.desk_agency()
    category = make.category()
    data = {**online_form(category), "step": "send"}
    return client.post("/submit", data=data, headers={"X-Request-ID": request_id})


def test_an_in_process_delivery_logs_the_id_of_the_request_that_caused_it(client, make, mailbox, log_lines):
    response = submit_form(client, make, "submit-req-1")
    assert response.status_code in (200, 303) and response.headers["X-Request-ID"] == "submit-req-1"
    deliveries = [line for line in log_lines if line["logger"] == "feedback.jobs.delivery"]
    assert deliveries and all(line["request_id"] == "submit-req-1" for line in deliveries)
    assert deliveries[0]["result"] == "sent" and mailbox


def redis_up(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1).ping())
    except RedisError:
        return False


def test_a_queued_delivery_job_carries_the_request_id_into_its_log_lines(client, app, make, monkeypatch,
                                                                        mailbox, log_lines):
    url = os.environ.get("REDIS_TEST_URL", "")
    require_service(bool(url) and redis_up(url), f"no Redis at REDIS_TEST_URL={url!r}")
    from rq import Queue
    from rq.job import Job

    from feedback.jobs import delivery_job_id

    queue_name = f"test-{uuid4().hex[:10]}"
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    monkeypatch.setitem(app.config, "RQ_QUEUE", queue_name)
    connection = Redis.from_url(url)
    try:
        submit_form(client, make, "queued-req-7")
        notification = db.session.execute(select(Notification)).scalars().first()
        assert notification.status == "queued"
        job = Job.fetch(delivery_job_id(notification.id), connection=connection)
        assert job.meta["request_id"] == "queued-req-7"
        log_lines.clear()
        job.perform()  # what a worker does with it (the app context is the test's)
        (line,) = [line for line in log_lines if line["logger"] == "feedback.jobs.delivery"]
        assert (line["request_id"], line["result"]) == ("queued-req-7", "sent")
    finally:
        Queue(queue_name, connection=connection).empty()
        app.extensions.get("feedback_redis", {}).clear()
        connection.close()
