"""Citizen intake: triage, the submission form, its checks, the one-time
token, attachments checked by content, and the receipt."""
import io
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from feedback.attachments import sniff
from feedback.extensions import db
from feedback.models import Attachment, Case, CaseEvent, Notification, Procedure, SubmissionKey
from feedback.public import intake
from feedback.submission import normalise_phone
from feedback.text import fold

from .helpers import PDF_BYTES, PNG_BYTES, mailed_private_url, online_form, published_case


@pytest.fixture
def land(make):
    """The receiving desk, the land department and its category."""
    desk = make.desk_agency()
    department = make.agency(code="SO-NNMT", name="Sở Nông nghiệp và Môi trường")
    category = make.category(agency=department, name="Đất đai")
    return desk, department, category


def send(client, data, files=()):
    """Post the whole form at its last step, files as (name, bytes) pairs."""
    payload = {**data, "step": "send"}
    if files:
        payload["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/submit", data=payload, content_type="multipart/form-data")


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def error_for(html: str, field: str) -> str:
    """The error message shown right under ``field``."""
    found = re.search(rf'<p class="error" id="{field}-err">([^<]*)</p>', html)
    return found.group(1) if found else ""


def uploaded_files(app) -> list[Path]:
    return [p for p in Path(app.config["UPLOAD_FOLDER"]).glob("*") if p.is_file()]


@pytest.fixture(autouse=True)
def empty_upload_folder(app):
    for path in uploaded_files(app):
        path.unlink()


# Triage -----------------------------------------------------------------------


def test_the_form_first_asks_whether_it_is_a_complaint_or_denunciation(client):
    page = client.get("/submit").get_data(as_text=True)
    assert "có phải là khiếu nại hoặc tố cáo" in page
    assert 'name="triage" value="scope"' in page and 'name="triage" value="complaint"' in page
    assert 'name="title"' not in page


def test_a_complaint_is_pointed_to_the_right_procedure_and_may_still_continue(client):
    page = client.get("/submit?triage=complaint").get_data(as_text=True)
    assert "Luật Khiếu nại năm 2011" in page and "Luật Tố cáo năm 2018" in page
    assert "Ban Tiếp công dân thành phố" in page
    assert "/submit?triage=scope" in page


def test_feedback_in_scope_opens_the_form(client, land):
    page = client.get("/submit?triage=scope").get_data(as_text=True)
    for name in ("sender_kind", "full_name", "business_name", "tax_code", "phone", "email", "type",
                 "category_id", "procedure_id", "agency_id", "title", "content", "form_token"):
        assert f'name="{name}"' in page
    assert "Đất đai" in page and "Báo cho cơ quan nhà nước biết" in page


# Valid submissions -------------------------------------------------------------


def test_a_valid_individual_submission_creates_one_case_held_by_the_desk(client, land):
    desk, department, category = land
    response = send(client, online_form(category, phone="+84 912.345.678", id_number="031234567890"))
    assert response.status_code == 303 and response.headers["Location"].endswith("/submit/receipt")

    case = db.session.execute(select(Case)).scalar_one()
    assert case.agency_id == desk.id and case.agency.is_desk
    assert case.proposed_agency_id == department.id  # the category's default
    assert case.status == "submitted" and case.sender_kind == "individual"
    assert case.sender_name == "Nguyễn Văn An" and case.sender_phone == "0912345678"
    assert case.sender_id_number == "031234567890" and case.sender_tax_code == ""
    assert re.fullmatch(r"PAKN\.\d{8}\.\d{4}", case.code)
    receipt = db.session.execute(select(Notification).where(Notification.template == "receipt")).scalar_one()
    assert receipt.case_id == case.id and receipt.recipient == "an.nguyen@example.vn"
    assert "/c/" in mailed_private_url(receipt) and "private_url" not in receipt.payload
    assert count(SubmissionKey) == 1


def test_a_valid_business_submission_records_the_business_and_its_chosen_agency(client, make, land):
    desk, department, category = land
    chosen = make.agency(code="SO-TC", name="Sở Tài chính")
    data = online_form(category, sender_kind="business", full_name="", business_name="Công ty TNHH Cảng Xanh",
                       tax_code="0201234567-001", representative="Trần Thị Bình", agency_id=str(chosen.id),
                       type="recommendation", email="lienhe@cangxanh.vn", phone="0225 3842 123")
    assert send(client, data).status_code == 303

    case = db.session.execute(select(Case)).scalar_one()
    assert case.agency_id == desk.id
    assert case.proposed_agency_id == chosen.id  # the sender's pick wins over the default
    assert (case.sender_kind, case.type) == ("business", "recommendation")
    assert case.sender_name == "Công ty TNHH Cảng Xanh" and case.sender_tax_code == "0201234567-001"
    assert case.sender_representative == "Trần Thị Bình" and case.sender_phone == "02253842123"
    assert count(Notification) == 1


