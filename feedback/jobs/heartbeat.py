"""The scheduler's heartbeat: each sweep (run every minute by ``rq cron`` via
a worker, or by the embedded scheduler thread) records when it ran, so
``/healthz/jobs`` can tell a living schedule from a dead one.

With Redis the beat is a key with a TTL (any web process can read it);
without Redis it is kept in this process's memory, next to the thread that
writes it.
"""
from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from .queue import redis_connection

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "feedback:heartbeat:sweep"
# The key outlives a few missed minutes, then disappears: no key = no schedule.
HEARTBEAT_TTL = 3600

_last_beat: float | None = None


def beat(now: float | None = None) -> None:
    """Record that the sweep ran now. Never raises."""
    global _last_beat
    now = time.time() if now is None else now
    _last_beat = now
    connection = redis_connection()
    if connection is None:
        return
    try:
        connection.set(HEARTBEAT_KEY, repr(now), ex=HEARTBEAT_TTL)
    except RedisError as exc:
        log.warning("could not record the sweep heartbeat in Redis: %s", exc)


def last_beat() -> float | None:
    """When the sweep last ran (a UNIX time), or None if never (or too long
    ago for the key to remain). Raises RedisError if Redis does not answer."""
    connection = redis_connection()
    if connection is None:
        return _last_beat
    value = connection.get(HEARTBEAT_KEY)
    return float(value) if value else None


def forget_local_beat() -> None:
    """For tests: no beat recorded in this process."""
    global _last_beat
    _last_beat = None
