"""API tokens: who an integration's bearer token (``flask tokens create``)
stands for, shared by the JSON API and Open311's ``api_key``."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from .extensions import db
from .models import ApiToken, User, hash_token, utcnow

# last_used_at is for admins spotting unused tokens: a minute's precision is
# plenty, and saves a write on every call of a busy integration.
LAST_USED_PRECISION = timedelta(minutes=1)


def user_for_api_token(token: str | None) -> User | None:
    """The active user an unrevoked API token belongs to, noting its use."""
    if not token or len(token) > 200:
        return None
    row = db.session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        row.last_used_at = now
        db.session.commit()
    return row.user
