"""Factories: ``make.agency()``, ``make.user(role=...)``, ``make.case(...)``."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

from feedback.extensions import db
from feedback.models import Agency, Case, Category, Role, User

# The consent box's wording in Vietnamese, as a sender is shown it.
CONSENT_TEXT = ("Tôi đồng ý để nội dung phản ánh, sau khi đã xoá thông tin cá nhân, "
                "được công khai cùng câu trả lời trên cổng thông tin của thành phố.")

_seq = itertools.count(1)

# The instant the dashboard tests freeze "now" at (the ``frozen_now`` fixture).
FROZEN_NOW = datetime(2026, 3, 20, 3, 0, tzinfo=UTC)  # Friday 10:00 local


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
        if kw.get("publish_consent"):  # consent comes with its record, as intake stores it
            kw.setdefault("publish_consent_at", datetime(2026, 1, 5, 3, 0, tzinfo=UTC))
            kw.setdefault("publish_consent_text", CONSENT_TEXT)
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
            received_at=kw.pop("received_at", datetime(2026, 1, 5, 3, 0, tzinfo=UTC)),
            **kw,
        )
        db.session.add(case)
        db.session.commit()
        return case


# Public intake: files that really are what they say, a valid online form,
# a case submitted through the workflow, a published case. -----------------

PDF_BYTES = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                          "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def online_form(category: Category, **overrides) -> dict:
    """What an individual types into the submission form, valid as given."""
    data = {
        "form_token": f"tok-{next(_seq):04d}-" + "x" * 32,
        "sender_kind": "individual", "full_name": "Nguyễn Văn An", "id_number": "",
        "address": "12 Lạch Tray, phường Ngô Quyền, Hải Phòng", "phone": "0912 345 678",
        "email": "an.nguyen@example.vn", "type": "report", "category_id": str(category.id),
        "procedure_id": "", "agency_id": "", "title": "Thủ tục đất đai kéo dài",
        "content": "Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả.",
    }
    data.update(overrides)
    return data


def submit(category: Category, at: datetime | None = None, **kw) -> tuple[Case, str]:
    """A case an individual submits in ``category`` through the workflow (at
    ``at``, now by default), committed: returns (case, private-link token).
    Keyword arguments override the ``Submission`` fields."""
    from feedback.workflow import Submission, submit_case

    values = dict(type="report", sender_kind="individual", sender_name="Nguyễn Văn An",
                  sender_address="12 Lạch Tray, Hải Phòng", sender_phone="0912345678",
                  sender_email="an@example.vn", title="Đăng ký khai sinh chậm",
                  content="Hồ sơ khai sinh nộp đã lâu chưa có kết quả.", category_id=category.id)
    values.update(kw)
    if values.get("publish_consent"):
        values.setdefault("publish_consent_text", CONSENT_TEXT)
    case, token = submit_case(Submission(**values), now=at)
    db.session.commit()
    return case, token


def submitted_case(make: Factory, category: Category | None = None, **kw):
    """A land case submitted online, creating the desk and a category if needed: (case, token)."""
    make.desk_agency()
    values = dict(sender_address="12 Lạch Tray, Ngô Quyền", sender_email="an.nguyen@example.vn",
                  title="Thủ tục đất đai kéo dài",
                  content="Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả.")
    values.update(kw)
    return submit(category or make.category(), **values)


def published_case(make: Factory, title: str, content: str = "Nội dung đã ẩn thông tin cá nhân.",
                   answer: str = "Cơ quan đã hướng dẫn thực hiện theo quy định.", **kw) -> Case:
    """An answered case already published, as the desk leaves it: the public
    answer is the one the publish form suggests (``public_answer`` overrides)."""
    from feedback.redaction import redact
    from feedback.text import fold

    published_at = kw.pop("published_at", datetime(2026, 2, 2, 3, 0, tzinfo=UTC))
    public_answer = kw.pop("public_answer", None)
    case = make.case(status="responded", published=True, publish_consent=True, public_title=title,
                     public_content=content, answer=answer, outcome="explained",
                     answered_at=published_at, published_at=published_at,
                     search_text=fold(f"{title} {content} {answer}"), **kw)
    case.public_answer = redact(answer, case) if public_answer is None else public_answer
    db.session.commit()
    return case


def local(y, m, d, h=9, mi=0) -> datetime:
    """An instant in Hải Phòng time (deadlines and office hours are local)."""
    from feedback.deadlines import OFFICE_TZ

    return datetime(y, m, d, h, mi, tzinfo=OFFICE_TZ)


def mailed_private_url(notification) -> str:
    """The private link as the citizen's mail carries it: the outbox row keeps
    it sealed until delivery and drops it then, so it is read from the mail
    delivered (test mailbox), or rendered from the row not yet delivered."""
    import re

    from feedback.mail import memory_mailbox, render_mail

    sent = [mail for mail in memory_mailbox() if mail.notification_id == notification.id]
    text = sent[-1].text if sent else render_mail(notification).text
    match = re.search(r"https?://\S+/c/[\w-]+", text)
    assert match, "the mail carries no private link"
    return match.group(0)
