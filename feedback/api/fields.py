"""Typed JSON fields and query-string values: each ``Field`` both checks a
value and describes itself as JSON Schema, so what the API accepts and what
its OpenAPI document says are one declaration.

Errors are collected per dotted path (``sender.phone``) and raised together:
422 ``ValidationFailed`` for a body, 400 for a query string.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

from flask import request

from .errors import ApiError

REQUIRED = "This field is required."
NOT_BLANK = r"\S"  # a required text must hold more than spaces


class ValidationFailed(ApiError):
    """422 with the offending fields, by dotted path."""

    def __init__(self, fields: dict[str, str], message: str = "The request has invalid fields."):
        super().__init__(422, message, fields=fields, reason="validation_failed")


@dataclass(frozen=True)
class Field:
    """One JSON value: its type and limits, checked here and documented in OpenAPI."""

    type: str | tuple[str, ...]
    required: bool = False
    description: str = ""
    min_length: int | None = None
    max_length: int | None = None
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    format: str | None = None
    nullable: bool = False

    @property
    def types(self) -> tuple[str, ...]:
        return self.type if isinstance(self.type, tuple) else (self.type,)

    def schema(self) -> dict[str, Any]:
        """This field as a JSON Schema (OpenAPI 3.1) fragment."""
        types = list(self.types) + (["null"] if self.nullable else [])
        schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
        if self.description:
            schema["description"] = self.description
        if self.enum:
            schema["enum"] = list(self.enum) + ([None] if self.nullable else [])
        if "string" in self.types:
            if self.required and not self.enum and self.format is None:
                schema["pattern"] = NOT_BLANK
            for key, value in (("minLength", self.min_length), ("maxLength", self.max_length),
                               ("format", self.format)):
                if value is not None:
                    schema[key] = value
        for key, value in (("minimum", self.minimum), ("maximum", self.maximum)):
            if value is not None:
                schema[key] = value
        return schema

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable, or None when it is."""
        if value is None:
            return REQUIRED if self.required and not self.nullable else None
        if isinstance(value, bool):
            kind = "boolean"
        elif isinstance(value, dict):
            kind = "object"
        elif isinstance(value, int):
            kind = "integer"
        elif isinstance(value, str):
            kind = "string"
        else:
            kind = "other"
        if kind not in self.types:
            return f"Must be {' or '.join(self.types)}."
        if kind == "string":
            if self.required and not value.strip():
                return REQUIRED
            if self.enum and value not in self.enum:
                return f"Must be one of: {', '.join(self.enum)}."
            if self.min_length is not None and len(value.strip()) < self.min_length:
                return f"Must have at least {self.min_length} characters."
            if self.max_length is not None and len(value) > self.max_length:
                return f"Must have at most {self.max_length} characters."
        if kind == "integer":
            if self.minimum is not None and value < self.minimum:
                return f"Must be at least {self.minimum}."
            if self.maximum is not None and value > self.maximum:
                return f"Must be at most {self.maximum}."
        return None


def object_schema(fields: Mapping[str, Field], **extra) -> dict[str, Any]:
    """A closed JSON object of ``fields``."""
    return {
        "type": "object",
        "properties": {name: field.schema() for name, field in fields.items()},
        "required": [name for name, field in fields.items() if field.required],
        "additionalProperties": False,
        **extra,
    }


def check_object(data: Any, fields: Mapping[str, Field], path: str = "",
                 errors: dict[str, str] | None = None) -> dict[str, Any]:
    """The known fields of ``data`` with strings stripped; problems go to ``errors``."""
    errors = {} if errors is None else errors
    if not isinstance(data, dict):
        errors[path.rstrip(".") or "body"] = "Must be a JSON object."
        return {}
    for name in data.keys() - fields.keys():
        errors[f"{path}{name}"] = "Unknown field."
    values = {}
    for name, field in fields.items():
        value = data.get(name)
        problem = field.problem(value)
        if problem:
            errors[f"{path}{name}"] = problem
        values[name] = value.strip() if isinstance(value, str) else value
    return values


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 when it is not JSON or not an object."""
    data = request.get_json(force=True, silent=True, cache=True)
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.", reason="malformed_json")
    return data


# Query strings ----------------------------------------------------------------

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DIGITS = re.compile(r"\d{1,9}")


def query_args(fields: Mapping[str, Field]) -> dict[str, Any]:
    """Typed query-string values (None when absent); 400 naming each bad one."""
    errors, values = {}, {}
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
        return datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise ValueError("Must be a real date and time.") from None


PAGE_ARGS = {
    "page": Field("integer", minimum=1, description="Page number, from 1."),
    "per_page": Field("integer", minimum=1, maximum=100, description="Items per page (at most 100)."),
}
