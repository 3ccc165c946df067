"""The audit log, read-only: who did what, on which case, when, and on
request whether its hash chain is intact."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import render_template, request
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..access import roles_required
from ..audit import verify_chain
from ..deadlines import OFFICE_TZ
from ..extensions import db
from ..models import AuditLog, Case, Role, User
from ..pagination import paginate
from . import bp


def _day(name: str, errors: list[str]) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(_("Ngày “%(value)s” không hợp lệ; dùng dạng năm-tháng-ngày, ví dụ 2026-03-16.", value=raw[:20]))
        return None


def _start_of(day: date) -> datetime:
    """Midnight of ``day`` in Hải Phòng, the boundary a person means by a date."""
    return datetime.combine(day, time(0), OFFICE_TZ)


@bp.route("/audit")
@roles_required(Role.admin)
def audit_log():
    """Newest first, filtered by user (e-mail or name), case code, action and
    a range of office-local dates."""
    errors: list[str] = []
    user_q = request.args.get("user", "").strip()[:200]
    case_q = request.args.get("case", "").strip()[:40]
    action = request.args.get("action", "").strip()[:60]
    since, until = _day("from", errors), _day("to", errors)
    if since and until and since > until:
        errors.append(_("Ngày bắt đầu phải trước ngày kết thúc."))
        since = until = None
    query = select(AuditLog).options(selectinload(AuditLog.user), selectinload(AuditLog.case))
    if user_q:
        pattern = f"%{user_q.lower()}%"
        query = query.where(AuditLog.user_id.in_(select(User.id).where(
            func.lower(User.email).like(pattern) | func.lower(User.full_name).like(pattern))))
    if case_q:
        query = query.where(AuditLog.case_id.in_(select(Case.id).where(func.upper(Case.code) == case_q.upper())))
    actions = db.session.execute(select(AuditLog.action).distinct().order_by(AuditLog.action)).scalars().all()
    if action in actions:
        query = query.where(AuditLog.action == action)
    else:
        action = ""
    if since:
        query = query.where(AuditLog.at >= _start_of(since))
    if until:
        query = query.where(AuditLog.at < _start_of(until + timedelta(days=1)))
    page = paginate(query.order_by(AuditLog.at.desc(), AuditLog.id.desc()))
    filters = {k: v for k, v in (("user", user_q), ("case", case_q), ("action", action),
                                 ("from", since.isoformat() if since else ""),
                                 ("to", until.isoformat() if until else "")) if v}
    # Walking the whole chain costs a read of the log: only when asked.
    chain = verify_chain() if request.args.get("verify") == "1" else None
    return render_template("admin/audit.html", page=page, actions=actions, filters=filters, errors=errors, chain=chain,
                           user_q=user_q, case_q=case_q, action=action, since=since, until=until)
