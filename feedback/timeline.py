"""A case's story and its running deadline in plain language, as the sender
sees them on the public pages and through the API.

The timeline lists the public events only; notes (which may hold personal
data) are given only to the holder of the private link.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .deadlines import load_calendar
from .extensions import db
from .models import Agency, Case, Status, localized, utcnow

EVENT_LABELS = {
    "submitted": _l("Đã tiếp nhận phản ánh, kiến nghị"),
    "assigned": _l("Đã chuyển đến %(agency)s để xử lý"),
    "accepted": _l("Cơ quan xử lý đã nhận hồ sơ và đang giải quyết"),
    "transferred": _l("Đã chuyển đến cơ quan có thẩm quyền: %(agency)s"),
    "info_requested": _l("Cơ quan xử lý đề nghị người gửi bổ sung thông tin"),
    "info_provided": _l("Người gửi đã bổ sung thông tin"),
    "answered": _l("Đã có câu trả lời"),
    "extension_approved": _l("Thời hạn trả lời được gia hạn thêm %(days)s ngày làm việc"),
    "rejected": _l("Không tiếp nhận xử lý"),
    "merged": _l("Đã gộp với phản ánh %(into)s"),
    "withdrawn": _l("Người gửi đã rút phản ánh"),
    "closed": _l("Đã kết thúc"),
    "closed_incomplete": _l("Đã kết thúc vì không nhận được thông tin bổ sung đúng hạn"),
    "review_requested": _l("Người gửi đề nghị xem xét lại câu trả lời"),
    "review_upheld": _l("Giữ nguyên câu trả lời sau khi xem xét lại"),
    "reopened": _l("Mở lại để tiếp tục xử lý"),
    "published": _l("Câu trả lời đã được công khai"),
    "deadline_moved": _l("Thời hạn được điều chỉnh theo lịch làm việc mới"),
}
# Events whose note the sender may read on the private page; the answer's
# own note is the answer, shown in its own section.
NOTES_FOR_SENDER = {"info_requested", "info_provided", "rejected", "transferred", "extension_approved",
                    "withdrawn", "review_requested", "review_upheld", "reopened", "closed", "deadline_moved"}


@dataclass
class TimelineEntry:
    at: datetime
    label: str
    note: str = ""


def public_timeline(case: Case, with_notes: bool = False) -> list[TimelineEntry]:
    """The case's public events, oldest first, in plain language. Notes (which
    may hold personal data) only for the private page."""
    events = [e for e in case.events if e.public]
    codes = {e.data.get("agency") or e.data.get("to") for e in events if e.data} - {None}
    names = {code: localized(name, name_en) for code, name, name_en in db.session.execute(
        select(Agency.code, Agency.name, Agency.name_en).where(Agency.code.in_(codes)))} if codes else {}
    entries = []
    for event in events:
        data = event.data or {}
        template = EVENT_LABELS.get(event.action)
        if template is None:
            label = _("Cập nhật hồ sơ")
        else:
            agency = names.get(data.get("agency") or data.get("to"), _("cơ quan có thẩm quyền"))
            label = str(template) % {"agency": agency, "days": data.get("days", ""), "into": data.get("into", "")}
        note = event.note if with_notes and event.action in NOTES_FOR_SENDER else ""
        entries.append(TimelineEntry(event.at, label, note))
    return entries


DEADLINES = {
    Status.submitted: ("classify_due", _l("Hạn phân loại, chuyển cơ quan xử lý")),
    Status.assigned: ("answer_due", _l("Hạn trả lời")),
    Status.in_progress: ("answer_due", _l("Hạn trả lời")),
    Status.awaiting_approval: ("answer_due", _l("Hạn trả lời")),
    Status.needs_info: ("info_due", _l("Hạn bổ sung thông tin")),
    Status.review_requested: ("review_due", _l("Hạn xem xét lại")),
}


@dataclass
class Countdown:
    label: str
    due: datetime
    days: int  # working days left: 0 on the due day, negative once overdue

    @property
    def text(self) -> str:
        if self.days > 0:
            return _("còn %(n)s ngày làm việc", n=self.days)
        if self.days == 0:
            return _("hết hạn trong hôm nay")
        return _("đã quá hạn %(n)s ngày làm việc", n=-self.days)

    @property
    def tone(self) -> str:
        return "overdue" if self.days < 0 else "due-soon" if self.days <= 2 else "ok"


def current_deadline(case: Case, now: datetime | None = None) -> Countdown | None:
    """The deadline running now, with its countdown in working days."""
    attribute, label = DEADLINES.get(case.status_enum, (None, None))
    due = getattr(case, attribute) if attribute else None
    if due is None:
        return None
    return Countdown(str(label), due, load_calendar().working_days_until(now or utcnow(), due))
