"""The audit log: every staff action, who, what, when, from which address."""
from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from .extensions import db
from .models import AuditLog, User


def record_audit(action: str, case_id: int | None = None, detail: dict[str, Any] | None = None,
                 user: User | None = None) -> None:
    """Add an audit row to the current transaction (the caller commits)."""
    ip = ""
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    if has_request_context():
        # The client's address as ProxyFix established it from the trusted
        # proxies (FEEDBACK_TRUSTED_PROXIES); never a header a client may forge.
        ip = request.remote_addr or ""
    db.session.add(AuditLog(user_id=user.id if user else None, action=action, case_id=case_id,
                            detail=detail or {}, ip=ip[:64]))
