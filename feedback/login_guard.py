"""Login throttling: a lock per account after consecutive wrong passwords,
and a generous limit per address counted on failures only.

The account lock stops a password being guessed from many addresses; the
address limit stops one address guessing many accounts, yet lets a whole
office behind one address log in (its successes cost nothing).
"""
from __future__ import annotations

import math
from datetime import timedelta

from flask import Response
from werkzeug.exceptions import TooManyRequests

from .extensions import db
from .models import User, utcnow

LOCK_AFTER = 10  # consecutive wrong passwords
LOCK_FOR = timedelta(minutes=15)
# Flask-Limiter limit for the login POST, deducted only when it fails.
ADDRESS_LIMIT = "100 per 15 minutes"


def failed_login(response: Response) -> bool:
    """Which login answers count against the address: wrong credentials."""
    return response.status_code == 401


def refuse_if_locked(user: User | None) -> None:
    """429 with the time left, before the password is even looked at, so a
    lock answers the same to a right and a wrong password."""
    if user is None or user.locked_until is None:
        return
    left = (user.locked_until - utcnow()).total_seconds()
    if left > 0:
        raise TooManyRequests(retry_after=math.ceil(left))


def record_failure(user: User | None) -> None:
    """Count a wrong password for ``user`` (if the account exists); the
    LOCK_AFTER-th in a row locks the account for LOCK_FOR, and says so."""
    if user is None:
        return
    user.failed_logins = (user.failed_logins or 0) + 1
    locked = user.failed_logins >= LOCK_AFTER
    if locked:
        user.failed_logins = 0  # the next lock needs LOCK_AFTER new failures
        user.locked_until = utcnow() + LOCK_FOR
    db.session.commit()
    if locked:
        refuse_if_locked(user)


def record_success(user: User) -> None:
    """A right password ends the run of failures."""
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins = 0
        user.locked_until = None
        db.session.commit()
