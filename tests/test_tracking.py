"""Following a case: lookup by code, the private link and its actions, a new
link by e-mail, attachments as downloads, published answers, rate limits."""
import io
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select

from config import TestConfig
from feedback import create_app
from feedback.attachments import serve_attachment
from feedback.deadlines import load_calendar
from feedback.extensions import db, limiter
from feedback.mail import render_mail
from feedback.models import Attachment, CaseEvent, Notification
from feedback.timeline import current_deadline
from feedback.workflow import (
    Actor,
    accept_case,
    add_note,
    assign_case,
    new_access_token,
    request_information,
)

from .helpers import PDF_BYTES, published_case, submitted_case

PERSONAL = ("Nguyễn Văn An", "0912345678", "an.nguyen@example.vn", "12 Lạch Tray")


@pytest.fixture
def department(make):
    make.desk_agency()
    return make.agency(code="SO-NNMT", name="Sở Nông nghiệp và Môi trường")


@pytest.fixture
def officer(make, department):
    return make.user(role="officer", agency=department)


def in_progress(make, department, officer, **kw):
    """A submitted case assigned to the department and taken up by its officer."""
    case, token = submitted_case(make, category=make.category(agency=department), **kw)
    assign_case(case, Actor(make.user(role="desk")), department)
    accept_case(case, Actor(officer))
    db.session.commit()
    return case, token


def attach(case, name="giay-to.pdf", from_citizen=True, event_id=None, content=PDF_BYTES):
    """Store a file for ``case`` the way the intake does."""
    from feedback.attachments import Upload, written_files

    with written_files() as files:
        (row,) = files.save(case, [Upload(name, content, "application/pdf")], from_citizen=from_citizen,
                            event_id=event_id)
        db.session.commit()
    return row


# Lookup by code -------------------------------------------------------------------


