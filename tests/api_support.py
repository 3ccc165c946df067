"""Helpers for the API and Open311 tests: tokens, a valid submission body,
and the app served on 127.0.0.1 for clients that need a real server."""
from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import WSGIRequestHandler, make_server

from feedback.extensions import db
from feedback.models import ApiToken, Category, User, hash_token


def issue_token(user: User, **kw) -> str:
    """An API token for ``user``, as ``flask tokens create`` makes one."""
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), name=kw.pop("name", "test"), **kw))
    db.session.commit()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def case_token(token: str) -> dict[str, str]:
    return {"X-Case-Token": token}


def submission(of: Category, **overrides) -> dict:
    """A valid ``POST /api/v1/cases`` body from an individual."""
    body = {
        "type": "report",
        "sender": {"kind": "individual", "name": "Nguyễn Văn An", "address": "12 Lạch Tray, Ngô Quyền, Hải Phòng",
                   "phone": "0912 345 678", "email": "an.nguyen@example.vn"},
        "category": of.code,
        "title": "Thủ tục đất đai kéo dài",
        "content": "Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả.",
        "publish_consent": True,
    }
    sender = overrides.pop("sender", None)
    if sender:
        body["sender"] = {**body["sender"], **sender}
    body.update(overrides)
    return body


class QuietHandler(WSGIRequestHandler):
    """No access log: a fuzzing run makes thousands of requests."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 in a thread; yields the base URL.

    One request at a time (not threaded), so SQLite sees one writer."""
    db.session.commit()  # nothing of the test's own transaction stays open
    server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def rate_limited_client(app, **settings):
    """A test client of a second app on the same database with rate limits
    on (the suite runs with them off) and any other ``settings``; the shared
    limiter is put back after."""
    from config import TestConfig
    from feedback import create_app
    from feedback.extensions import limiter

    class Limited(TestConfig):
        RATELIMIT_ENABLED = True
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]

    for name, value in settings.items():
        setattr(Limited, name, value)

    was_enabled = limiter.enabled
    limited = create_app(Limited)
    limiter.reset()
    try:
        yield limited.test_client()
    finally:
        limiter.reset()
        limiter.enabled = was_enabled
        with limited.app_context():
            db.engine.dispose()
