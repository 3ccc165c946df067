"""Administration operations: the one path every admin change takes.

Each function checks the rules it owns, changes the model, flushes and adds
an audit row; the caller (a view, a command) commits once. A broken rule
raises ``AdminError`` naming the form field it belongs to, before anything
has been changed.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..audit import record_audit
from ..calendar_changes import CalendarPlan, apply_calendar_change, plan_calendar_change
from ..extensions import db
from ..models import (
    FINAL_STATUSES,
    Agency,
    ApiToken,
    CalendarOverride,
    Case,
    Category,
    Procedure,
    Role,
    User,
    hash_token,
    utcnow,
)
from ..passwords import password_problem
from ..text import fold
from ..tokens import TOKEN_SCOPES

# The deadline policy a category may override: its columns and their defaults.
from ..workflow.policy import POLICY_DAYS
from .tree import creates_cycle


class AdminError(Exception):
    """A rule the change would break; ``field`` is the form field to blame."""

    def __init__(self, message: Any, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


POLICY_DAYS_MIN, POLICY_DAYS_MAX = 1, 60

AGENCY_NEEDED_BY = {Role.officer.value, Role.lead.value}
PROCEDURE_KINDS = ("procedure", "legal_document")
MAX_TOKEN_DAYS = 3650


def policy_defaults() -> dict[str, int]:
    """The configured default for each policy column."""
    return {column: current_app.config[key] for column, key in POLICY_DAYS.items()}


def _apply(obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set ``values`` on ``obj``; return what changed as {field: [old, new]}."""
    changed = {}
    for name, new in values.items():
        old = getattr(obj, name)
        if old != new:
            changed[name] = [old, new]
            setattr(obj, name, new)
    return changed


def _code_taken(model: type[Agency | Category | Procedure], code: str, own_id: int | None = None) -> bool:
    query = select(model.id).where(func.lower(model.code) == code.lower())
    if own_id is not None:
        query = query.where(model.id != own_id)
    return db.session.execute(query).first() is not None


def _check_parent(model: type[Agency | Category], node_id: int | None, parent_id: int | None,
                  cycle_message: Any) -> None:
    if parent_id is None:
        return
    if db.session.get(model, parent_id) is None:
        raise AdminError(_l("Đơn vị cấp trên không tồn tại."), "parent_id")
    if node_id is not None:
        parents = dict(db.session.execute(select(model.id, model.parent_id)).all())
        if creates_cycle(node_id, parent_id, parents):
            raise AdminError(cycle_message, "parent_id")


def references(row: Any) -> int:
    """How many rows anywhere in the schema point at ``row`` (found from the
    foreign keys, so a table added later is counted too)."""
    target = row.__table__
    total = 0
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is target:
                total += db.session.execute(
                    select(func.count()).select_from(table).where(fk.parent == row.id)).scalar_one()
    return total


# Agencies -------------------------------------------------------------------


@dataclass
class Staffing:
    """Who can handle an agency's cases now, and how many are open."""

    officers: int = 0
    leads: int = 0
    desk: int = 0
    open_cases: int = 0

    def handlers(self, agency: Agency) -> int:
        return self.officers + self.leads + (self.desk if agency.is_desk else 0)

    def unattended(self, agency: Agency) -> bool:
        """Open cases and nobody active to handle them."""
        return self.open_cases > 0 and self.handlers(agency) == 0


def staffing() -> dict[int, Staffing]:
    """Per agency id: active officers, leads (and desk staff) and open cases,
    in two grouped queries."""
    result: dict[int, Staffing] = {}
    rows = db.session.execute(
        select(User.agency_id, User.role, func.count(User.id))
        .where(User.active.is_(True), User.agency_id.is_not(None),
               User.role.in_([Role.officer.value, Role.lead.value, Role.desk.value]))
        .group_by(User.agency_id, User.role)).all()
    for agency_id, role, n in rows:
        setattr(result.setdefault(agency_id, Staffing()), {"officer": "officers", "lead": "leads"}.get(role, role), n)
    open_rows = db.session.execute(
        select(Case.agency_id, func.count(Case.id))
        .where(Case.status.not_in([s.value for s in FINAL_STATUSES])).group_by(Case.agency_id)).all()
    for agency_id, n in open_rows:
        result.setdefault(agency_id, Staffing()).open_cases = n
    return result



def current_desk() -> Agency | None:
    return db.session.execute(
        select(Agency).where(Agency.is_desk.is_(True)).order_by(Agency.id)).scalars().first()


