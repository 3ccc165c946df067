"""Factories: ``make.agency()``, ``make.user(role=...)``, ``make.case(...)``."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

from feedback.extensions import db
from feedback.models import Agency, Case, Category, Role, User

_seq = itertools.count(1)


class Factory:
    PASSWORD = "correct-horse-battery"

    def desk_agency(self) -> Agency:
        from sqlalchemy import select

        desk = db.session.execute(select(Agency).where(Agency.is_desk.is_(True))).scalars().first()
        return desk or self.agency(code="VP-UBND", name="Văn phòng UBND thành phố", is_desk=True, kind="city_office")

    def agency(self, code: str | None = None, **kw) -> Agency:
        n = next(_seq)
        agency = Agency(code=code or f"AG{n}", name=kw.pop("name", f"Cơ quan {n}"), **kw)
        db.session.add(agency)
        db.session.commit()
        return agency

    def user(self, role: Role | str = Role.officer, agency: Agency | None = None, **kw) -> User:
        n = next(_seq)
        role = Role(role)
        if agency is None and role in (Role.officer, Role.lead):
            agency = self.agency()
        if agency is None and role in (Role.desk, Role.supervisor):
            agency = self.desk_agency()
        user = User(email=kw.pop("email", f"user{n}@example.vn"), role=role.value,
                    agency_id=agency.id if agency else None,
                    full_name=kw.pop("full_name", f"Người dùng {n}"), **kw)
        user.set_password(self.PASSWORD)
        db.session.add(user)
        db.session.commit()
        return user

    def category(self, agency: Agency | None = None, **kw) -> Category:
        n = next(_seq)
        category = Category(code=kw.pop("code", f"CAT{n}"), name=kw.pop("name", f"Lĩnh vực {n}"),
                            default_agency_id=(agency or self.agency()).id, **kw)
        db.session.add(category)
        db.session.commit()
        return category

    def case(self, agency: Agency | None = None, status: str = "submitted", **kw) -> Case:
        """A case row in a given state, for tests that are not about intake."""
        n = next(_seq)
        category = kw.pop("category", None) or self.category(agency=agency)
        case = Case(
            code=kw.pop("code", f"PAKN.20260105.{n:04d}"),
            sender_name=kw.pop("sender_name", "Nguyễn Văn An"),
            sender_address=kw.pop("sender_address", "12 Lạch Tray, Ngô Quyền, Hải Phòng"),
            sender_phone=kw.pop("sender_phone", "0912345678"),
            sender_email=kw.pop("sender_email", "an.nguyen@example.vn"),
            title=kw.pop("title", "Thủ tục cấp giấy phép xây dựng kéo dài"),
            content=kw.pop("content", "Hồ sơ nộp đã 30 ngày chưa có kết quả."),
            category_id=category.id,
            agency_id=(agency or self.desk_agency()).id,
            status=status,
            received_at=kw.pop("received_at", datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc)),
            **kw,
        )
        db.session.add(case)
        db.session.commit()
        return case
