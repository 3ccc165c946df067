"""Who may see what: role checks for views and the one case-scoping query.

Every staff query that lists or loads cases starts from ``scoped_cases`` so
that an officer never sees another agency's case (DESIGN.md section 2).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user
from sqlalchemy import Select, exists, or_, select

from .extensions import db, login_manager
from .models import Case, CaseEvent, Role, User


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The account a session or remember-me cookie belongs to, checked on every
    request: its id is "user id:session generation" (``User.get_id``), so a
    cookie issued before ``User.end_sessions`` no longer matches, and a
    deactivated account loses its open sessions at once, not at next login."""
    account, _sep, generation = (user_id or "").partition(":")
    if not account.isdigit() or not generation.isdigit():
        return None  # a cookie from before generations existed, or forged
    user = db.session.get(User, int(account))
    if user is None or not user.active or (user.session_generation or 0) != int(generation):
        return None
    return user


def roles_required(*roles: Role | str) -> Callable:
    """Anonymous visitors go to the login page; a logged-in wrong role gets 403."""
    allowed = {Role(r) for r in roles}

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                from .extensions import login_manager as lm

                return lm.unauthorized()
            if current_user.role_enum not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def scoped_cases(user: User) -> Select:
    """All cases ``user`` may see, as a select to filter and order further.

    Desk, supervisors and admins see every case. Officers and leads see the
    cases held by their agency now, and keep read access to cases they acted
    on before (recorded in the timeline).
    """
    query = select(Case)
    if user.sees_all_agencies:
        return query
    if user.role_enum not in {Role.officer, Role.lead} or user.agency_id is None:
        return query.where(Case.id == -1)
    handled_before = exists().where(CaseEvent.case_id == Case.id, CaseEvent.actor_id == user.id)
    return query.where(or_(Case.agency_id == user.agency_id, handled_before))


def inbox_cases(user: User) -> Select:
    """Cases the user's agency holds now (the working inbox)."""
    query = scoped_cases(user)
    if user.sees_all_agencies:
        return query
    return query.where(Case.agency_id == user.agency_id)


def case_by_code(code: str, query: Select | None = None) -> Case | None:
    """The case with this code among ``query`` (every case when not given: a
    staff scope from ``scoped_cases``, or a public selection), or None."""
    base = query if query is not None else select(Case)
    return db.session.execute(base.where(Case.code == code)).scalar_one_or_none()


def get_scoped_case(user: User, code: str) -> Case:
    """Load one case by code within the user's scope, or 404 (never 403,
    so codes outside the scope cannot be probed)."""
    case = case_by_code(code, scoped_cases(user))
    if case is None:
        abort(404)
    return case
