"""The queue switch: RQ on Redis when ``REDIS_URL`` is set, nothing (work
runs in process) when it is not; and running something once at a time."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from flask import current_app
from redis import Redis
from redis.exceptions import LockError, RedisError
from redis.lock import Lock
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

log = logging.getLogger(__name__)

_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


@contextmanager
def exclusive(name: str, lease_seconds: float | None = None) -> Iterator[bool]:
    """Yield True if this process may run ``name`` now (no other scan is
    running): a Redis lease across workers, a thread lock in process. If Redis
    cannot be reached the work goes ahead.

    The Redis lock (``feedback:lock:<name>``) is a lease of ``lease_seconds``
    (``SCAN_LOCK_SECONDS``, 60 by default) that a heartbeat thread renews every
    third of it while the block runs, so a holder killed with SIGKILL (OOM
    killer, power loss) blocks the next scan for one lease at most, not for
    the length of the longest scan. If the lease is lost anyway (a stall
    longer than the lease, Redis gone) a warning is logged and the work goes
    on: two scans may then overlap, which is safe because every reminder and
    digest first claims its unique key in the database (``ReminderDelivery``,
    ``DigestDelivery``), so nothing is filed twice. The lock only saves work."""
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
    lease = float(lease_seconds or current_app.config["SCAN_LOCK_SECONDS"])
    # thread_local=False: the heartbeat thread renews with the token this thread took.
    redis_lock = connection.lock(f"feedback:lock:{name}", timeout=lease, blocking=False, thread_local=False)
    try:
        acquired = redis_lock.acquire()
    except RedisError:
        yield True
        return
    if not acquired:
        yield False
        return
    renewal = LeaseRenewal(redis_lock, lease)
    renewal.start()
    try:
        yield True
    finally:
        renewal.stop()
        with suppress(LockError, RedisError):  # expired or Redis gone: the lease frees it
            redis_lock.release()


class LeaseRenewal:
    """A daemon thread that extends a held Redis lock back to its full lease
    every third of the lease, until ``stop``. Daemon: it never keeps a
    finished process alive, and dies with a killed one (so the lease runs out)."""

    def __init__(self, lock: Lock, lease: float) -> None:
        self.lock, self.lease = lock, lease
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease {lock.name!r}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.lease)

    def _run(self) -> None:
        while not self._stopped.wait(self.lease / 3):
            if not self._renew():
                return

    def _renew(self) -> bool:
        """Extend the lease; False once it is lost for good (someone else may
        hold it now). A Redis error is retried at the next beat: the key may
        still be there when Redis answers again."""
        try:
            self.lock.extend(self.lease, replace_ttl=True)
        except LockError as exc:
            if not self._stopped.is_set():
                log.warning("lost the lock %s while its work still runs (%s); going on: the unique keys "
                            "in the database prevent doubles", self.lock.name, exc)
            return False
        except RedisError as exc:
            if not self._stopped.is_set():
                log.warning("could not renew the lock %s (%s); retrying in %.0f s",
                            self.lock.name, exc, self.lease / 3)
        return True
