"""Keyset pages for the staff case list: ``cursor`` / ``next_cursor``.

An offset makes the database read and drop every row before the page, so a
deep page of a million cases costs as much as the whole list. A cursor is
the position of the last case seen, ``(next_due, id)`` in the list's order
(``deadline_order``: earliest deadline first, none last), and the next page
starts just after it on ``ix_case_next_due_id``. It is opaque to clients
(URL-safe base64 of JSON) and checked: anything this API did not give out
is a 400, never a 500.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, or_

from ..models import Case, deadline_order
from ..pagination import fetch_page

Position = tuple[datetime | None, int]
MAX_ID = 2**63 - 1


class CursorError(ValueError):
    """A cursor this API did not give out (or mangled on the way)."""


def encode_cursor(case: Case) -> str:
    due = case.next_due.isoformat() if case.next_due is not None else None
    raw = json.dumps([due, case.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Position:
    """The position a cursor holds, or ``CursorError``."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        due, case_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise CursorError(str(exc)) from None
    if type(case_id) is not int or not 0 < case_id <= MAX_ID:
        raise CursorError("not a case id")
    return _due(due), case_id


def _due(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise CursorError("not a deadline")
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        raise CursorError("not a deadline") from None
    if due.tzinfo is None:
        raise CursorError("deadline without a time zone")
    try:
        return due.astimezone(UTC)  # as stored; a date at the edge of the calendar cannot be
    except OverflowError:
        raise CursorError("not a deadline") from None


def page_after(query: Select, position: Position, per_page: int) -> tuple[list[Case], bool]:
    """The ``per_page`` cases after ``position`` in deadline order, and whether
    more follow. Cases with a deadline come first (a range on ``(next_due,
    id)``), then those without one, by id: at most two page queries."""
    due, last_id = position
    items: list[Case] = []
    if due is not None:
        items, more = fetch_page(dated_after(query, due, last_id), per_page)
        if more:
            return items, True
        last_id = 0
    undated = query.where(Case.next_due.is_(None), Case.id > last_id).order_by(Case.id)
    rest, more = fetch_page(undated, per_page - len(items))
    return items + rest, more


def dated_after(query: Select, due: datetime, last_id: int) -> Select:
    """The cases after ``(due, last_id)`` that have a deadline, in deadline
    order: ``next_due >= due`` is the index range, the OR only drops the ties
    already seen."""
    return query.where(Case.next_due >= due, or_(Case.next_due > due, Case.id > last_id)).order_by(*deadline_order())
