"""Staff pages: the agency inbox (sorted by next deadline) and case pages."""
from __future__ import annotations

from datetime import timedelta

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..access import inbox_cases, roles_required
from ..extensions import db
from ..models import Case, Category, Role, Status, User, utcnow
from ..pagination import paginate
from . import bp

STAFF = (Role.desk, Role.officer, Role.lead, Role.supervisor, Role.admin)


@bp.route("/")
@roles_required(*STAFF)
def inbox():
    """The viewer's working list, earliest deadline first."""
    query = inbox_cases(current_user)
    status = request.args.get("status", "")
    if status in {s.value for s in Status}:
        query = query.where(Case.status == status)
    else:
        status = ""
        query = query.where(Case.status.in_([s.value for s in Status if s.value not in
                                             ("closed", "rejected", "merged", "withdrawn")]))
    category = request.args.get("category", type=int)
    if category:
        query = query.where(Case.category_id == category)
    officer = request.args.get("officer", type=int)
    if officer:
        query = query.where(Case.officer_id == officer)
    now = utcnow()
    if request.args.get("overdue"):
        query = query.where(Case.next_due < now)
    query = query.options(selectinload(Case.category), selectinload(Case.officer), selectinload(Case.agency))
    query = query.order_by(Case.next_due.is_(None), Case.next_due, Case.id)
    page = paginate(query)
    categories = db.session.execute(select(Category).order_by(Category.name)).scalars().all()
    officers = []
    if current_user.agency_id and not current_user.sees_all_agencies:
        officers = db.session.execute(
            select(User).where(User.agency_id == current_user.agency_id,
                               User.role.in_([Role.officer.value, Role.lead.value])).order_by(User.full_name)
        ).scalars().all()
    return render_template(
        "staff/inbox.html", page=page, now=now, soon=now + timedelta(days=2),
        categories=categories, officers=officers, status=status,
        filters={k: v for k, v in request.args.items() if k != "page"},
    )


@bp.route("/cases/<code>")
@roles_required(*STAFF)
def case_detail(code: str):
    from ..access import get_scoped_case

    case = get_scoped_case(current_user, code)
    return render_template("staff/case.html", case=case, now=utcnow())
