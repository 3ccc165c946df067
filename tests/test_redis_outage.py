"""Redis down: the web keeps serving citizens (rate limits count in memory,
receipts wait in the outbox) and the sweeper delivers once Redis is back.

Needs a redis-server binary (REDIS_SERVER_BIN); test.sh provides it.
"""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from feedback.extensions import db, limiter
from feedback.jobs import heartbeat, sweep
from feedback.models import Case, Category, Notification

from .api_support import submission
from .helpers import online_form, submitted_case
from .test_rq_real import ROOT, mails, own_redis, rq_setup, run_worker, worker_env  # noqa: F401  (fixtures)

pytestmark = pytest.mark.redis

LIMITER_STATE = ("_storage", "_limiter", "_storage_dead", "_fallback_storage", "_fallback_limiter")


@contextmanager
def redis_limited_app(app: Flask, redis_url: str, queue: str) -> Iterator[Flask]:
    """A second app on the same database with rate limits on, counted in
    ``redis_url``, jobs queued there; the shared limiter is put back after."""
    from config import TestConfig
    from feedback import create_app

    class Limited(TestConfig):
        RATELIMIT_ENABLED = True
        RATELIMIT_STORAGE_URI = redis_url
        REDIS_URL = redis_url
        RQ_QUEUE = queue
        MAIL_BACKEND = "console"
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        UPLOAD_FOLDER = app.config["UPLOAD_FOLDER"]
        MAIL_FOLDER = app.config["MAIL_FOLDER"]

    saved = {name: getattr(limiter, name, None) for name in LIMITER_STATE}
    was_enabled = limiter.enabled
    limited = create_app(Limited)
    try:
        yield limited
    finally:
        limiter.enabled = was_enabled
        for name, value in saved.items():
            setattr(limiter, name, value)
        with limited.app_context():
            db.engine.dispose()


def receipt_of(case_id: int) -> Notification:
    return db.session.execute(
        select(Notification).where(Notification.case_id == case_id, Notification.template == "receipt")
        .execution_options(populate_existing=True)).scalar_one()


def test_with_redis_down_submissions_and_lookup_succeed_and_receipts_follow_once(
        app, make, rq_setup, own_redis, tmp_path):  # noqa: F811
    queue = rq_setup(own_redis.url)
    make.desk_agency()
    category = make.category()
    body, form = submission(category), {**online_form(category), "step": "send"}

    with redis_limited_app(app, own_redis.url, queue) as limited:
        client = limited.test_client()
        assert client.get("/lookup").status_code == 200          # counted in Redis while it is up
        own_redis.stop()

        api = client.post("/api/v1/cases", json=body)
        assert api.status_code == 201, api.get_data(as_text=True)
        web = client.post("/submit", data=form, content_type="multipart/form-data")
        assert web.status_code in (302, 303), web.get_data(as_text=True)[:500]
        code = api.get_json()["code"]
        looked_up = client.get(f"/lookup?code={code}")
        assert looked_up.status_code == 200
        assert client.get("/lookup").status_code == 200

    db.session.remove()
    cases = db.session.execute(select(Case.id)).scalars().all()
    assert len(cases) == 2
    assert {receipt_of(case_id).status for case_id in cases} == {"pending"}
    assert sweep().dispatched == 0                                  # Redis still down

    own_redis.start()
    assert sweep().dispatched == 2
    run_worker(app, own_redis.url, queue, tmp_path / "mail")
    assert {receipt_of(case_id).status for case_id in cases} == {"sent"}
    assert len(mails(tmp_path / "mail")) == 2
    assert sweep().dispatched == 0


def _wait_for(condition, seconds: float, what: str, processes=()) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        for process in processes:
            assert process.poll() is None, f"a process died while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _beat_at(url: str) -> float:
    try:
        value = Redis.from_url(url, socket_connect_timeout=1).get(heartbeat.HEARTBEAT_KEY)
    except RedisError:
        return 0.0
    return float(value) if value else 0.0


def test_worker_and_cron_survive_a_redis_outage(app, make, rq_setup, own_redis, tmp_path):  # noqa: F811
    queue = rq_setup(own_redis.url)
    make.desk_agency()
    category_id = make.category().id
    db.session.remove()                       # hand the database over to the processes
    env = worker_env(app, own_redis.url, queue, tmp_path / "mail")
    worker = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--url", own_redis.url,
         "--worker-class", "feedback.jobs.AppWorker", queue],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cron = subprocess.Popen(
        [sys.executable, "-m", "feedback.cron_runner", "--url", own_redis.url, "tests.cron_fast"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    processes = (worker, cron)
    try:
        _wait_for(lambda: _beat_at(own_redis.url) > 0, 20, "the first sweep", processes)
        own_redis.stop()
        time.sleep(5)
        assert worker.poll() is None and cron.poll() is None
        own_redis.start()                      # empty: no job, no heartbeat survived
        back_at = time.time()

        case, _ = submitted_case(make, category=db.session.get(Category, category_id))  # after Redis returned
        case_id = case.id
        db.session.remove()
        _wait_for(lambda: receipt_of(case_id).status == "sent", 25, "the receipt", processes)
        _wait_for(lambda: _beat_at(own_redis.url) >= back_at, 15, "a sweep after the outage", processes)
        assert worker.poll() is None and cron.poll() is None
        assert len(mails(tmp_path / "mail")) == 1
        assert receipt_of(case_id).attempts == 1
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                output = process.communicate(timeout=10)[0]
            except subprocess.TimeoutExpired:
                process.kill()
                output = process.communicate()[0]
            print(output[-3000:])
