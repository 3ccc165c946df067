"""The app RQ jobs run in: built once per worker (``AppWorker``) and its
database connections renewed in each forked work horse."""
from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps

from flask import Flask, has_app_context
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


class AppWorker(Worker):
    """``rq worker -w feedback.jobs.AppWorker``: builds the app before forking."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        worker_app()
