"""Reading an action's parameters from a form or a JSON body, as the
transition table's handlers need them."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models import User
from .errors import InvalidInput

Reader = Callable[[Mapping[str, Any]], Any]


def text(key: str, default: str = "") -> Reader:
    """The trimmed string under ``key`` (``default`` when missing or blank)."""

    def read(params: Mapping[str, Any]) -> str:
        value = params.get(key)
        return (value.strip() if isinstance(value, str) else "") or default

    return read


def raw(key: str, default: Any = None) -> Reader:
    """The value under ``key`` as sent (``default`` when missing or empty)."""
    return lambda params: params.get(key) or default


def flag(key: str) -> Reader:
    """A yes/no field: JSON booleans, or the words a form posts."""

    def read(params: Mapping[str, Any]) -> bool:
        value = params.get(key)
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"1", "true", "yes", "on", "approve", "reopen"}

    return read


def officer(required: bool = False) -> Reader:
    """The staff user named by id or e-mail under ``officer``."""

    def read(params: Mapping[str, Any]) -> User | None:
        value = params.get("officer")
        if value in (None, ""):
            if required:
                raise InvalidInput(_l("Chọn cán bộ."), {"officer": str(_l("Chọn cán bộ."))})
            return None
        query = select(User)
        if isinstance(value, int) or str(value).isdigit():
            query = query.where(User.id == int(value))
        else:
            query = query.where(func.lower(User.email) == str(value).strip().lower())
        user = db.session.execute(query).scalar_one_or_none()
        if user is None:
            raise InvalidInput(_l("Không tìm thấy cán bộ."), {"officer": str(_l("Không tìm thấy cán bộ."))})
        return user

    return read
