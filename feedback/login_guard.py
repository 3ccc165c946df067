"""Login throttling: a lock per e-mail address after consecutive wrong
passwords, and a generous limit per client address counted on failures only.

The address lock stops a password being guessed from many client addresses;
the client-address limit stops one client guessing many accounts, yet lets a
whole office behind one address log in (its successes cost nothing).

Failures are counted for every e-mail address tried, whether or not it has
an account, so that a lock answers alike for both and tells an attacker
nothing. The address is kept only as a keyed hash, and the count is raised
in one statement (insert or increment), so concurrent wrong passwords are
all counted.
"""
from __future__ import annotations

import hashlib
import hmac
import math
from datetime import timedelta
from typing import Any, cast

from flask import Response, current_app
from sqlalchemy import CursorResult, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import TooManyRequests

from .extensions import db
from .models import LoginAttempt, utcnow

LOCK_AFTER = 10  # consecutive wrong passwords
LOCK_FOR = timedelta(minutes=15)
# A run of failures is forgotten a day after its last one.
FORGET_AFTER = timedelta(days=1)
# Flask-Limiter limit for the login POST, deducted only when it fails.
ADDRESS_LIMIT = "100 per 15 minutes"


def failed_login(response: Response) -> bool:
    """Which login answers count against the client address: wrong credentials."""
    return response.status_code == 401


def address_key(email: str) -> str:
    """The stored stand-in for an e-mail address: an HMAC under the app's
    secret key, so the table cannot be read back into addresses."""
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, b"login:" + email.strip().lower().encode(), hashlib.sha256).hexdigest()


def refuse_if_locked(email: str) -> None:
    """429 with the time left, before the password is even looked at, so a
    lock answers the same to a right and a wrong password, and to an address
    with or without an account."""
    locked_until = db.session.execute(
        select(LoginAttempt.locked_until).where(LoginAttempt.address_key == address_key(email))).scalar()
    if locked_until is None:
        return
    left = (locked_until - utcnow()).total_seconds()
    if left > 0:
        raise TooManyRequests(retry_after=math.ceil(left))


def record_failure(email: str) -> None:
    """Count a wrong password for ``email``; the LOCK_AFTER-th in a row locks
    the address for LOCK_FOR, and says so."""
    now, key = utcnow(), address_key(email)
    table = cast(Table, LoginAttempt.__table__)  # typed as FromClause; a mapped class's is a Table
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(address_key=key, failures=1, last_failure_at=now)
    upsert = statement.on_conflict_do_update(
        index_elements=[table.c.address_key],
        set_={"failures": table.c.failures + 1, "last_failure_at": now}).returning(table.c.failures)
    failures = db.session.execute(upsert).scalar_one()
    locked = False
    if failures >= LOCK_AFTER:
        # Only the request whose failure reached the limit sets the lock; the
        # next lock needs LOCK_AFTER new failures.
        # An UPDATE gives a CursorResult (with rowcount); Session.execute is typed as Result.
        locked = cast("CursorResult[Any]", db.session.execute(
            update(table).where(table.c.address_key == key, table.c.failures >= LOCK_AFTER)
            .values(failures=0, locked_until=now + LOCK_FOR))).rowcount == 1
    db.session.commit()
    _forget_old_failures(now)
    if locked:
        refuse_if_locked(email)


def _forget_old_failures(now) -> None:
    """Drop runs of failures whose last one is over a day old, in a
    transaction of its own: a clean-up that meets another request's rows
    (a lock wait, a deadlock) is simply left for the next failure to do, it
    never turns a login answer into an error."""
    try:
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.last_failure_at < now - FORGET_AFTER))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()


def record_success(email: str) -> None:
    """A right password ends the run of failures."""
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.address_key == address_key(email)))
    db.session.commit()
