"""What a newcomer hit on a first walk through the system, one test each,
going through the pages as a person does: GET the page, read its form, post it."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import Case

from .helpers import PDF_BYTES
from .pages import page_form


@pytest.fixture
def land(make):
    """The receiving desk, the land department (with an officer and a lead) and its category."""
    desk = make.desk_agency()
    department = make.agency(code="SO-NNMT", name="Sở Nông nghiệp và Môi trường")
    category = make.category(agency=department, name="Đất đai")
    return desk, department, category


def fill_details(client, category) -> dict:
    """Open the form from the triage page and fill step 2 as a person would."""
    assert client.get("/submit").status_code == 200
    details = page_form(client.get("/submit?triage=scope").get_data(as_text=True), "/submit").data()
    details.update({
        "full_name": "Nguyễn Văn An", "address": "12 Lạch Tray, Ngô Quyền, Hải Phòng", "phone": "0912 345 678",
        "email": "an.nguyen@example.vn", "type": "report", "category_id": str(category.id),
        "title": "Thủ tục đất đai kéo dài",
        "content": "Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả.",
        "step": "details",
    })
    return details


def submit_through_the_form(client, category, consent: bool, files=()) -> Case:
    check = client.post("/submit", data=fill_details(client, category))
    assert check.status_code == 200
    form = page_form(check.get_data(as_text=True), "/submit")
    data = form.data()
    assert "publish_consent" not in data  # nothing is ticked for the sender
    if consent:
        data["publish_consent"] = next(i.get("value", "on") for i in form.inputs if i.get("name") == "publish_consent")
    data["step"] = "send"
    if files:
        data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    return db.session.execute(select(Case).order_by(Case.id.desc())).scalars().first()


# 1. Publication consent ---------------------------------------------------------


def test_ticking_consent_on_the_web_form_is_stored_with_the_case(client, land):
    case = submit_through_the_form(client, land[2], consent=True)
    assert case.publish_consent is True


def test_leaving_consent_unticked_stores_no_consent(client, land):
    case = submit_through_the_form(client, land[2], consent=False)
    assert case.publish_consent is False
