"""Every API error is JSON ``{"error": {"code", "message", "fields"?}}``:
never an HTML page, never a stack trace.

``code`` is the HTTP status, as in the app-wide JSON errors for unknown
``/api/`` URLs; ``reason`` names the case for programs (``stale_version``,
``validation_failed`` …). A refused workflow transition passes its
Vietnamese message through as ``message`` and ``message_vi``.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask_babel import force_locale
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..input_guard import REFUSED_CHARACTERS, RefusedInput
from ..json_fields import ValidationFailed
from ..workflow import InvalidInput, NotAllowedNow, PermissionDenied, StaleCase, WorkflowError

# The English text for each status the API answers with.
MESSAGES = {
    400: "Bad request.",
    401: "Authentication required: send a valid bearer token or X-Case-Token.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    405: "Method not allowed for this URL.",
    409: "The case changed or is not in a state that allows this.",
    413: "The request is too large.",
    415: "Unsupported media type.",
    422: "The request has invalid fields.",
    429: "Too many requests; slow down and retry later.",
    500: "Internal server error.",
}
REASONS = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "validation_failed",
    429: "rate_limited", 500: "server_error",
}
WORKFLOW_REASONS = {StaleCase: "stale_version", NotAllowedNow: "not_allowed_now",
                    PermissionDenied: "forbidden", InvalidInput: "validation_failed"}


class ApiError(Exception):
    """An error the API answers with as is."""

    def __init__(self, status: int, message: str | None = None, fields: dict[str, str] | None = None,
                 reason: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message or MESSAGES.get(status, ""))
        self.status = status
        self.message = message or MESSAGES.get(status, "")
        self.fields = fields or {}
        self.reason = reason or REASONS.get(status, "error")
        self.headers = headers or {}


def error_response(status: int, message: str, fields: dict[str, str] | None = None, reason: str | None = None,
                   headers: dict[str, str] | None = None, **extra):
    body = {"code": status, "message": message, "reason": reason or REASONS.get(status, "error"), **extra}
    if fields:
        body["fields"] = fields
    response = jsonify(error=body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_api_errors(bp: Blueprint) -> None:
    """JSON errors for every route of ``bp``."""

    @bp.errorhandler(ApiError)
    def api_error(err: ApiError):
        db.session.rollback()
        return error_response(err.status, err.message, err.fields, err.reason, err.headers)

    @bp.errorhandler(ValidationFailed)
    def validation_failed(err: ValidationFailed):
        db.session.rollback()
        return error_response(422, err.message, err.fields, "validation_failed")

    @bp.errorhandler(WorkflowError)
    def workflow_error(err: WorkflowError):
        db.session.rollback()
        with force_locale("vi"):
            message_vi = str(err.message)
        return error_response(err.http_status, str(err.message), dict(err.fields),
                              WORKFLOW_REASONS.get(type(err), REASONS.get(err.http_status)), message_vi=message_vi)

    @bp.errorhandler(RefusedInput)
    def refused_input(err: RefusedInput):
        # The guard ran before the view: nothing to roll back, but name the field.
        return error_response(400, "The request contains characters that are not allowed.",
                              {err.field: REFUSED_CHARACTERS}, "invalid_characters")

    @bp.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        db.session.rollback()
        status = err.code or 500
        headers = {}
        if status == 405 and err.get_response().headers.get("Allow"):
            headers["Allow"] = err.get_response().headers["Allow"]
        if status == 429:
            headers.update({k: v for k, v in err.get_response().headers.items() if k.lower() == "retry-after"})
        return error_response(status, MESSAGES.get(status, err.name), headers=headers)

    @bp.errorhandler(Exception)
    def server_error(err: Exception):
        db.session.rollback()
        current_app.logger.exception("API request failed")
        return error_response(500, MESSAGES[500])

