"""Fixtures: the app on a fresh database per test, a client, factories.

The suite runs on SQLite by default and on PostgreSQL when DATABASE_URL
points at it. ``FEEDBACK_STRICT=1`` turns every "service missing" skip into
a failure (CI sets it).
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from config import TestConfig
from feedback import create_app
from feedback.extensions import db

from .helpers import FROZEN_NOW, Factory

STRICT = os.environ.get("FEEDBACK_STRICT") == "1"


def require_service(available: bool, reason: str) -> None:
    """Skip (or fail, in strict mode) a test whose outside service is missing."""
    if available:
        return
    if STRICT:
        pytest.fail(f"strict mode: {reason}", pytrace=False)
    pytest.skip(reason)


def postgresql_url() -> str:
    """The PostgreSQL server of this run (the suite's own database in the
    PostgreSQL pass, FEEDBACK_TEST_PG_URL in the SQLite pass); the test is
    skipped (failed when strict) without one."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        url = os.environ.get("FEEDBACK_TEST_PG_URL", "")
    require_service(url.startswith("postgresql"),
                    "PostgreSQL not available (neither DATABASE_URL nor FEEDBACK_TEST_PG_URL is postgresql://)")
    return url


@contextmanager
def scratch_databases(prefix: str, count: int = 1) -> Iterator[list[str]]:
    """``count`` new, empty databases on the run's PostgreSQL server, as
    ``postgresql+psycopg://`` URLs; dropped afterwards, connections and all."""
    admin_url = make_url(postgresql_url().replace("postgresql://", "postgresql+psycopg://", 1))
    names = [f"feedback_{prefix}_{uuid.uuid4().hex[:8]}" for _ in range(count)]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield [admin_url.set(database=name).render_as_string(hide_password=False) for name in names]
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _app_and_schema(tmp_path_factory):
    """One app and one schema per run; tests empty the tables afterwards."""
    class Config(TestConfig):
        UPLOAD_FOLDER = str(tmp_path_factory.mktemp("uploads"))
        MAIL_FOLDER = str(tmp_path_factory.mktemp("mail"))
        if not os.environ.get("DATABASE_URL"):
            SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"

    app = create_app(Config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def app(_app_and_schema):
    app = _app_and_schema
    ctx = app.app_context()
    ctx.push()
    yield app
    db.session.rollback()
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    ctx.pop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app) -> Factory:
    return Factory()


@pytest.fixture
def world(request, make) -> SimpleNamespace:
    """The city in small: the receiving desk (``desk_agency``), the justice
    department (``justice``, its category ``Hộ tịch``) and health (``health``),
    with their staff, each with a fixed e-mail address:

    - ``desk`` desk@hp.vn; ``supervisor`` supervisor@hp.vn;
    - justice: ``officer`` officer@hp.vn, ``colleague`` officer2@hp.vn, ``lead`` lead@hp.vn;
    - health: ``other_officer`` officer.yt@hp.vn, ``other_lead`` lead.yt@hp.vn.

    Staff are ``User`` rows; in a module marked ``pytest.mark.world_actors`` they
    are workflow ``Actor``s instead, and ``citizen`` is the citizen's Actor.
    """
    desk_agency = make.desk_agency()
    justice = make.agency(code="SO-TP", name="Sở Tư pháp")
    health = make.agency(code="SO-YT", name="Sở Y tế")
    staff = {
        "desk": make.user("desk", agency=desk_agency, email="desk@hp.vn"),
        "officer": make.user("officer", agency=justice, email="officer@hp.vn"),
        "colleague": make.user("officer", agency=justice, email="officer2@hp.vn"),
        "lead": make.user("lead", agency=justice, email="lead@hp.vn"),
        "other_officer": make.user("officer", agency=health, email="officer.yt@hp.vn"),
        "other_lead": make.user("lead", agency=health, email="lead.yt@hp.vn"),
        "supervisor": make.user("supervisor", email="supervisor@hp.vn"),
    }
    if request.node.get_closest_marker("world_actors"):
        from feedback.workflow import Actor

        staff = {name: Actor(user) for name, user in staff.items()}
        staff["citizen"] = Actor.citizen()
    return SimpleNamespace(
        desk_agency=desk_agency, justice=justice, health=health,
        category=make.category(agency=justice, code="HO-TICH", name="Hộ tịch"),
        **staff,
    )


@pytest.fixture
def frozen_now(monkeypatch):
    """The dashboard's pages see the same "now" as the tests' hand counts."""
    from feedback.dashboard import routes as dashboard_routes

    monkeypatch.setattr(dashboard_routes, "utcnow", lambda: FROZEN_NOW)
    return FROZEN_NOW


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, user_or_email, password: str = Factory.PASSWORD):
        email = getattr(user_or_email, "email", user_or_email)
        return self.client.post("/auth/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/auth/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def count_queries(app):
    """Count SQL statements run inside a ``with count_queries() as counter:`` block."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        statements: list[str] = []

        def before(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(db.engine, "before_cursor_execute", before)

    return counting


def pytest_sessionstart(session):
    """Compile the translation catalogs so English pages can be tested."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in (Path(__file__).parent.parent / "feedback" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            with po_path.open("rb") as po, mo_path.open("wb") as mo:
                write_mo(mo, read_po(po))


@pytest.fixture(autouse=True)
def _restore_rate_limiter():
    """Creating an app with limits on switches the shared limiter on for every
    app in the process; put it back after each test."""
    from feedback.extensions import limiter

    was_enabled = limiter.enabled
    yield
    if limiter.enabled != was_enabled:
        limiter.enabled = was_enabled
        limiter.reset()


@pytest.fixture
def mailbox(app):
    """The in-memory mail channel's outbox, empty at the start and the end."""
    from feedback.mail import memory_mailbox

    box = memory_mailbox(app)
    box.clear()
    yield box
    box.clear()
