"""The request's JSON body and typed query-string values, checked against
the ``Field`` declarations of ``feedback.json_fields``: a bad query string is
a 400 naming each parameter.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from flask import request

from ..input_guard import JsonRefused, read_json
from ..json_fields import Field, ValidationFailed
from .errors import ApiError


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 when it is not JSON (or nested too
    deeply) or not an object, 422 naming each string with forbidden characters."""
    try:
        data = read_json()
    except JsonRefused as refused:
        if refused.fields:
            raise ValidationFailed(refused.fields, refused.message) from None
        raise ApiError(400, refused.message, reason="malformed_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.", reason="malformed_json")
    return data


# Query strings ----------------------------------------------------------------

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DIGITS = re.compile(r"\d{1,9}")


def query_args(fields: Mapping[str, Field]) -> dict[str, Any]:
    """Typed query-string values (None when absent); 400 naming each bad one."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, field in fields.items():
        raw = request.args.get(name)
        if raw is None:
            values[name] = None
            continue
        # Strings are checked as sent, then read (dates); numbers read, then checked.
        problem = field.problem(raw) if "string" in field.types else None
        try:
            value = _parse_query_value(raw, field)
        except ValueError as exc:
            problem = problem or str(exc)
        else:
            problem = problem or (None if "string" in field.types else field.problem(value))
        if problem:
            errors[name] = problem
            continue
        values[name] = value
    if errors:
        raise ApiError(400, "The query string has invalid parameters.", fields=errors, reason="bad_query")
    return values


def _parse_query_value(raw: str, field: Field) -> Any:
    if "integer" in field.types:
        if not DIGITS.fullmatch(raw):
            raise ValueError("Must be a whole number.")
        return int(raw)
    if "boolean" in field.types:
        if raw not in ("true", "false"):
            raise ValueError("Must be true or false.")
        return raw == "true"
    if field.format == "date-time":
        return parse_datetime(raw)
    if field.format == "date":
        try:
            if not ISO_DATE.fullmatch(raw):
                raise ValueError
            return date.fromisoformat(raw)
        except ValueError:
            raise ValueError("Must be a date (YYYY-MM-DD).") from None
    return raw


def parse_datetime(raw: str) -> datetime:
    """An RFC 3339 date-time with its offset (``2026-03-02T08:00:00+07:00``)."""
    if not RFC3339.fullmatch(raw):
        raise ValueError("Must be an ISO 8601 date-time with offset, e.g. 2026-03-02T17:00:00+07:00.")
    try:
        # In UTC, as stored: a moment past the calendar's edge once moved
        # to UTC (9999-12-31T23:00-05:00) is not a real date either.
        return datetime.fromisoformat(raw.replace("z", "Z")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("Must be a real date and time.") from None


PAGE_ARGS = {
    "page": Field("integer", minimum=1, description="Page number, from 1."),
    "per_page": Field("integer", minimum=1, maximum=100, description="Items per page (at most 100)."),
}
