"""Who may see what: role checks for views and the one case-scoping query.

Every staff query that lists or loads cases starts from ``scoped_cases`` so
that an officer never sees another agency's case (docs/design.md §2).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, exists, false, or_, select, true

from .audit import record_audit
from .extensions import db, login_manager
from .models import AuditLog, Case, CaseEvent, Role, User, utcnow


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


# Contact details ---------------------------------------------------------------------
#
# The sender's phone, e-mail, address, ID number and tax code (DESIGN.md
# section 2.3). The sender's name and a business's representative stay
# visible to everyone in scope: staff need to know whom a case is from.

CONTACT_FIELDS = ("sender_phone", "sender_email", "sender_address", "sender_id_number", "sender_tax_code")
# Who sees every case's contacts: the desk calls senders back, admins support it.
CONTACTS_EVERYWHERE = frozenset({Role.desk, Role.admin})
# Who sees the contacts of the cases their agency holds now (not of cases
# they only keep reading after a transfer).
CONTACTS_WHILE_HOLDING = frozenset({Role.officer, Role.lead})
# Who may open one case's contacts by giving a reason, for a limited time.
CONTACT_REVEAL_ROLES = frozenset({Role.supervisor})
CONTACT_REVEAL_DURATION = timedelta(hours=1)
CONTACT_REVEAL_MIN_REASON = 10
CONTACTS_VIEWED, CONTACTS_REVEALED, EXPORT_CONTACTS = "contacts.viewed", "contacts.revealed", "export.contacts"


def holds_contacts(user: User, case: Case) -> bool:
    """Whether the user's role (and agency) entitles them to the case's contacts."""
    if user.role_enum in CONTACTS_EVERYWHERE:
        return True
    return (user.role_enum in CONTACTS_WHILE_HOLDING and user.agency_id is not None
            and case.agency_id == user.agency_id)


def holds_contacts_clause(user: User) -> ColumnElement[bool]:
    """``holds_contacts`` as SQL, for lists and exports of many cases."""
    if user.role_enum in CONTACTS_EVERYWHERE:
        return true()
    if user.role_enum in CONTACTS_WHILE_HOLDING and user.agency_id is not None:
        return Case.agency_id == user.agency_id
    return false()


def may_hold_any_contacts(user: User) -> bool:
    """Whether some case's contacts can reach this user without a reveal
    (what decides if an export offers contact columns at all)."""
    return user.role_enum in CONTACTS_EVERYWHERE | CONTACTS_WHILE_HOLDING


def may_reveal_contacts(user: User, case: Case) -> bool:
    """Whether the user may open this case's contacts by giving a reason."""
    return user.role_enum in CONTACT_REVEAL_ROLES and not holds_contacts(user, case)


def revealed_until(user: User, case: Case, now: datetime | None = None) -> datetime | None:
    """Until when the user's latest reveal of this case's contacts lasts, or
    None. A reveal is its audit row: no second record to drift from the log."""
    now = now or utcnow()
    at = db.session.execute(
        select(AuditLog.at).where(AuditLog.action == CONTACTS_REVEALED, AuditLog.user_id == user.id,
                                  AuditLog.case_id == case.id, AuditLog.at > now - CONTACT_REVEAL_DURATION)
        .order_by(AuditLog.at.desc()).limit(1)).scalar()
    return at + CONTACT_REVEAL_DURATION if at is not None else None


def may_see_contacts(user: User, case: Case, now: datetime | None = None) -> bool:
    """The one rule for one case, on every channel: entitled by role and
    agency, or opened with a reason within the last hour."""
    if holds_contacts(user, case):
        return True
    return user.role_enum in CONTACT_REVEAL_ROLES and revealed_until(user, case, now) is not None


def show_contacts(user: User, case: Case, channel: str) -> bool:
    """``may_see_contacts``, and when it allows, log the view (who, which
    case, where) in the caller's transaction; the caller commits."""
    if not may_see_contacts(user, case):
        return False
    record_audit(CONTACTS_VIEWED, case_id=case.id, detail={"channel": channel}, user=user)
    return True


class RevealRefused(Exception):
    """A reveal that may not happen; the message is for the person."""


def reveal_contacts(user: User, case: Case, reason: str) -> None:
    """Open the case's contacts to ``user`` for CONTACT_REVEAL_DURATION, with
    the reason in the audit log (the caller commits)."""
    reason = " ".join((reason or "").split())
    if not may_reveal_contacts(user, case):
        raise RevealRefused(_l("Vai trò của bạn không mở thông tin liên hệ của phản ánh này theo cách này."))
    if len(reason) < CONTACT_REVEAL_MIN_REASON:
        raise RevealRefused(_l("Vui lòng nêu lý do xem thông tin liên hệ (ít nhất %(n)s ký tự).",
                               n=CONTACT_REVEAL_MIN_REASON))
    record_audit(CONTACTS_REVEALED, case_id=case.id, detail={"reason": reason[:500]}, user=user)