def _check_desk(agency: Agency | None, is_desk: bool) -> None:
    """Exactly one receiving desk: it moves by marking another agency, it is
    never simply removed."""
    if is_desk and agency is not None and not agency.active:
        raise AdminError(_l("Bộ phận tiếp nhận phải là cơ quan đang hoạt động."), "is_desk")
    if agency is not None and agency.is_desk and not is_desk:
        others = db.session.execute(select(func.count(Agency.id)).where(
            Agency.is_desk.is_(True), Agency.id != agency.id)).scalar_one()
        if not others:
            raise AdminError(_l("Hệ thống phải luôn có đúng một bộ phận tiếp nhận. Để chuyển bộ phận "
                                "tiếp nhận, hãy đánh dấu cơ quan mới; cơ quan này sẽ tự được bỏ đánh dấu."),
                             "is_desk")


def _take_desk(agency: Agency) -> None:
    """Make ``agency`` the only desk; the former one is unmarked and logged."""
    former = db.session.execute(select(Agency).where(
        Agency.is_desk.is_(True), Agency.id != agency.id)).scalars().all()
    for other in former:
        other.is_desk = False
        record_audit("agency.desk_moved", detail={"from": other.code, "to": agency.code})


def create_agency(*, code: str, name: str, name_en: str = "", kind: str = "department",
                  parent_id: int | None = None, is_desk: bool = False,
                  requires_approval: bool = False) -> Agency:
    """Add an agency to the tree. Marking it as the desk moves the desk to it."""
    if _code_taken(Agency, code):
        raise AdminError(_l("Mã cơ quan này đã được dùng."), "code")
    _check_parent(Agency, None, parent_id, "")
    agency = Agency(code=code, name=name, name_en=name_en, kind=kind, parent_id=parent_id,
                    is_desk=is_desk, requires_approval=requires_approval, active=True)
    db.session.add(agency)
    db.session.flush()
    if is_desk:
        _take_desk(agency)
    record_audit("agency.create", detail={"agency_id": agency.id, "code": code, "name": name,
                                          "parent_id": parent_id, "is_desk": is_desk})
    db.session.flush()
    return agency


def update_agency(agency: Agency, *, name: str, name_en: str, kind: str, parent_id: int | None,
                  is_desk: bool, requires_approval: bool) -> dict[str, list[Any]]:
    """Change an agency's names, place in the tree and switches. Refuses to
    put it under itself or one of its own units, and to leave no desk."""
    _check_parent(Agency, agency.id, parent_id, _l(
        "Không thể chọn đơn vị cấp trên là chính cơ quan này hoặc một đơn vị trực thuộc nó."))
    _check_desk(agency, is_desk)
    changed = _apply(agency, {"name": name, "name_en": name_en, "kind": kind, "parent_id": parent_id,
                              "is_desk": is_desk, "requires_approval": requires_approval})
    if changed.get("is_desk") == [False, True]:
        _take_desk(agency)
    if changed:
        record_audit("agency.update", detail={"agency_id": agency.id, "code": agency.code, "changed": changed})
    db.session.flush()
    return changed


@dataclass
class Retirement:
    """What retiring an agency would do, shown on the confirmation page."""

    agency: Agency
    open_cases: int
    references: int
    active_users: int
    active_categories: int
    active_children: int

    @property
    def blocker(self) -> str | None:
        if self.agency.is_desk:
            return str(_l("Cơ quan này là bộ phận tiếp nhận nên không thể ngừng hoạt động. Hãy đánh dấu "
                          "cơ quan khác là bộ phận tiếp nhận trước."))
        if self.open_cases:
            return str(_l("Không thể ngừng hoạt động: cơ quan đang giữ %(n)d phản ánh, kiến nghị chưa kết "
                          "thúc. Hãy chuyển hoặc kết thúc các phản ánh này trước.", n=self.open_cases))
        return None

    @property
    def deletes(self) -> bool:
        """Nothing points at it: it can go entirely instead of being kept inactive."""
        return self.references == 0


def open_case_count(agency: Agency) -> int:
    """Cases the agency holds that have not reached a final status."""
    return db.session.execute(select(func.count(Case.id)).where(
        Case.agency_id == agency.id, Case.status.not_in([s.value for s in FINAL_STATUSES]))).scalar_one()