def test_lookup_by_code_shows_status_agency_and_deadline_but_no_personal_data(client, make, department, officer):
    case, _token = in_progress(make, department, officer)
    response = client.get(f"/lookup?code={case.code.lower()}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Đang xử lý" in page and "Sở Nông nghiệp và Môi trường" in page
    assert "Hạn trả lời" in page and "ngày làm việc" in page
    assert "Đã chuyển đến Sở Nông nghiệp và Môi trường để xử lý" in page
    for personal in PERSONAL + (case.title, case.content):
        assert personal not in page


def test_an_unknown_code_gets_the_same_not_found_page_whatever_it_looks_like(client, department):
    pages = []
    for code in ("PAKN.20990101.9999", "KHONG-PHAI-MA"):
        response = client.get("/lookup", query_string={"code": code})
        assert response.status_code == 404
        pages.append(response.get_data(as_text=True).replace(code.upper(), "CODE"))
    assert "Không tìm thấy phản ánh, kiến nghị có mã" in pages[0]
    assert pages[0] == pages[1]


def test_lookup_shows_public_events_in_plain_language_without_their_notes(client, make, department, officer):
    case, _token = in_progress(make, department, officer)
    add_note(case, Actor(officer), "Ghi chú nội bộ: gọi ông An lúc 9 giờ")
    request_information(case, Actor(officer), "Đề nghị ông Nguyễn Văn An gửi bản sao sổ đỏ")
    db.session.commit()
    page = client.get(f"/lookup?code={case.code}").get_data(as_text=True)
    assert "Cơ quan xử lý đề nghị người gửi bổ sung thông tin" in page
    assert "Ghi chú nội bộ" not in page and "sổ đỏ" not in page


# The private link --------------------------------------------------------------------


def test_the_private_link_shows_everything_the_sender_sent(client, make, department, officer):
    case, token = in_progress(make, department, officer, sender_id_number="031234567890")
    attach(case, "Biên bản.pdf")
    response = client.get(f"/c/{token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    for shown in PERSONAL + ("031234567890", case.code, case.title, case.content, "Biên bản.pdf"):
        assert shown in page
    assert "Đang xử lý" in page and "Hạn trả lời" in page
    assert "Rút phản ánh" in page


@pytest.mark.parametrize("token", ["wrong-token", "x" * 32, "a" * 200])
def test_a_wrong_token_shows_nothing(client, make, department, token):
    case, _real = submitted_case(make, category=make.category(agency=department))
    response = client.get(f"/c/{token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert case.code not in page and case.title not in page and "Nguyễn Văn An" not in page


def test_a_revoked_token_shows_nothing(client, make, department):
    case, old = submitted_case(make, category=make.category(agency=department))
    new_access_token(case)
    db.session.commit()
    for path in (f"/c/{old}", f"/c/{old}/withdraw"):
        response = client.get(path)
        assert response.status_code == 404 and case.code not in response.get_data(as_text=True)


def test_the_deadline_is_counted_down_in_working_days(make, department):
    case, _token = submitted_case(make, category=make.category(agency=department),
                                  received_at=datetime(2026, 3, 6, 3, 0, tzinfo=UTC))
    friday = datetime(2026, 3, 6, 3, 0, tzinfo=UTC)
    assert case.classify_due == load_calendar().deadline(friday, 5)
    assert current_deadline(case, now=friday).text == "còn 5 ngày làm việc"
    assert current_deadline(case, now=case.classify_due.replace(hour=2)).text == "hết hạn trong hôm nay"
    late = current_deadline(case, now=datetime(2026, 3, 17, 3, 0, tzinfo=UTC))
    assert late.text == "đã quá hạn 2 ngày làm việc" and late.tone == "overdue"


def test_the_answer_and_outcome_are_shown_once_answered(client, make, department):
    case, token = submitted_case(make, category=make.category(agency=department))
    case.answer = "Sở đã hoàn tất hồ sơ và trả kết quả ngày 10/3."
    case.outcome = "explained"
    case.answered_at = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    db.session.commit()
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Câu trả lời" in page and "Sở đã hoàn tất hồ sơ" in page and "Giải thích, hướng dẫn" in page


# Adding information ------------------------------------------------------------------


def test_the_sender_adds_information_when_asked(client, make, department, officer):
    case, token = in_progress(make, department, officer)
    request_information(case, Actor(officer), "Vui lòng gửi bản sao giấy chứng nhận.")
    db.session.commit()
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Vui lòng gửi bản sao giấy chứng nhận." in page and 'name="message"' in page

    response = client.post(f"/c/{token}/info", content_type="multipart/form-data", data={
        "message": "Tôi gửi kèm bản sao.", "version": str(case.version),
        "attachments": [(io.BytesIO(PDF_BYTES), "ban-sao.pdf")]})
    assert response.status_code == 303
    db.session.refresh(case)
    assert case.status == "in_progress"
    event = db.session.execute(select(CaseEvent).where(CaseEvent.action == "info_provided")).scalar_one()
    assert event.actor_kind == "citizen" and event.note == "Tôi gửi kèm bản sao."
    attachment = db.session.execute(select(Attachment)).scalar_one()
    assert attachment.from_citizen and attachment.event_id == event.id and attachment.filename == "ban-sao.pdf"
    after = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Đã gửi thông tin bổ sung" in after and "Người gửi đã bổ sung thông tin" in after


def test_added_information_needs_some_text(client, make, department, officer):
    case, token = in_progress(make, department, officer)
    request_information(case, Actor(officer), "Cần thêm giấy tờ.")
    db.session.commit()
    response = client.post(f"/c/{token}/info", data={"message": " ", "version": str(case.version)})
    assert response.status_code == 422
    assert "Vui lòng nhập nội dung bổ sung." in response.get_data(as_text=True)
    db.session.refresh(case)
    assert case.status == "needs_info"


def test_information_cannot_be_added_when_none_was_asked_for(client, make, department):
    case, token = submitted_case(make, category=make.category(agency=department))
    response = client.post(f"/c/{token}/info", data={"message": "Thêm thông tin"})
    assert response.status_code == 409
    assert "Không thể thực hiện thao tác này" in response.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(CaseEvent)).scalar_one() == 1


# Withdrawing -------------------------------------------------------------------------


def test_withdrawing_asks_for_confirmation_first(client, make, department):
    case, token = submitted_case(make, category=make.category(agency=department))
    confirm = client.get(f"/c/{token}/withdraw")
    assert confirm.status_code == 200 and "Xác nhận rút phản ánh" in confirm.get_data(as_text=True)
    db.session.refresh(case)
    assert case.status == "submitted"

    response = client.post(f"/c/{token}/withdraw", data={"reason": "Đã được giải quyết", "version": case.version})
    assert response.status_code == 303
    db.session.refresh(case)
    assert case.status == "withdrawn"
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Đã rút" in page and "Người gửi đã rút phản ánh" in page and "Rút phản ánh…" not in page


def test_withdrawing_from_an_out_of_date_page_is_refused(client, make, department):
    case, token = submitted_case(make, category=make.category(agency=department))
    response = client.post(f"/c/{token}/withdraw", data={"version": case.version - 1 or 99})
    assert response.status_code == 409
    assert "vừa được người khác thay đổi" in response.get_data(as_text=True)
    db.session.refresh(case)
    assert case.status == "submitted"


# Attachments as downloads ---------------------------------------------------------------


def test_attachments_download_only_through_their_own_private_link(client, make, department):
    case, token = submitted_case(make, category=make.category(agency=department))
    other, other_token = submitted_case(make, category=case.category)
    mine = attach(case, "Biên bản họp.pdf")
    response = client.get(f"/c/{token}/files/{mine.id}")
    assert response.status_code == 200 and response.data == PDF_BYTES
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Bi%C3%AAn%20b%E1%BA%A3n%20h%E1%BB%8Dp.pdf" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    assert client.get(f"/c/{other_token}/files/{mine.id}").status_code == 404
    assert client.get(f"/c/not-a-token/files/{mine.id}").status_code == 404


def test_internal_staff_files_are_not_offered_to_the_sender(client, make, department, officer):
    case, token = in_progress(make, department, officer)
    note = add_note(case, Actor(officer), "Tài liệu nội bộ")
    db.session.commit()
    internal = attach(case, "noi-bo.pdf", from_citizen=False, event_id=note.id)
    assert "noi-bo.pdf" not in client.get(f"/c/{token}").get_data(as_text=True)
    assert client.get(f"/c/{token}/files/{internal.id}").status_code == 404


def test_staff_pages_can_serve_an_attachment_as_a_download(app, make, department):
    case, _token = submitted_case(make, category=make.category(agency=department))
    row = attach(case, "ảnh.pdf")
    with app.test_request_context():
        response = serve_attachment(row)
        response.direct_passthrough = False
        assert response.get_data() == PDF_BYTES
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# A new private link --------------------------------------------------------------------


NEUTRAL = "Nếu mã và thông tin liên hệ khớp với một phản ánh, kiến nghị"


def confirmation_link() -> str:
    """The confirmation link as the mail the sender receives shows it."""
    mail = db.session.execute(select(Notification).where(Notification.template == "access_link_confirm")).scalar_one()
    url = next(word for word in render_mail(mail).text.split() if "/resend/" in word)
    return url[url.index("/resend/"):]


@pytest.mark.parametrize("contact", ["An.Nguyen@Example.vn", "+84 912 345 678"])
def test_a_new_link_is_issued_only_when_the_mailed_confirmation_is_followed(client, make, department, contact):
    case, old = submitted_case(make, category=make.category(agency=department))
    response = client.post("/resend", data={"code": case.code.lower(), "contact": contact})
    assert response.status_code == 200 and NEUTRAL in response.get_data(as_text=True)
    assert "/c/" not in response.get_data(as_text=True)

    sent = db.session.execute(select(Notification).where(Notification.template == "access_link_confirm")).scalar_one()
    assert sent.recipient == "an.nguyen@example.vn"
    assert "/resend/" not in str(sent.payload)  # the outbox holds no usable link
    assert client.get(f"/c/{old}").status_code == 200  # asking changed nothing yet

    link = confirmation_link()
    page = client.get(link)  # opening the mail (or a scanner following it) changes nothing either
    assert page.status_code == 200 and "Cấp đường dẫn mới" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get(f"/c/{old}").status_code == 200

    confirmed = client.post(link)
    assert confirmed.status_code == 303 and confirmed.headers["Location"].startswith("/c/")
    assert client.get(confirmed.headers["Location"]).status_code == 200
    assert client.get(f"/c/{old}").status_code == 404
    # Single use: the confirmation was bound to the link it replaced.
    assert client.post(link).status_code == 400
    assert client.get(confirmed.headers["Location"]).status_code == 200


def test_a_confirmation_expires_after_a_day(client, make, department, monkeypatch):
    case, old = submitted_case(make, category=make.category(agency=department))
    client.post("/resend", data={"code": case.code, "contact": "an.nguyen@example.vn"})
    link = confirmation_link()
    later = time.time() + 25 * 3600
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert "hết hạn" in client.post(link).get_data(as_text=True)
    assert client.get(f"/c/{old}").status_code == 200


@pytest.mark.parametrize("code_of, contact", [
    ("case", "someone.else@example.vn"), ("case", "0987654321"), ("unknown", "an.nguyen@example.vn")])
def test_the_resend_page_says_the_same_whether_or_not_it_matched(client, make, department, code_of, contact):
    case, token = submitted_case(make, category=make.category(agency=department))
    matched = client.post("/resend", data={"code": case.code, "contact": "an.nguyen@example.vn"})
    db.session.execute(delete(Notification))
    db.session.commit()
    code = case.code if code_of == "case" else "PAKN.20990101.0001"
    response = client.post("/resend", data={"code": code, "contact": contact})
    assert response.status_code == matched.status_code == 200
    assert response.get_data(as_text=True) == matched.get_data(as_text=True)
    assert NEUTRAL in response.get_data(as_text=True)
    assert db.session.execute(select(Notification)).first() is None
    assert client.get(f"/c/{token}").status_code == 200


def test_the_resend_form_asks_for_both_fields(client):
    response = client.post("/resend", data={"code": "", "contact": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Vui lòng nhập mã phản ánh" in page and "Vui lòng nhập thư điện tử hoặc số điện thoại" in page


# Published answers ---------------------------------------------------------------------


def test_a_search_without_diacritics_finds_the_published_case(client, make, department):
    published_case(make, "Thủ tục đất đai", agency=department)
    published_case(make, "Học phí mầm non", agency=department)
    make.case(title="Thủ tục đất đai chưa công khai")
    page = client.get("/published?q=thu tuc dat dai").get_data(as_text=True)
    assert "Thủ tục đất đai" in page
    assert "Học phí mầm non" not in page and "chưa công khai" not in page


def test_published_answers_show_only_the_anonymised_text(client, make, department):
    case = published_case(make, "Cấp phép xây dựng chậm", content="Người gửi phản ánh việc cấp phép chậm.",
                          answer="Sở Xây dựng đã chỉ đạo rút ngắn thời gian.", agency=department)
    for path in ("/published", f"/published/{case.code}"):
        page = client.get(path).get_data(as_text=True)
        assert "Cấp phép xây dựng chậm" in page and "Sở Xây dựng đã chỉ đạo" in page
        assert "Sở Nông nghiệp và Môi trường" in page
        for personal in PERSONAL + (case.title,):
            assert personal not in page


def test_published_answers_filter_by_field_agency_and_year(client, make, department):
    other_agency = make.agency(name="Sở Y tế")
    health = make.category(agency=other_agency, name="Bảo hiểm y tế")
    published_case(make, "Đất đai năm 2025", agency=department,
                   published_at=datetime(2025, 6, 1, 3, 0, tzinfo=UTC))
    published_case(make, "Bảo hiểm y tế năm 2026", agency=other_agency, category=health)

    def titles(**query):
        page = client.get("/published", query_string=query).get_data(as_text=True)
        return {t for t in ("Đất đai năm 2025", "Bảo hiểm y tế năm 2026") if t in page}

    assert titles() == {"Đất đai năm 2025", "Bảo hiểm y tế năm 2026"}
    assert titles(category=health.id) == {"Bảo hiểm y tế năm 2026"}
    assert titles(agency=department.id) == {"Đất đai năm 2025"}
    assert titles(year=2025) == {"Đất đai năm 2025"}


def test_the_published_list_is_paginated(client, make, department):
    for n in range(23):
        published_case(make, f"Câu hỏi số {n:02d}", agency=department)
    first = client.get("/published").get_data(as_text=True)
    second = client.get("/published?page=2").get_data(as_text=True)
    assert first.count('class="card result"') == 20 and second.count('class="card result"') == 3
    assert "Trang 1 / 2" in first


def test_the_published_list_has_an_empty_state(client):
    assert "Chưa có câu trả lời nào được công khai." in client.get("/published").get_data(as_text=True)
    assert "Không có kết quả phù hợp" in client.get("/published?q=khong co gi").get_data(as_text=True)


def test_an_unpublished_case_has_no_public_page(client, make, department):
    case = make.case(status="responded", answer="Trả lời", title="Chưa công khai")
    assert client.get(f"/published/{case.code}").status_code == 404


# Rate limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, data, limit", [
    ("get", "/lookup?code=PAKN.20990101.0001", None, 30),
    ("post", "/submit", {"step": "details"}, 10),
    ("get", "/c/not-a-real-token", None, 60),
    ("post", "/resend", {"code": "PAKN.20990101.0001", "contact": "a@example.vn"}, 10),
])
def test_guessing_codes_or_tokens_is_rate_limited(tmp_path, method, path, data, limit):
    class Limited(TestConfig):
        RATELIMIT_ENABLED = True
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'limited.db'}"
        UPLOAD_FOLDER = str(tmp_path / "uploads")

    was_enabled = limiter.enabled
    app = create_app(Limited)
    try:
        with app.app_context():
            db.create_all()
            client = app.test_client()
            codes = [getattr(client, method)(path, data=data).status_code for _ in range(limit + 1)]
            assert 429 not in codes[:limit]
            assert codes[limit] == 429
            assert "Quá nhiều yêu cầu" in getattr(client, method)(path, data=data).get_data(as_text=True)
            db.session.remove()
            db.engine.dispose()
    finally:
        limiter.enabled = was_enabled
        limiter.reset()


def test_a_published_answer_is_answered_304_when_the_visitor_already_has_it(client, make, department):
    case = published_case(make, "Cấp phép xây dựng chậm", agency=department)
    for path in ("/published", f"/published/{case.code}"):
        first = client.get(path)
        assert first.headers["Cache-Control"] == "public, max-age=300" and "Cookie" in first.headers["Vary"]
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""


def test_a_changed_answer_changes_the_etag(client, make, department):
    case = published_case(make, "Cấp phép xây dựng chậm", agency=department)
    before = client.get(f"/published/{case.code}").headers["ETag"]
    case.public_answer = "Sở đã rút ngắn thời hạn cấp phép."
    db.session.commit()
    changed = client.get(f"/published/{case.code}", headers={"If-None-Match": before})
    assert changed.status_code == 200 and changed.headers["ETag"] != before
    assert "Sở đã rút ngắn thời hạn cấp phép." in changed.get_data(as_text=True)


def test_published_answers_seen_by_a_logged_in_person_are_not_cached(client, make, auth, department):
    case = published_case(make, "Cấp phép xây dựng chậm", agency=department)
    auth.login(make.user(role="citizen"))
    response = client.get(f"/published/{case.code}")
    assert response.headers["Cache-Control"] == "no-store" and "ETag" not in response.headers


def test_a_published_page_that_sets_a_cookie_is_not_cached_publicly(client, make, department):
    case = published_case(make, "Cấp phép xây dựng chậm", agency=department)
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Đã lưu.")]  # shown once, so the session changes
    response = client.get(f"/published/{case.code}")
    assert "public" not in response.headers.get("Cache-Control", "") and "ETag" not in response.headers
