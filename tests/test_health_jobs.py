"""Readiness is only what a web process needs (the database); the health of
background delivery is ``/healthz/jobs``, for monitoring alerts."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, Worker

from feedback.extensions import db
from feedback.jobs import heartbeat, scheduler
from feedback.models import Notification, utcnow

from .helpers import submitted_case
from .test_rq_real import free_port, own_redis, rq_setup  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def no_local_beat():
    heartbeat.forget_local_beat()
    yield
    heartbeat.forget_local_beat()


def test_readyz_does_not_depend_on_redis(client, monkeypatch, app):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok"}


def test_readyz_is_503_without_the_database(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"].startswith("error")


def test_jobs_health_embedded_names_a_dead_scheduler(client, monkeypatch):
    monkeypatch.setattr(scheduler, "scheduler_alive", lambda: False)
    response = client.get("/healthz/jobs")
    assert response.status_code == 503
    assert response.json["mode"] == "in-process" and response.json["failing"] == ["scheduler"]


def test_jobs_health_embedded_reports_the_scheduler_heartbeat(client, monkeypatch, app):
    monkeypatch.setattr(scheduler, "scheduler_alive", lambda: True)
    response = client.get("/healthz/jobs")                   # thread started, first sweep not done yet
    assert response.status_code == 200

    heartbeat.beat(time.time() - 30)
    response = client.get("/healthz/jobs")
    assert response.status_code == 200, response.json
    assert 29 <= response.json["checks"]["scheduler"]["last_beat_age_seconds"] <= 40

    heartbeat.beat(time.time() - 600)                         # the thread hangs
    response = client.get("/healthz/jobs")
    assert response.status_code == 503 and response.json["failing"] == ["scheduler"]


def test_jobs_health_names_an_outbox_nobody_delivers(client, monkeypatch, make, app):
    monkeypatch.setattr(scheduler, "scheduler_alive", lambda: True)
    monkeypatch.setitem(app.config, "OUTBOX_DISPATCH_AFTER_COMMIT", False)
    case, _ = submitted_case(make)
    row = db.session.query(Notification).filter_by(case_id=case.id, template="receipt").one()
    assert row.status == "pending"
    heartbeat.beat()
    assert client.get("/healthz/jobs").status_code == 200     # just written

    row.created_at = row.next_attempt_at = utcnow() - timedelta(minutes=30)
    db.session.commit()
    response = client.get("/healthz/jobs")
    assert response.status_code == 503 and response.json["failing"] == ["outbox"], response.json
    assert response.json["checks"]["outbox"]["oldest_due_seconds"] >= 1700


@pytest.mark.redis
def test_jobs_health_with_redis_counts_workers_and_reads_the_heartbeat(client, rq_setup, own_redis):  # noqa: F811
    queue_name = rq_setup(own_redis.url)
    response = client.get("/healthz/jobs")
    assert response.status_code == 503
    assert response.json["mode"] == "rq" and response.json["failing"] == ["scheduler", "workers"]
    assert response.json["checks"]["workers"]["alive"] == 0

    connection = Redis.from_url(own_redis.url)
    worker = Worker([Queue(queue_name, connection=connection)], connection=connection)
    worker.register_birth()
    heartbeat.beat()
    heartbeat.forget_local_beat()                            # read back from Redis, not from memory
    response = client.get("/healthz/jobs")
    assert response.status_code == 200, response.json
    assert response.json["checks"]["workers"]["alive"] == 1
    assert response.json["checks"]["scheduler"]["last_beat_age_seconds"] < 10

    own_redis.stop()
    response = client.get("/healthz/jobs")
    assert response.status_code == 503
    assert response.json["failing"] == ["redis", "scheduler", "workers"]
    assert client.get("/readyz").status_code == 200