def plan_retirement(agency: Agency) -> Retirement:
    def count(query):
        return db.session.execute(query).scalar_one()
    return Retirement(
        agency=agency,
        open_cases=open_case_count(agency),
        references=references(agency),
        active_users=count(select(func.count(User.id)).where(User.agency_id == agency.id, User.active.is_(True))),
        active_categories=count(select(func.count(Category.id)).where(
            Category.default_agency_id == agency.id, Category.active.is_(True))),
        active_children=count(select(func.count(Agency.id)).where(
            Agency.parent_id == agency.id, Agency.active.is_(True))),
    )


def retire_agency(agency: Agency) -> str:
    """Remove an agency nothing refers to; otherwise keep it, inactive, so
    the history of its cases stays whole. Refused while it holds open cases
    or is the desk. Returns "deleted" or "deactivated"."""
    plan = plan_retirement(agency)
    if plan.blocker:
        raise AdminError(plan.blocker)
    detail = {"agency_id": agency.id, "code": agency.code, "name": agency.name}
    if plan.deletes:
        record_audit("agency.delete", detail=detail)
        db.session.delete(agency)
        db.session.flush()
        return "deleted"
    agency.active = False
    record_audit("agency.deactivate", detail=detail)
    db.session.flush()
    return "deactivated"


def reactivate_agency(agency: Agency) -> None:
    if agency.active:
        raise AdminError(_l("Cơ quan này đang hoạt động."))
    agency.active = True
    record_audit("agency.reactivate", detail={"agency_id": agency.id, "code": agency.code})
    db.session.flush()


# Categories and their deadline policy ---------------------------------------


def _check_days(days: dict[str, int | None]) -> None:
    for column, value in days.items():
        if column not in POLICY_DAYS:
            raise ValueError(f"not a policy column: {column}")
        if value is not None and not POLICY_DAYS_MIN <= value <= POLICY_DAYS_MAX:
            raise AdminError(_l("Số ngày làm việc phải là số nguyên từ %(lo)d đến %(hi)d.",
                                lo=POLICY_DAYS_MIN, hi=POLICY_DAYS_MAX), column)


def _check_default_agency(agency_id: int | None, unchanged: bool = False) -> None:
    if agency_id is None or unchanged:
        return
    agency = db.session.get(Agency, agency_id)
    if agency is None or not agency.active:
        raise AdminError(_l("Vui lòng chọn một cơ quan đang hoạt động."), "default_agency_id")


def create_category(*, code: str, name: str, name_en: str = "", parent_id: int | None = None,
                    default_agency_id: int | None = None, active: bool = True,
                    days: dict[str, int | None] | None = None) -> Category:
    """Add a field (lĩnh vực); blank policy days fall back to the defaults."""
    days = days or {}
    if _code_taken(Category, code):
        raise AdminError(_l("Mã lĩnh vực này đã được dùng."), "code")
    _check_parent(Category, None, parent_id, "")
    _check_default_agency(default_agency_id)
    _check_days(days)
    category = Category(code=code, name=name, name_en=name_en, parent_id=parent_id,
                        default_agency_id=default_agency_id, active=active, **days)
    db.session.add(category)
    db.session.flush()
    record_audit("category.create", detail={"category_id": category.id, "code": code, "name": name,
                                            "default_agency_id": default_agency_id, "days": days})
    db.session.flush()
    return category


def update_category(category: Category, *, name: str, name_en: str, parent_id: int | None,
                    default_agency_id: int | None, active: bool,
                    days: dict[str, int | None]) -> dict[str, list[Any]]:
    """Change a field's names, place, default agency, policy or activity.
    New deadlines follow the new policy; deadlines already set stay."""
    _check_parent(Category, category.id, parent_id, _l(
        "Không thể chọn lĩnh vực cha là chính lĩnh vực này hoặc một lĩnh vực con của nó."))
    _check_default_agency(default_agency_id, unchanged=default_agency_id == category.default_agency_id)
    _check_days(days)
    changed = _apply(category, {"name": name, "name_en": name_en, "parent_id": parent_id,
                                "default_agency_id": default_agency_id, "active": active, **days})
    if changed:
        record_audit("category.update", detail={"category_id": category.id, "code": category.code,
                                                "changed": changed})
    db.session.flush()
    return changed


# Procedures and legal documents ---------------------------------------------


def _check_procedure(code: str, kind: str, category_id: int | None, own_id: int | None = None) -> None:
    if _code_taken(Procedure, code, own_id):
        raise AdminError(_l("Mã này đã có trong danh mục."), "code")
    if kind not in PROCEDURE_KINDS:
        raise AdminError(_l("Loại không hợp lệ."), "kind")
    if category_id is not None and db.session.get(Category, category_id) is None:
        raise AdminError(_l("Lĩnh vực không tồn tại."), "category_id")


