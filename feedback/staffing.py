"""Which agencies have nobody to handle a case: no active officer or lead.

A case sent to such an agency waits unseen, so the desk is warned and must
confirm before assigning there, and supervisors see those agencies that
already hold open cases on their dashboard.
"""
from __future__ import annotations

from sqlalchemy import func, select

from .extensions import db
from .models import OPEN_STATUSES, Agency, Case, Role, User

HANDLERS = (Role.officer.value, Role.lead.value)


def _staffed():
    return select(User.agency_id).where(User.active.is_(True), User.role.in_(HANDLERS), User.agency_id.is_not(None))


def unstaffed_agency_ids() -> set[int]:
    """Active agencies, other than the desk, without an active officer or lead."""
    return set(db.session.execute(
        select(Agency.id).where(Agency.active.is_(True), Agency.is_desk.is_(False), Agency.id.not_in(_staffed()))
    ).scalars())


def is_unstaffed(agency_code: str) -> bool:
    agency = db.session.execute(select(Agency).where(Agency.code == agency_code)).scalar_one_or_none()
    return agency is not None and not agency.is_desk and agency.id in unstaffed_agency_ids()


def unstaffed_with_open_cases() -> list[tuple[Agency, int]]:
    """Agencies holding open cases with nobody to handle them, most cases first."""
    count = func.count(Case.id)
    rows = db.session.execute(
        select(Agency, count).join(Case, Case.agency_id == Agency.id)
        .where(Agency.is_desk.is_(False), Case.status.in_([s.value for s in OPEN_STATUSES]),
               Agency.id.not_in(_staffed()))
        .group_by(Agency.id).order_by(count.desc(), Agency.name)
    ).all()
    return [(agency, n) for agency, n in rows]
