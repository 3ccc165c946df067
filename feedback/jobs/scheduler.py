"""The embedded scheduler: without Redis, one background thread per process
runs the sweeper every minute and the reminder scan and digest every few
minutes."""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app

from ..extensions import db
from .heartbeat import beat
from .sweeper import sweep

log = logging.getLogger(__name__)

_scheduler_thread: threading.Thread | None = None
_scheduler_guard = threading.Lock()


def start_scheduler_on_first_request() -> None:
    """A before-request hook: start the thread with the first request."""
    if _scheduler_thread is None:
        start_inprocess_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]  # current_app is a LocalProxy typed as Flask


def scheduler_alive() -> bool:
    """Whether this process's embedded scheduler thread runs."""
    return _scheduler_thread is not None and _scheduler_thread.is_alive()


def start_inprocess_scheduler(app: Flask) -> bool:
    """Start the embedded scheduler thread once per process; False if it runs already."""
    global _scheduler_thread
    with _scheduler_guard:
        if _scheduler_thread is not None and _scheduler_thread.is_alive():
            return False
        _scheduler_thread = threading.Thread(target=_run_scheduler, args=(app,), name="feedback-scheduler",
                                             daemon=True)
        _scheduler_thread.start()
        return True


def _run_scheduler(app: Flask) -> None:
    from ..reminders import file_digests, scan

    sweep_every = app.config["INPROCESS_SWEEP_SECONDS"]
    scan_every = app.config["INPROCESS_SCAN_SECONDS"]
    last_scan = float("-inf")
    log.info("embedded scheduler: sweep every %ss, scan every %ss", sweep_every, scan_every)
    while True:
        for task in (sweep,) + ((scan, file_digests) if time.monotonic() - last_scan >= scan_every else ()):
            with app.app_context():
                try:
                    task()
                except Exception:  # keep the thread alive; the next tick tries again
                    log.exception("embedded scheduler: %s failed", task.__name__)
                    db.session.rollback()
            if task is scan:
                last_scan = time.monotonic()
        with app.app_context():
            beat()  # the embedded schedule is alive (read by /healthz/jobs)
        time.sleep(sweep_every)
