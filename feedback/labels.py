"""User-facing names for the domain's codes (docs/design.md §10, glossary), translatable."""
from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import lazy_gettext as _l

from .deadlines import OFFICE_TZ

STATUS = {
    "submitted": _l("Mới tiếp nhận"),
    "assigned": _l("Đã chuyển cơ quan xử lý"),
    "in_progress": _l("Đang xử lý"),
    "needs_info": _l("Chờ bổ sung thông tin"),
    "awaiting_approval": _l("Chờ lãnh đạo phê duyệt"),
    "responded": _l("Đã trả lời"),
    "review_requested": _l("Đề nghị xem xét lại"),
    "closed": _l("Đã kết thúc"),
    "rejected": _l("Không tiếp nhận"),
    "merged": _l("Đã gộp với phản ánh khác"),
    "withdrawn": _l("Đã rút"),
}
OUTCOME = {
    "explained": _l("Giải thích, hướng dẫn"),
    "amend_rule": _l("Sửa đổi, bãi bỏ quy định"),
    "recommendation_forwarded": _l("Kiến nghị cơ quan có thẩm quyền"),
    "not_accepted": _l("Không chấp nhận"),
}
CASE_TYPE = {"report": _l("Phản ánh"), "recommendation": _l("Kiến nghị")}
SENDER_KIND = {"individual": _l("Cá nhân"), "business": _l("Doanh nghiệp, tổ chức")}
ROLE = {
    "citizen": _l("Người dân"),
    "desk": _l("Bộ phận tiếp nhận"),
    "officer": _l("Cán bộ xử lý"),
    "lead": _l("Lãnh đạo cơ quan"),
    "supervisor": _l("Cán bộ giám sát"),
    "admin": _l("Quản trị hệ thống"),
}
CHANNEL = {
    "online": _l("Trực tuyến"),
    "letter": _l("Thư, văn bản"),
    "phone": _l("Điện thoại"),
    "email": _l("Thư điện tử"),
    "hotline": _l("Đường dây nóng"),
    "in_person": _l("Trực tiếp"),
    "api": _l("Hệ thống liên thông"),
    "open311": _l("Open311"),
}
CLASSIFICATION = {
    "rejected": _l("Không đủ điều kiện tiếp nhận"),
    "official_conduct": _l("Về hành vi của cán bộ, công chức"),
    "within_competence": _l("Thuộc thẩm quyền"),
    "outside_competence": _l("Không thuộc thẩm quyền, chuyển cơ quan có thẩm quyền"),
}
EVENT = {
    "submitted": _l("Tiếp nhận phản ánh"),
    "assigned": _l("Chuyển cơ quan xử lý"),
    "rejected": _l("Không tiếp nhận"),
    "merged": _l("Gộp với phản ánh khác"),
    "returned_to_desk": _l("Trả lại bộ phận tiếp nhận"),
    "accepted": _l("Cơ quan nhận xử lý"),
    "officer_assigned": _l("Giao cán bộ xử lý"),
    "transferred": _l("Chuyển cơ quan có thẩm quyền"),
    "info_requested": _l("Đề nghị bổ sung thông tin"),
    "info_provided": _l("Người dân bổ sung thông tin"),
    "closed_incomplete": _l("Kết thúc do không bổ sung thông tin"),
    "answer_drafted": _l("Dự thảo trả lời chờ phê duyệt"),
    "answer_sent_back": _l("Lãnh đạo trả lại dự thảo"),
    "answered": _l("Trả lời người dân"),
    "extension_requested": _l("Đề nghị gia hạn"),
    "extension_approved": _l("Gia hạn xử lý"),
    "extension_denied": _l("Không đồng ý gia hạn"),
    "published": _l("Công khai kết quả"),
    "closed": _l("Kết thúc"),
    "withdrawn": _l("Người dân rút phản ánh"),
    "review_requested": _l("Đề nghị xem xét lại"),
    "review_upheld": _l("Giữ nguyên câu trả lời"),
    "reopened": _l("Mở lại để xử lý tiếp"),
    "rated": _l("Người dân đánh giá"),
    "note": _l("Ghi chú nội bộ"),
    "deadline_moved": _l("Điều chỉnh thời hạn theo lịch làm việc"),
}
RESOLVED = {"yes": _l("Đã được giải quyết"), "partly": _l("Giải quyết một phần"), "no": _l("Chưa được giải quyết")}
RATING_LEVEL = {
    1: _l("Rất không hài lòng"),
    2: _l("Không hài lòng"),
    3: _l("Bình thường"),
    4: _l("Hài lòng"),
    5: _l("Rất hài lòng"),
}


def local(value: datetime | None) -> datetime | None:
    return value.astimezone(OFFICE_TZ) if value else None


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in the city's time zone, with its offset (``2026-03-02T08:00:00+07:00``)."""
    return value.astimezone(OFFICE_TZ).isoformat(timespec="seconds") if value else None


def localdatetime(value: datetime | None) -> str:
    return local(value).strftime("%d/%m/%Y %H:%M") if value else "—"


def localdate(value: datetime | None) -> str:
    return local(value).strftime("%d/%m/%Y") if value else "—"


def filesize(size: int | None) -> str:
    """One way to write a file's size for citizens and staff alike: whole
    kilobytes rounded up below a megabyte, megabytes with one decimal above."""
    from flask_babel import format_decimal

    size = size or 0
    if size < 1024 * 1024:
        return f"{max(1, -(-size // 1024))} KB"
    return f"{format_decimal(round(size / (1024 * 1024), 1), format='#,##0.0')} MB"


def counts_from_next_working_day(value: datetime | None) -> bool:
    """Whether something received at ``value`` (after office hours, on a day
    off) has its deadlines counted from the next working day."""
    if not value:
        return False
    from .deadlines import load_calendar

    return load_calendar().effective_date(value) != local(value).date()


def register_labels(app: Flask) -> None:
    app.jinja_env.filters["localdatetime"] = localdatetime
    app.jinja_env.filters["localdate"] = localdate
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.tests["counted_from_next_working_day"] = counts_from_next_working_day

    @app.context_processor
    def label_helpers() -> dict:
        return {
            "status_label": lambda code: STATUS.get(code, code),
            "outcome_label": lambda code: OUTCOME.get(code, code or "—"),
            "type_label": lambda code: CASE_TYPE.get(code, code),
            "sender_kind_label": lambda code: SENDER_KIND.get(code, code),
            "role_label": lambda code: ROLE.get(code, code),
            "channel_label": lambda code: CHANNEL.get(code, code),
            "classification_label": lambda code: CLASSIFICATION.get(code, code or "—"),
            "rating_label": lambda level: RATING_LEVEL.get(level, level),
            "resolved_label": lambda code: RESOLVED.get(code, code),
            "event_label": lambda code: EVENT.get(code, code),
        }