def _check_owner(agency_id: int | None, unchanged: bool = False) -> None:
    if agency_id is None or unchanged:
        return
    agency = db.session.get(Agency, agency_id)
    if agency is None or not agency.active:
        raise AdminError(_l("Vui lòng chọn một cơ quan đang hoạt động."), "agency_id")


def create_procedure(*, code: str, title: str, kind: str = "procedure", category_id: int | None = None,
                     agency_id: int | None = None, legal_document: str = "", url: str = "") -> Procedure:
    """Add a procedure or legal document that cases can point at."""
    _check_procedure(code, kind, category_id)
    _check_owner(agency_id)
    procedure = Procedure(code=code, title=title, kind=kind, category_id=category_id, agency_id=agency_id,
                          legal_document=legal_document, url=url,
                          search_text=fold(f"{code} {title}"), active=True)
    db.session.add(procedure)
    db.session.flush()
    record_audit("procedure.create", detail={"procedure_id": procedure.id, "code": code, "kind": kind})
    db.session.flush()
    return procedure


def update_procedure(procedure: Procedure, *, code: str, title: str, kind: str, category_id: int | None,
                     agency_id: int | None = None, legal_document: str = "", url: str = "") -> dict[str, list[Any]]:
    """Change a catalogue entry (cases pointing at it keep the link)."""
    _check_procedure(code, kind, category_id, own_id=procedure.id)
    _check_owner(agency_id, unchanged=agency_id == procedure.agency_id)
    changed = _apply(procedure, {"code": code, "title": title, "kind": kind, "category_id": category_id,
                                 "agency_id": agency_id, "legal_document": legal_document, "url": url})
    procedure.search_text = fold(f"{procedure.code} {procedure.title}")
    if changed:
        record_audit("procedure.update", detail={"procedure_id": procedure.id, "changed": changed})
    db.session.flush()
    return changed


def set_procedure_active(procedure: Procedure, active: bool) -> None:
    """Hide a procedure from the submission form (or show it again); cases
    that already point at it keep the link."""
    if procedure.active == active:
        raise AdminError(_l("Mục này đang hoạt động.") if active else _l("Mục này đã ngừng sử dụng."))
    procedure.active = active
    record_audit("procedure.reactivate" if active else "procedure.deactivate",
                 detail={"procedure_id": procedure.id, "code": procedure.code})
    db.session.flush()


# Accounts and API tokens -----------------------------------------------------


def _check_role_and_agency(role: str, agency_id: int | None, unchanged_agency: bool = False) -> None:
    if role not in {r.value for r in Role}:
        raise AdminError(_l("Vai trò không hợp lệ."), "role")
    if role in AGENCY_NEEDED_BY and agency_id is None:
        raise AdminError(_l("Cán bộ xử lý và lãnh đạo cơ quan phải thuộc một cơ quan."), "agency_id")
    if agency_id is not None and not unchanged_agency:
        agency = db.session.get(Agency, agency_id)
        if agency is None or not agency.active:
            raise AdminError(_l("Vui lòng chọn một cơ quan đang hoạt động."), "agency_id")


def _check_password(password: str, email: str, field: str) -> None:
    problem = password_problem(password, email)
    if problem is not None:
        raise AdminError(problem, field)