def test_the_receipt_shows_the_code_and_the_private_link_only_once(client, land):
    send(client, online_form(land[2]))
    case = db.session.execute(select(Case)).scalar_one()

    first = client.get("/submit/receipt")
    page = first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "no-store"
    assert case.code in page
    link = re.search(r'id="private-link">(http[^<]+)</a>', page).group(1)
    assert client.get(link.replace("http://localhost", "")).status_code == 200

    again = client.get("/submit/receipt").get_data(as_text=True)
    assert case.code in again and link not in again and "/c/" not in again


def test_the_receipt_is_not_reachable_without_having_submitted(client, land):
    assert client.get("/submit/receipt").status_code == 404


def test_text_is_kept_as_typed_and_escaped_on_output(client, land):
    title = "Thủ tục “đất đai” <script>alert(1)</script> & phí"
    send(client, online_form(land[2], title=title))
    case = db.session.execute(select(Case)).scalar_one()
    assert case.title == title
    page = client.get("/submit/receipt").get_data(as_text=True)
    link = re.search(r'id="private-link">http://localhost([^<]+)</a>', page).group(1)
    private = client.get(link).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in private and "<script>alert(1)" not in private


def test_a_signed_in_citizen_finds_the_case_on_their_account(client, make, auth, land):
    citizen = make.user(role="citizen", full_name="Đỗ Thị Công Dân", email="dan@example.vn")
    auth.login(citizen)
    form = client.get("/submit?triage=scope").get_data(as_text=True)
    assert 'value="Đỗ Thị Công Dân"' in form and 'value="dan@example.vn"' in form
    send(client, online_form(land[2], full_name="Đỗ Thị Công Dân", email="dan@example.vn"))
    assert db.session.execute(select(Case.citizen_id)).scalar_one() == citizen.id


# Invalid input ------------------------------------------------------------------

INVALID = [
    ("phone", {"phone": "12345"}, "Số điện thoại không hợp lệ"),
    ("phone", {"phone": "0123 456 789"}, "Số điện thoại không hợp lệ"),
    ("email", {"email": ""}, "Vui lòng nhập thư điện tử"),
    ("email", {"email": "an.nguyen@"}, "Địa chỉ thư điện tử không hợp lệ"),
    ("tax_code", {"sender_kind": "business", "business_name": "Công ty A", "representative": "B",
                  "tax_code": "02012345"}, "Mã số thuế gồm 10 chữ số"),
    ("id_number", {"id_number": "03123456"}, "gồm đúng 12 chữ số"),
    ("full_name", {"full_name": "  "}, "Vui lòng nhập họ và tên"),
    ("title", {"title": ""}, "Vui lòng nhập tiêu đề"),
    ("title", {"title": "Đ" * 256}, "Tiêu đề tối đa 255 ký tự"),
    ("content", {"content": "Quá ngắn."}, "Nội dung cần từ 20 đến 10000 ký tự"),
    ("content", {"content": "x" * 10001}, "Nội dung cần từ 20 đến 10000 ký tự"),
    ("category_id", {"category_id": ""}, "Vui lòng chọn lĩnh vực"),
    ("type", {"type": ""}, "Vui lòng chọn gửi phản ánh hay kiến nghị"),
]


@pytest.mark.parametrize("field, change, message", INVALID, ids=[f"{f}-{i}" for i, (f, *_r) in enumerate(INVALID)])
def test_each_invalid_field_gets_its_own_message_and_creates_nothing(client, land, field, change, message):
    response = send(client, online_form(land[2], **change))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in error_for(html, field)
    assert 'class="error-summary"' in html
    assert count(Case) == 0 and count(Notification) == 0 and count(SubmissionKey) == 0


def test_business_fields_are_not_required_from_an_individual_and_vice_versa(client, land):
    response = send(client, online_form(land[2], tax_code="nonsense", representative=""))
    assert response.status_code == 303
    case = db.session.execute(select(Case)).scalar_one()
    assert case.sender_tax_code == "" and case.sender_representative == ""


