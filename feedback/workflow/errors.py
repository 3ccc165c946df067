"""The ways a transition is refused. Each carries the message shown to the
user as is, and the HTTP status the JSON API answers with."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l


class WorkflowError(Exception):
    """A refused transition; ``message`` is shown to the user as is."""

    http_status = 409

    def __init__(self, message, fields: dict[str, str] | None = None):
        super().__init__(str(message))
        self.message = message
        self.fields = fields or {}


class PermissionDenied(WorkflowError):
    http_status = 403


class NotAllowedNow(WorkflowError):
    http_status = 409


class StaleCase(WorkflowError):
    http_status = 409


class InvalidInput(WorkflowError):
    http_status = 422


STALE_MESSAGE = _l("Phản ánh này vừa được người khác thay đổi. Vui lòng tải lại trang rồi thực hiện lại.")