def create_user(*, email: str, full_name: str, role: str, agency_id: int | None, password: str) -> User:
    """Open a staff or citizen account; officers and leads belong to an agency."""
    email = email.strip().lower()
    if db.session.execute(select(User.id).where(func.lower(User.email) == email)).first():
        raise AdminError(_l("Thư điện tử này đã được đăng ký."), "email")
    _check_role_and_agency(role, agency_id)
    _check_password(password, email, "password")
    # The admin knows this password: the holder replaces it at first login.
    user = User(email=email, full_name=full_name, role=role, agency_id=agency_id, email_verified=True,
                must_change_password=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_audit("user.create", detail={"user_id": user.id, "role": role, "agency_id": agency_id})
    db.session.flush()
    return user


def update_user(user: User, actor: User, *, full_name: str, role: str, agency_id: int | None,
                active: bool, password: str | None = None) -> dict[str, list[Any]]:
    """Change an account's name, role, agency or activity, and optionally set
    a new password. An admin cannot lock themself out (deactivate or demote)."""
    if user.id == actor.id and not active:
        raise AdminError(_l("Bạn không thể tự khoá tài khoản của chính mình."), "active")
    if user.id == actor.id and role != Role.admin.value:
        raise AdminError(_l("Bạn không thể tự bỏ vai trò quản trị của chính mình."), "role")
    _check_role_and_agency(role, agency_id, unchanged_agency=agency_id == user.agency_id)
    changed = _apply(user, {"full_name": full_name, "role": role, "agency_id": agency_id, "active": active})
    if password:
        _check_password(password, user.email, "new_password")
        user.set_password(password)
        user.must_change_password = True
        changed["password"] = ["***", "***"]  # that it changed, never the value
    if {"role", "agency_id", "active", "password"} & changed.keys():
        user.end_sessions()  # the holder logs in again, with the new rights or not at all
    if changed:
        record_audit("user.update", detail={"user_id": user.id, "changed": changed})
    if not user.active or not user.is_staff:
        revoke_tokens_of(user, reason="deactivated" if not user.active else "no_longer_staff")
    db.session.flush()
    return changed


def revoke_tokens_of(user: User, *, reason: str) -> int:
    """Revoke every live API token of ``user`` (an account deactivated or no
    longer staff must not keep acting through an integration); each audited."""
    live = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                              ).scalars().all()
    for api_token in live:
        api_token.revoked_at = utcnow()
        record_audit("api_token.revoke", detail={"token_id": api_token.id, "user_id": user.id,
                                                 "name": api_token.name, "reason": reason})
    db.session.flush()
    return len(live)


def create_api_token(user: User, name: str, *, scope: str = "write", agency_id: int | None = None,
                     expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Issue a bearer token acting as ``user``: read-only or read-write,
    optionally limited to one agency's cases and expiring after some days.
    Only its hash is stored; the token itself is returned once, for the
    caller to show and forget."""
    if scope not in TOKEN_SCOPES:
        raise AdminError(_l("Phạm vi khoá không hợp lệ."), "scope")
    if agency_id is not None and db.session.get(Agency, agency_id) is None:
        raise AdminError(_l("Vui lòng chọn một cơ quan đang hoạt động."), "agency_id")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise AdminError(_l("Số ngày hiệu lực phải từ 1 đến %(max)s.", max=MAX_TOKEN_DAYS), "expires_in_days")
    if not user.active:
        raise AdminError(_l("Tài khoản đã bị khoá, không thể cấp khoá API."))
    if not user.is_staff:
        raise AdminError(_l("Chỉ cấp khoá API cho tài khoản cán bộ (hệ thống liên thông dùng quyền của tài khoản đó)."))
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    api_token = ApiToken(user_id=user.id, token_hash=hash_token(token), name=name, scope=scope, agency_id=agency_id,
                         expires_at=expires_at)
    db.session.add(api_token)
    db.session.flush()
    record_audit("api_token.create", detail={"token_id": api_token.id, "user_id": user.id, "name": name,
                                             "scope": scope, "agency_id": agency_id,
                                             "expires_at": expires_at.isoformat() if expires_at else None})
    db.session.flush()
    return api_token, token


def revoke_api_token(api_token: ApiToken) -> None:
    """Stop a token working from now on; the row stays for the record."""
    if api_token.revoked_at is not None:
        raise AdminError(_l("Khoá API này đã bị thu hồi trước đó."))
    api_token.revoked_at = utcnow()
    record_audit("api_token.revoke", detail={"token_id": api_token.id, "user_id": api_token.user_id,
                                             "name": api_token.name})
    db.session.flush()


# Holiday calendar ------------------------------------------------------------


def add_calendar_override(day: date, is_working: bool, name: str, *, dry_run: bool = False,
                          actor: User | None = None) -> CalendarPlan:
    """Record a swap the government announced after the holidays package and
    move the open deadlines counted across that day; ``dry_run`` only says
    which would move."""
    exists = db.session.execute(select(CalendarOverride.id).where(CalendarOverride.day == day)).first()
    if exists:
        raise AdminError(_l("Ngày này đã có điều chỉnh; xoá điều chỉnh cũ trước."), "day")
    if dry_run:
        return plan_calendar_change(day, is_working)
    return apply_calendar_change(day, is_working, name, actor=actor)


def delete_calendar_override(override: CalendarOverride, *, dry_run: bool = False,
                             actor: User | None = None) -> CalendarPlan:
    """Give the day back to the package's calendar, moving back the open
    deadlines the override had moved; ``dry_run`` only says which would move."""
    if dry_run:
        return plan_calendar_change(override.day, None)
    return apply_calendar_change(override.day, None, actor=actor)
