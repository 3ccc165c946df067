"""Typed JSON fields: each ``Field`` both checks a value and describes itself
as JSON Schema, so what the API and Open311 accept and what the OpenAPI
document says are one declaration.

Errors are collected per dotted path (``sender.phone``) and raised together
as ``ValidationFailed``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REQUIRED = "This field is required."
NOT_BLANK = r"\S"  # a required text must hold more than spaces


class ValidationFailed(Exception):
    """A JSON value with invalid fields, by dotted path; the API answers 422
    (``validation_failed``), Open311 names the parameters back."""

    def __init__(self, fields: dict[str, str], message: str = "The request has invalid fields."):
        super().__init__(message)
        self.fields = fields
        self.message = message


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
