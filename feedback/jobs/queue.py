"""The queue switch: RQ on Redis when ``REDIS_URL`` is set, nothing (work
runs in process) when it is not; and running something once at a time."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from flask import current_app
from redis import Redis
from redis.exceptions import LockError, RedisError
from rq import Queue

DELIVERY_JOB_TIMEOUT = 120
DELIVER_JOB = "feedback.jobs.deliver_job"


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


def enqueue_deliveries(queue: Queue, notification_ids: list[int]) -> None:
    """One delivery job per row, in one Redis round trip. The id of the
    request that caused them travels in each job's ``meta`` (its log lines show it)."""
    from ..request_log import current_request_id

    request_id = current_request_id()
    meta = {"request_id": request_id} if request_id else None
    with queue.connection.pipeline() as pipeline:
        for notification_id in notification_ids:
            # By name, not by function: the dotted name is what RQ stores and a
            # worker imports, and jobs already queued under it must keep running.
            queue.enqueue(DELIVER_JOB, notification_id, job_id=delivery_job_id(notification_id),
                          job_timeout=DELIVERY_JOB_TIMEOUT, result_ttl=3600, failure_ttl=7 * 86400,
                          description=f"deliver notification {notification_id}", meta=meta, pipeline=pipeline)
        pipeline.execute()


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
            with suppress(LockError, RedisError):  # expired or Redis gone: the timeout frees it
                redis_lock.release()