@pytest.mark.parametrize("typed, stored", [
    ("0912345678", "0912345678"), ("0912 345 678", "0912345678"), ("+84 912.345.678", "0912345678"),
    ("0084912345678", "0912345678"), ("0225 3842 123", "02253842123"), ("024 3825 1234", "02438251234"),
    ("0353-123-456", "0353123456"),
])
def test_vietnamese_phone_numbers_are_accepted_in_their_usual_shapes(typed, stored):
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize(
    "typed", ["12345", "0123456789", "091234567", "09123456789", "+1 202 555 0100", "số điện thoại"]
)
def test_what_is_not_a_vietnamese_phone_number_is_refused(typed):
    assert normalise_phone(typed) is None


# Attachments -------------------------------------------------------------------


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    buffer = io.BytesIO()
    Workbook().save(buffer)
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("readme.txt", "hello")
    return buffer.getvalue()


def test_files_are_recognised_by_their_content():
    assert sniff(PDF_BYTES) == "pdf" and sniff(PNG_BYTES) == "png"
    assert sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32) == "jpeg"
    assert sniff(docx_bytes()) == "docx" and sniff(xlsx_bytes()) == "xlsx"
    assert sniff(plain_zip()) is None and sniff(b"") is None


@pytest.mark.parametrize("content", [
    b"<html><body><script>alert(1)</script></body></html>",
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64,
    b"\x7fELF\x02\x01\x01" + b"\x00" * 64,
], ids=["html", "windows-executable", "linux-executable"])
def test_a_file_named_pdf_that_is_something_else_is_refused(client, app, land, content):
    response = send(client, online_form(land[2]), files=[("ho-so.pdf", content)])
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Tệp «ho-so.pdf» không phải là PDF, JPEG, PNG, DOCX hoặc XLSX" in error_for(html, "attachments")
    assert count(Case) == 0 and count(Attachment) == 0
    assert uploaded_files(app) == []


