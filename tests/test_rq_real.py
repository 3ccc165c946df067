"""The outbox against a real Redis and real RQ processes (``rq worker``,
``rq cron``) running as subprocesses on the test database.

Needs REDIS_TEST_URL (a Redis to use) and, for the outage test, a
redis-server binary (REDIS_SERVER_BIN); test.sh provides both.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import select

from feedback.extensions import db
from feedback.jobs import delivery_job_id, sweep
from feedback.models import Notification, utcnow

from .conftest import require_service
from .helpers import submitted_case

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parent.parent
WORKER_TIMEOUT = 90


def redis_up(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1).ping())
    except RedisError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A private redis-server on 127.0.0.1 that a test can stop and start again."""

    def __init__(self, binary: str, port: int) -> None:
        self.binary, self.port = binary, port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not redis_up(self.url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def rq_setup(app, monkeypatch, tmp_path):
    """Point the app at a Redis and a queue of its own; returns a helper namespace."""

    def use(url: str):
        queue = f"test-{uuid4().hex[:10]}"
        monkeypatch.setitem(app.config, "REDIS_URL", url)
        monkeypatch.setitem(app.config, "RQ_QUEUE", queue)
        return queue

    yield use
    db.session.remove()


@pytest.fixture
def shared_redis():
    url = os.environ.get("REDIS_TEST_URL", "")
    require_service(bool(url) and redis_up(url), f"no Redis at REDIS_TEST_URL={url!r}")
    return url


@pytest.fixture
def own_redis():
    binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server")
    require_service(bool(binary) and os.path.exists(binary), "redis-server not found (REDIS_SERVER_BIN)")
    server = RedisServer(binary, free_port())
    server.start()
    yield server
    server.stop()


def worker_env(app, redis_url: str, queue: str, mail_folder: Path) -> dict[str, str]:
    """The environment of a worker process: the test database, console mail to a folder."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "REDIS_URL": redis_url, "FEEDBACK_RQ_QUEUE": queue,
        "FEEDBACK_MAIL_BACKEND": "console", "FEEDBACK_MAIL_FOLDER": str(mail_folder),
        "FEEDBACK_BASE_URL": app.config["BASE_URL"], "FEEDBACK_INPROCESS_SCHEDULER": "0",
        # A PostgreSQL database means production rules: the worker needs a real key.
        "SECRET_KEY": secrets.token_urlsafe(48),
    })
    return env


def run_worker(app, redis_url: str, queue: str, mail_folder: Path) -> subprocess.CompletedProcess:
    """``rq worker --burst`` in a subprocess: it works the queue empty, then exits."""
    db.session.remove()  # hand the database over (SQLite allows one writer)
    result = subprocess.run(
        [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", redis_url,
         "--worker-class", "feedback.jobs.AppWorker", queue],
        cwd=ROOT, env=worker_env(app, redis_url, queue, mail_folder),
        capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def receipt(case_id: int) -> Notification:
    return db.session.execute(
        select(Notification).where(Notification.case_id == case_id, Notification.template == "receipt")
        .execution_options(populate_existing=True)).scalar_one()


def mails(folder: Path) -> list[str]:
    return sorted(path.read_text(errors="replace") for path in folder.glob("*.eml"))


def test_a_receipt_queued_on_real_redis_is_delivered_by_a_real_worker(app, make, rq_setup, shared_redis,
                                                                      tmp_path):
    queue_name = rq_setup(shared_redis)
    case, _ = submitted_case(make)
    case_id, code = case.id, case.code

    row = receipt(case_id)
    assert row.status == "queued" and row.queued_at is not None
    queue = Queue(queue_name, connection=Redis.from_url(shared_redis))
    assert queue.job_ids == [delivery_job_id(row.id)]

    run_worker(app, shared_redis, queue_name, tmp_path / "mail")

    row = receipt(case_id)
    assert (row.status, row.attempts) == ("sent", 1)
    delivered = mails(tmp_path / "mail")
    assert len(delivered) == 1 and code in delivered[0] and "To: an.nguyen@example.vn" in delivered[0]
    assert queue.count == 0


def test_with_redis_down_a_submission_succeeds_and_its_receipt_follows_when_redis_returns(
        app, make, rq_setup, own_redis, tmp_path):
    queue_name = rq_setup(own_redis.url)
    own_redis.stop()

    case, _ = submitted_case(make)                     # the web request still succeeds
    case_id = case.id
    assert (receipt(case_id).status, receipt(case_id).queued_at) == ("pending", None)
    assert sweep().dispatched == 0               # nothing to hand it to yet

    own_redis.start()                            # an empty Redis: nothing survived
    assert sweep().dispatched == 1
    assert receipt(case_id).status == "queued"
    run_worker(app, own_redis.url, queue_name, tmp_path / "mail")

    assert receipt(case_id).status == "sent"
    assert len(mails(tmp_path / "mail")) == 1
    assert sweep().dispatched == 0


def test_a_job_lost_in_a_redis_flush_is_enqueued_again_by_the_sweeper(app, make, rq_setup, own_redis,
                                                                     tmp_path):
    queue_name = rq_setup(own_redis.url)
    case, _ = submitted_case(make)
    case_id = case.id
    assert receipt(case_id).status == "queued"
    Redis.from_url(own_redis.url).flushall()     # the job is gone, the row still says queued

    assert sweep().requeued == 0                 # within the grace period: the job may just be waiting
    assert sweep(now=utcnow() + timedelta(minutes=3)).requeued == 1
    run_worker(app, own_redis.url, queue_name, tmp_path / "mail")

    assert receipt(case_id).status == "sent"
    assert len(mails(tmp_path / "mail")) == 1


def test_rq_cron_with_our_schedule_enqueues_the_sweeper_for_the_worker(app, rq_setup, shared_redis, tmp_path):
    queue_name = rq_setup(shared_redis)
    queue = Queue(queue_name, connection=Redis.from_url(shared_redis))
    cron = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "cron", "--url", shared_redis, "feedback.cron"],
        cwd=ROOT, env=worker_env(app, shared_redis, queue_name, tmp_path / "mail"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not queue.job_ids and time.monotonic() < deadline and cron.poll() is None:
            time.sleep(0.2)
    finally:
        cron.terminate()
        output = cron.communicate(timeout=10)[0]
    jobs = queue.get_jobs()
    assert [job.func_name for job in jobs] == ["feedback.jobs.sweep_job"], output

    run_worker(app, shared_redis, queue_name, tmp_path / "mail")
    jobs[0].refresh()
    assert jobs[0].get_status() == "finished"
    assert jobs[0].return_value() == {"dispatched": 0, "requeued": 0, "uncertain": [], "expired_keys": 0}
