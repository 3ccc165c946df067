"""Redis down: the web keeps serving citizens (rate limits count in memory,
receipts wait in the outbox) and the sweeper delivers once Redis is back.

Needs a redis-server binary (REDIS_SERVER_BIN); test.sh provides it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import select

from feedback.extensions import db, limiter
from feedback.jobs import sweep
from feedback.models import Case, Notification

from .api_support import submission
from .helpers import online_form
from .test_rq_real import free_port, mails, own_redis, rq_setup, run_worker  # noqa: F401  (fixtures)

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
