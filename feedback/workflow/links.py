"""Case codes and the links a sender holds: the private link and the signed
rating link sent with the answer."""
from __future__ import annotations

import secrets
from datetime import datetime

from flask import current_app
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..deadlines import OFFICE_TZ
from ..extensions import db
from ..models import Case, DailyCounter, hash_token


def next_case_code(at: datetime) -> str:
    """``PAKN.YYYYMMDD.NNNN`` by the local date of receipt, from a per-day counter
    that stays correct with concurrent submissions on PostgreSQL."""
    day = at.astimezone(OFFICE_TZ).strftime("%Y%m%d")
    for _attempt in range(5):
        value = db.session.execute(
            update(DailyCounter).where(DailyCounter.day == day).values(value=DailyCounter.value + 1)
            .returning(DailyCounter.value)
        ).scalar_one_or_none()
        if value is not None:
            return f"PAKN.{day}.{value:04d}"
        try:
            with db.session.begin_nested():
                db.session.add(DailyCounter(day=day, value=0))
        except IntegrityError:
            continue  # another submission created today's counter first
    raise RuntimeError("could not allocate a case code")


def new_access_token(case: Case) -> str:
    """Issue a fresh private link token; the previous one stops working."""
    token = secrets.token_urlsafe(24)
    case.access_token_hash = hash_token(token)
    return token


def case_for_token(token: str) -> Case | None:
    if not token or len(token) > 100:
        return None
    return db.session.execute(select(Case).where(Case.access_token_hash == hash_token(token))).scalar_one_or_none()


def rating_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="feedback.rating")


def rating_link_key(case: Case) -> str:
    # Ties the rating link to the private link in force: when the sender asks
    # for a new private link, rating links sent before stop working too.
    return (case.access_token_hash or "")[:16]


def rating_token(case: Case) -> str:
    return rating_serializer().dumps({"case": case.code, "key": rating_link_key(case)})


def rating_url(case: Case) -> str:
    """The link the answer's rating request carries (read by ``ratings``)."""
    return f"{current_app.config['BASE_URL'].rstrip('/')}/rate/{rating_token(case)}"
