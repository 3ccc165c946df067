"""The GeoReport v2 objects: discovery, services, service definitions and
service requests.

A service request shows what the public lookup shows, never personal data:
no sender, no address, and no text of the case unless the desk published its
anonymised version.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import force_locale

from ..labels import STATUS, iso, localdatetime
from ..models import OPEN_STATUSES, Case, CaseType, Category, SenderKind, Status
from ..redaction import mask_email

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-03-01T00:00:00+07:00"  # when the service list's shape last changed
OPEN = "open"
CLOSED = "closed"
# Open311 has two statuses: a case is open while someone still owes an answer.
OPEN311_STATUS = {status.value: (OPEN if status in OPEN_STATUSES else CLOSED) for status in Status}


def open311_status(case: Case) -> str:
    return OPEN311_STATUS[case.status]


def statuses_for(open311: str) -> list[str]:
    """Our statuses that Open311's ``open`` or ``closed`` stands for."""
    return sorted(status for status, mapped in OPEN311_STATUS.items() if mapped == open311)


def root_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/") + "/open311/v2"


def discovery() -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": "Văn phòng Ủy ban nhân dân thành phố Hải Phòng (bộ phận tiếp nhận phản ánh, kiến nghị)",
        "key_service": "API keys are issued by the system administrators; ask the city office.",
        "endpoints": [{
            "specification": SPECIFICATION, "url": root_url(), "changeset": CHANGESET, "type": "production",
            "formats": ["application/json", "text/xml"],
        }],
    }


def service(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.name_en or category.name,
        "metadata": True,
        "type": "blackbox",
        "keywords": "",
        "group": category.parent.name if category.parent else "",
    }


def _attribute(order: int, code: str, description: str, datatype: str = "string",
               values: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    return {
        "variable": True, "code": code, "datatype": datatype, "required": False,
        "datatype_description": "", "order": order, "description": description,
        "values": [{"key": key, "name": name} for key, name in values or []],
    }


def service_definition(category: Category) -> dict[str, Any]:
    """The extra fields a request may carry, all optional (``attribute[code]``)."""
    return {
        "service_code": category.code,
        "attributes": [
            _attribute(1, "type", "Phản ánh (report) hay kiến nghị (recommendation); mặc định: report.",
                       "singlevaluelist", [(CaseType.report.value, "Phản ánh"),
                                           (CaseType.recommendation.value, "Kiến nghị")]),
            _attribute(2, "sender_kind", "Người gửi là cá nhân (individual) hay doanh nghiệp, tổ chức (business); "
                                         "mặc định: individual.", "singlevaluelist",
                       [(SenderKind.individual.value, "Cá nhân"),
                        (SenderKind.business.value, "Doanh nghiệp, tổ chức")]),
            _attribute(3, "title", "Tiêu đề; mặc định: dòng đầu của nội dung."),
            _attribute(4, "business_name", "Doanh nghiệp: tên doanh nghiệp, tổ chức (bắt buộc); "
                                           "first_name và last_name là người đại diện."),
            _attribute(5, "tax_code", "Doanh nghiệp: mã số thuế (bắt buộc)."),
            _attribute(6, "id_number", "Cá nhân: số định danh cá nhân, 12 chữ số (không bắt buộc)."),
            _attribute(7, "procedure", "Mã thủ tục hành chính hoặc văn bản liên quan (không bắt buộc)."),
            _attribute(8, "publish_consent", "Đồng ý công khai nội dung đã ẩn thông tin cá nhân cùng câu trả lời.",
                       "singlevaluelist", [("true", "Đồng ý"), ("false", "Không đồng ý")]),
        ],
    }


def service_request(case: Case) -> dict[str, Any]:
    with force_locale("vi"):
        notes = str(STATUS.get(case.status, case.status))
    if case.merged_into is not None:
        notes = f"{notes}: {case.merged_into.code}"
    return {
        "service_request_id": case.code,
        "status": open311_status(case),
        "status_notes": notes,
        "service_name": case.category.name,
        "service_code": case.category.code,
        "description": case.public_content if case.published else "",
        "agency_responsible": case.agency.name,
        "service_notice": "",
        "requested_datetime": iso(case.received_at),
        "updated_datetime": iso(case.updated_at),
        "expected_datetime": iso(case.answer_due),  # empty until assigned
        "address": "",
        "address_id": "",
        "zipcode": "",
        "lat": None,
        "long": None,
        "media_url": "",
    }


def receipt_notice(case: Case) -> str:
    """The ``service_notice`` of a new request: its code, the classify
    deadline, and where the private link went (masked)."""
    return (f"Đã tiếp nhận phản ánh, kiến nghị {case.code}; hạn phân loại, chuyển cơ quan xử lý: "
            f"{localdatetime(case.classify_due)}. Đường dẫn theo dõi riêng đã được gửi tới "
            f"{mask_email(case.sender_email)}.")
