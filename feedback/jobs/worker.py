"""The app RQ jobs run in: built once per worker (``AppWorker``) and its
database connections renewed in each forked work horse."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import suppress
from functools import wraps

from flask import Flask, has_app_context
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker

from ..extensions import db

_worker_app: Flask | None = None
_worker_app_pid: int | None = None


def worker_app() -> Flask:
    """The app jobs run in when RQ calls them outside any app context."""
    global _worker_app, _worker_app_pid
    if _worker_app is None:
        from .. import create_app

        _worker_app, _worker_app_pid = create_app(), os.getpid()
    elif _worker_app_pid != os.getpid():
        # A forked work horse must not reuse the parent's pooled connections.
        with _worker_app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)
        _worker_app_pid = os.getpid()
    return _worker_app


def in_app_context(func: Callable) -> Callable:
    """Run ``func`` in the current app context, or in the worker's app."""
    @wraps(func)
    def run(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        with worker_app().app_context():
            return func(*args, **kwargs)

    return run


log = logging.getLogger(__name__)

# Waits between attempts to reach Redis again after losing it: 1, 2, 4 … 30 s.
RECONNECT_FIRST_WAIT = 1.0
RECONNECT_MAX_WAIT = 30.0
_LOST = (RedisConnectionError, RedisTimeoutError)


class AppWorker(Worker):
    """``rq worker -w feedback.jobs.AppWorker``: builds the app before forking,
    and survives a Redis outage.

    A stock RQ worker quits on the first Redis connection error (in its main
    loop or while it watches the work horse), and stays dead until something
    restarts it. This one waits for Redis to answer again, with backoff, and
    resumes its loop; a job whose horse was running finishes first. (systemd's
    ``Restart=always`` remains the second line of defence.)"""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._redis_lost = False
        worker_app()

    # The calls of RQ's main loop that talk to Redis: note a lost connection.
    def dequeue_job_and_maintain_ttl(self, *args, **kwargs):
        return self._noting_lost(super().dequeue_job_and_maintain_ttl, *args, **kwargs)

    def execute_job(self, *args, **kwargs):
        return self._noting_lost(super().execute_job, *args, **kwargs)

    def check_for_suspension(self, *args, **kwargs):
        return self._noting_lost(super().check_for_suspension, *args, **kwargs)

    def run_maintenance_tasks(self, *args, **kwargs):
        return self._noting_lost(super().run_maintenance_tasks, *args, **kwargs)

    def _noting_lost(self, call: Callable, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except _LOST:
            self._redis_lost = True
            raise

    def work(self, *args, **kwargs) -> bool:
        burst = kwargs.get("burst", args[0] if args else False)
        wait = RECONNECT_FIRST_WAIT
        while True:
            self._redis_lost = False
            try:
                worked = super().work(*args, **kwargs)
            except _LOST:  # RQ's teardown could not reach Redis either
                self._redis_lost, worked = True, False
            if not self._redis_lost or self._stop_requested or burst:
                return worked
            log.warning("worker %s lost its Redis connection; reconnecting", self.name)
            self._wait_for_horse()
            wait = self._wait_for_redis(wait)

    def _wait_for_horse(self) -> None:
        """A job in hand when Redis went away finishes before a new one starts."""
        pid = self.horse_pid
        if pid:
            with suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)
            self._horse_pid = 0

    def _wait_for_redis(self, wait: float) -> float:
        """Sleep with backoff until Redis answers, then clear this worker's old
        registration so RQ may register it again. Returns the next wait."""
        while not self._stop_requested:
            time.sleep(wait)
            try:
                self.connection.ping()
            except RedisError:
                wait = min(wait * 2, RECONNECT_MAX_WAIT)
                continue
            with suppress(RedisError):
                self.register_death()
            with suppress(Exception):
                self.unsubscribe()
            log.warning("worker %s: Redis answers again; resuming", self.name)
            return RECONNECT_FIRST_WAIT
        return wait
