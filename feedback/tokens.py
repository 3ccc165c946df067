"""API tokens: who an integration's bearer token (``flask tokens create``)
stands for, shared by the JSON API and Open311's ``api_key``."""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from .extensions import db
from .models import ApiToken, User, hash_token, utcnow

# last_used_at is for admins spotting unused tokens: a minute's precision is
# plenty, and saves a write on every call of a busy integration.
LAST_USED_PRECISION = timedelta(minutes=1)
TOKEN_SCOPES = ("read", "write")
# Stands in for a stored hash when no row matched, so the comparison below
# runs either way.
_NO_HASH = "0" * 64


@dataclass(frozen=True)
class TokenCheck:
    """What a presented token turned out to be: ``token`` when it may be used
    now, else whether it was a real token that has only expired."""

    token: ApiToken | None
    expired: bool = False

    @property
    def user(self) -> User | None:
        return self.token.user if self.token is not None else None


def check_api_token(presented: str | None) -> TokenCheck:
    """Look ``presented`` up by its hash and say whether it may be used: not
    revoked, not expired, its user active. Notes its use. (What the user's
    role allows is each endpoint's business.)"""
    if not presented or len(presented) > 200:
        return TokenCheck(None)
    digest = hash_token(presented)
    row = db.session.execute(select(ApiToken).where(ApiToken.token_hash == digest)).scalar_one_or_none()
    # Every condition is evaluated, without returning early, so that the
    # answer's timing says no more than the indexed lookup already did.
    matches = hmac.compare_digest(row.token_hash if row is not None else _NO_HASH, digest)
    now = utcnow()
    usable = matches and row is not None and row.revoked_at is None and row.user.active
    expired = usable and row is not None and row.expires_at is not None and row.expires_at <= now
    if not usable or expired:
        return TokenCheck(None, expired=bool(expired))
    assert row is not None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        row.last_used_at = now
        db.session.commit()
    return TokenCheck(row)


def user_for_api_token(presented: str | None) -> User | None:
    """The user a usable API token stands for, noting its use."""
    return check_api_token(presented).user
