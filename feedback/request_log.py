"""Request ids and one JSON log line per request.

Every request gets an id: the incoming ``X-Request-ID`` when it looks safe
(at most 64 characters of ``A-Z a-z 0-9 . _ -``), otherwise a new uuid4 hex.
It is sent back in the ``X-Request-ID`` response header, written on the
request's log line (logger ``feedback.request``) and handed to the delivery
jobs the request enqueues (the RQ job's ``meta``), whose log lines carry it.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextlib import suppress
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import Flask, g, request

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_current: ContextVar[str | None] = ContextVar("feedback_request_id", default=None)

request_log = logging.getLogger("feedback.request")


def current_request_id() -> str | None:
    """The id of the request (or delivery job) this code runs for, if any."""
    return _current.get()


def set_request_id(value: str | None):
    """Make ``value`` the current id; returns the token for :func:`reset_request_id`."""
    return _current.set(value)


def reset_request_id(token) -> None:
    _current.reset(token)


def incoming_request_id(value: str | None) -> str:
    """The caller's id if it is safe to log and echo, else a new one."""
    if value and _SAFE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the current
    request id, and the record's ``fields`` (``extra={"fields": {...}}``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _configure_loggers(app: Flask) -> None:
    if not any(getattr(handler, "_feedback_json", False) for handler in request_log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._feedback_json = True  # type: ignore[attr-defined]
        request_log.addHandler(handler)
    request_log.setLevel(logging.INFO)
    request_log.propagate = False  # the line is complete; no second, differently formatted copy
    package_log = logging.getLogger("feedback")
    if not app.testing and not package_log.handlers:
        # Application warnings (jobs included) as JSON on stderr: the
        # journal of whichever process logged them (web or worker).
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        package_log.addHandler(handler)
        package_log.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    _configure_loggers(app)

    @app.before_request
    def start_request() -> None:
        g.request_id = incoming_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.perf_counter()
        g.request_id_token = set_request_id(g.request_id)

    @app.after_request
    def log_request(response):
        request_id = g.get("request_id")
        if request_id is None:  # a response made before our hook ran
            return response
        response.headers[REQUEST_ID_HEADER] = request_id
        duration_ms = round((time.perf_counter() - g.request_started) * 1000, 2)
        user = getattr(g, "_login_user", None)  # only if the request loaded it: no extra query
        fields = {
            "request_id": request_id, "method": request.method, "path": request.path,
            "status": response.status_code, "duration_ms": duration_ms,
            "user_id": _logged_user_id(user),
            "remote_addr": request.remote_addr,
        }
        request_log.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields})
        return response

    @app.teardown_request
    def forget_request_id(_exc=None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            with suppress(ValueError):  # set in another context (a copied one): leave it
                reset_request_id(token)


def _logged_user_id(user) -> int | None:
    """The logged-in user's id, read from the session's identity map rather
    than the attribute: a view that committed has expired the user, and
    ``user.id`` would cost one more query just for this log line."""
    if user is None:
        return None
    from sqlalchemy import inspect

    state = inspect(user, raiseerr=False)
    if state is not None and state.identity:
        return state.identity[0]  # an account the user loader returned: logged in
    return user.id if getattr(user, "is_authenticated", False) else None