def test_accepted_files_are_stored_outside_static_under_random_names(client, app, land):
    files = [("Biên bản.pdf", PDF_BYTES), ("ảnh chụp.pdf", PNG_BYTES), ("bảng kê.xlsx", xlsx_bytes())]
    assert send(client, online_form(land[2]), files=files).status_code == 303

    rows = db.session.execute(select(Attachment).order_by(Attachment.id)).scalars().all()
    assert [(a.filename, a.content_type) for a in rows] == [
        ("Biên bản.pdf", "application/pdf"),
        ("ảnh chụp.png", "image/png"),  # named by what it really is
        ("bảng kê.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ]
    received = db.session.execute(select(CaseEvent.id).where(CaseEvent.action == "submitted")).scalar_one()
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{32}", row.stored_name)
        assert row.from_citizen and row.event_id == received
        stored = Path(app.config["UPLOAD_FOLDER"]) / row.stored_name
        assert stored.is_file() and stored.stat().st_size == row.size
        assert "static" not in stored.parts


def test_more_than_five_files_are_refused(client, land):
    response = send(client, online_form(land[2]), files=[(f"{i}.pdf", PDF_BYTES) for i in range(6)])
    assert "tối đa 5 tệp" in error_for(response.get_data(as_text=True), "attachments")
    assert count(Case) == 0


def test_a_file_over_the_size_limit_is_refused(client, app, land, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_ATTACHMENT_BYTES", 1024 * 1024)
    big = PDF_BYTES + b"0" * (1024 * 1024)
    response = send(client, online_form(land[2]), files=[("to.pdf", big)])
    assert "Tệp «to.pdf» lớn hơn 1 MB" in error_for(response.get_data(as_text=True), "attachments")
    assert count(Case) == 0


# One case per form -----------------------------------------------------------------


def test_a_resubmitted_form_creates_nothing_new(client, land):
    data = online_form(land[2])
    first = send(client, data, files=[("a.pdf", PDF_BYTES)])
    again = send(client, data, files=[("a.pdf", PDF_BYTES)])
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert count(Case) == 1 and count(Notification) == 1 and count(Attachment) == 1
    code = db.session.execute(select(Case.code)).scalar_one()
    assert code in client.get("/submit/receipt").get_data(as_text=True)


def test_a_resubmit_from_another_browser_tab_lands_on_the_same_receipt(app, land):
    data = online_form(land[2])
    send(app.test_client(), data)
    other = app.test_client()
    assert send(other, data).status_code == 303
    page = other.get("/submit/receipt").get_data(as_text=True)
    assert db.session.execute(select(Case.code)).scalar_one() in page
    assert "/c/" not in page  # the link is never shown to the second request
    assert count(Case) == 1


def test_two_requests_racing_with_one_token_make_one_case_and_leave_no_files(client, app, land, monkeypatch):
    data = online_form(land[2])
    send(client, data)
    # The second request checked the token before the first one committed.
    monkeypatch.setattr(intake, "_case_for_key", lambda key, real=intake._case_for_key: (
        monkeypatch.setattr(intake, "_case_for_key", real) or None))
    response = send(client, data, files=[("b.pdf", PDF_BYTES)])
    assert response.status_code == 303 and response.headers["Location"].endswith("/submit/receipt")
    assert count(Case) == 1 and count(Attachment) == 0
    assert uploaded_files(app) == []


# The steps ---------------------------------------------------------------------------


def test_the_check_step_carries_the_answers_and_the_sender_can_go_back(client, land):
    data = online_form(land[2], title="Giấy phép xây dựng chậm")
    check = client.post("/submit", data={**data, "step": "details"})
    page = check.get_data(as_text=True)
    assert check.status_code == 200
    assert 'type="file"' in page and 'name="publish_consent"' in page
    assert '<input type="hidden" name="title" value="Giấy phép xây dựng chậm">' in page
    assert count(Case) == 0

    back = client.post("/submit", data={**data, "step": "edit"}).get_data(as_text=True)
    assert 'name="title"' in back and 'value="Giấy phép xây dựng chậm"' in back
    assert 'class="error"' not in back


def test_details_with_mistakes_stay_on_the_form_with_messages(client, land):
    response = client.post("/submit", data={**online_form(land[2], phone="abc"), "step": "details"})
    assert response.status_code == 422
    assert "Số điện thoại không hợp lệ" in error_for(response.get_data(as_text=True), "phone")


def test_similar_published_cases_are_suggested_before_sending(client, make, land):
    department, category = land[1], land[2]
    similar = published_case(make, "Thủ tục đất đai kéo dài quá hạn", agency=department, category=category)
    published_case(make, "Học phí mầm non", agency=department, category=category)
    data = online_form(category, title="thu tuc dat dai qua cham",
                       content="Tôi nộp hồ sơ thủ tục đất đai đã lâu chưa có kết quả.")
    page = client.post("/submit", data={**data, "step": "details"}).get_data(as_text=True)
    assert "Có thể vấn đề của bạn đã được trả lời" in page
    assert "Thủ tục đất đai kéo dài quá hạn" in page and f"/published/{similar.code}" in page
    assert "Học phí mầm non" not in page


def test_no_suggestions_block_when_nothing_similar_was_published(client, land):
    page = client.post("/submit", data={**online_form(land[2]), "step": "details"}).get_data(as_text=True)
    assert "Có thể vấn đề của bạn đã được trả lời" not in page


# The procedure picker ------------------------------------------------------------------


def test_the_procedure_search_ignores_diacritics_and_inactive_entries(client, land):
    title = "Cấp giấy phép xây dựng nhà ở riêng lẻ"
    db.session.add_all([
        Procedure(code="XD-01", title=title, search_text=fold(f"XD-01 {title}")),
        Procedure(code="XD-OLD", title="Giấy phép xây dựng (cũ)", active=False,
                  search_text=fold("XD-OLD Giấy phép xây dựng (cũ)")),
    ])
    db.session.commit()
    results = client.get("/procedures/search?q=giay phep XAY dung").get_json()["results"]
    assert [r["title"] for r in results] == [title]
    assert client.get("/procedures/search?q=khai sinh").get_json()["results"] == []


def test_a_chosen_procedure_is_recorded_on_the_case(client, land):
    procedure = Procedure(code="DD-01", title="Đăng ký biến động đất đai", category_id=land[2].id,
                          search_text=fold("DD-01 Đăng ký biến động đất đai"))
    db.session.add(procedure)
    db.session.commit()
    assert "Đăng ký biến động đất đai" in client.get("/submit?triage=scope").get_data(as_text=True)
    send(client, online_form(land[2], procedure_id=str(procedure.id)))
    assert db.session.execute(select(Case.procedure_id)).scalar_one() == procedure.id
