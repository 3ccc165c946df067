"""What a newcomer hit on a first walk through the system, one test each,
going through the pages as a person does: GET the page, read its form, post it."""
from __future__ import annotations

import io

import pytest
from flask import g
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


# People at work: each signs in on their own browser and uses the case page. ---


class Person:
    """One member of staff in their own browser session."""

    def __init__(self, app, user):
        self.client = app.test_client()
        self.user = user
        response = self.post("/auth/login", data={"email": user.email, "password": "correct-horse-battery"})
        assert response.status_code in (302, 303)

    def get(self, path: str):
        return self._request("get", path)

    def post(self, path: str, **kw):
        return self._request("post", path, **kw)

    def _request(self, method: str, path: str, **kw):
        # The test's app context is shared by every client: forget the user
        # Flask-Login cached in it for the previous person.
        g.pop("_login_user", None)
        return getattr(self.client, method)(path, **kw)

    def case_page(self, case) -> str:
        response = self.get(f"/staff/cases/{case.code}")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def act(self, case, action: str, **changes):
        """Fill the case page's form for ``action`` and press its button."""
        data = page_form(self.case_page(case), f"act-{action}").data()
        data.update(changes)
        return self.post(f"/staff/cases/{case.code}/act", data=data)


@pytest.fixture
def staffed(app, make, land):
    """The desk, and the land department's officer."""
    desk_agency, department, category = land
    desk = Person(app, make.user("desk", agency=desk_agency))
    officer = Person(app, make.user("officer", agency=department))
    make.user("lead", agency=department)
    return desk, officer, department, category


def mail_link(mailbox, template: str, fragment: str) -> str:
    """The link containing ``fragment`` in the last delivered mail of ``template``."""
    from .pages import links

    mail = [m for m in mailbox if m.template == template][-1]
    found = [link for link in links(mail.text) if fragment in link]
    assert found, mail.text
    return found[0]


def path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def in_the_hands_of_the_officer(client, staffed) -> Case:
    desk, officer, department, category = staffed
    case = submit_through_the_form(client, category, consent=True)
    assert desk.act(case, "assign", classification="within_competence",
                    agency=department.code).status_code == 303
    db.session.refresh(case)
    assert case.status == "assigned", desk.case_page(case)
    assert officer.act(case, "accept").status_code == 303
    db.session.refresh(case)
    assert case.status == "in_progress"
    return case


# 3. E-mails take the citizen where the text says ------------------------------


def test_the_answer_mail_links_to_the_full_answer_and_the_rating_form(client, staffed, mailbox):
    desk, officer, *_ = staffed
    case = in_the_hands_of_the_officer(client, staffed)
    answer = "Sở đã giải quyết hồ sơ ngày 12/3; ông nhận kết quả tại bộ phận một cửa."
    assert officer.act(case, "answer", outcome="explained", answer=answer).status_code == 303

    link = mail_link(mailbox, "answered", "/rate/")
    page = client.get(path_of(link))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Sở đã giải quyết hồ sơ ngày 12/3; ông nhận kết quả tại bộ phận một cửa." in html
    rating = page_form(html, link.rsplit("/rate/", 1)[1])
    assert {"level", "resolved"} <= rating.names()


def test_the_information_request_mail_links_to_the_form_that_adds_it(client, staffed, mailbox):
    desk, officer, *_ = staffed
    case = in_the_hands_of_the_officer(client, staffed)
    assert officer.act(case, "request_info", message="Đề nghị gửi bản chụp giấy biên nhận hồ sơ.").status_code == 303

    link = mail_link(mailbox, "info_requested", "/info/")
    page = client.get(path_of(link))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Đề nghị gửi bản chụp giấy biên nhận hồ sơ." in html
    form = page_form(html, "provide-info")
    data = form.data()
    data["message"] = "Tôi gửi kèm giấy biên nhận số 123."
    data["attachments"] = [(io.BytesIO(PDF_BYTES), "bien-nhan.pdf")]
    response = client.post(form.action, data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    db.session.refresh(case)
    assert case.status == "in_progress"
    assert [a.filename for a in case.attachments] == ["bien-nhan.pdf"]


def test_the_outbox_holds_no_usable_link_for_these_mails(client, staffed, mailbox):
    from feedback.models import Notification

    desk, officer, *_ = staffed
    case = in_the_hands_of_the_officer(client, staffed)
    officer.act(case, "request_info", message="Đề nghị gửi bản chụp giấy biên nhận hồ sơ.")
    rows = db.session.execute(select(Notification).where(
        Notification.template.in_(["info_requested", "answered", "rating_request"]))).scalars().all()
    assert rows and not any("http" in str(value) for row in rows for value in row.payload.values())


def test_a_new_private_link_revokes_the_links_mailed_before_it(client, staffed, mailbox):
    desk, officer, *_ = staffed
    case = in_the_hands_of_the_officer(client, staffed)
    officer.act(case, "request_info", message="Đề nghị gửi bản chụp giấy biên nhận hồ sơ.")
    link = mail_link(mailbox, "info_requested", "/info/")

    resend = page_form(client.get("/resend").get_data(as_text=True), "").data()
    resend.update(code=case.code, contact="an.nguyen@example.vn")
    assert client.post("/resend", data=resend).status_code == 200
    assert client.get(path_of(link)).status_code == 200  # asking alone changes no link
    confirmation = path_of(mail_link(mailbox, "access_link_confirm", "/resend/"))
    confirm = page_form(client.get(confirmation).get_data(as_text=True), "").data()
    assert client.post(confirmation, data=confirm).status_code == 303

    page = client.get(path_of(link))
    assert page.status_code == 400
    assert "đường dẫn riêng đã được cấp lại" in page.get_data(as_text=True)


# 2. The desk classifies explicitly ------------------------------------------------


def test_the_classification_has_no_preselected_value_and_each_choice_is_explained(client, staffed):
    desk, officer, department, category = staffed
    case = submit_through_the_form(client, category, consent=False)
    html = desk.case_page(case)
    form = page_form(html, "act-assign")
    assert form.select("classification").value() == "" and form.select("classification").required
    for explained in ("chuyển cơ quan quản lý cán bộ, công chức đó", "thuộc thẩm quyền của cơ quan tiếp nhận",
                      "chuyển cơ quan có thẩm quyền", "«Không tiếp nhận»"):
        assert explained in html


def test_assigning_without_choosing_a_classification_is_refused_with_a_clear_error(client, staffed):
    desk, officer, department, category = staffed
    case = submit_through_the_form(client, category, consent=False)
    response = desk.act(case, "assign")  # pressed without choosing
    assert response.status_code == 303
    db.session.refresh(case)
    assert case.status == "submitted" and case.classification is None
    page = desk.case_page(case)
    assert "Vui lòng chọn phân loại." in page


@pytest.mark.parametrize("action, select_name", [("transfer", "agency")])
def test_other_choices_that_matter_start_empty(client, staffed, action, select_name):
    desk, officer, department, category = staffed
    case = in_the_hands_of_the_officer(client, staffed)
    form = page_form(officer.case_page(case), f"act-{action}")
    assert form.select(select_name).value() == ""
    assert page_form(officer.case_page(case), "act-answer").select("outcome").value() == ""


def test_recording_a_case_asks_for_the_channel_instead_of_assuming_one(app, make, land):
    desk = Person(app, make.user("desk", agency=land[0]))
    form = page_form(desk.get("/staff/desk/record").get_data(as_text=True), "")
    assert form.select("channel").value() == ""


# 4. Nobody to handle it -----------------------------------------------------------


@pytest.fixture
def construction(make):
    return make.agency(code="SO-XD", name="Sở Xây dựng")


def test_assigning_to_an_agency_without_officers_needs_a_confirmation(client, staffed, construction):
    desk, officer, department, category = staffed
    case = submit_through_the_form(client, category, consent=False)
    html = desk.case_page(case)
    assert "Sở Xây dựng — chưa có cán bộ xử lý" in html

    desk.act(case, "assign", classification="outside_competence", agency="SO-XD")
    db.session.refresh(case)
    assert case.status == "submitted"
    assert "Cơ quan này chưa có cán bộ hoặc lãnh đạo nào đang hoạt động" in desk.case_page(case)

    desk.act(case, "assign", classification="outside_competence", agency="SO-XD", confirm_unstaffed="1")
    db.session.refresh(case)
    assert case.status == "assigned" and case.agency.code == "SO-XD"


def test_an_agency_with_an_officer_needs_no_confirmation(client, staffed, construction):
    desk, officer, department, category = staffed
    case = submit_through_the_form(client, category, consent=False)
    desk.act(case, "assign", classification="within_competence", agency=department.code)
    db.session.refresh(case)
    assert case.status == "assigned"


def test_the_supervisor_dashboard_lists_agencies_with_open_cases_and_nobody_to_handle_them(
        app, client, make, staffed, construction):
    desk, officer, department, category = staffed
    case = submit_through_the_form(client, category, consent=False)
    desk.act(case, "assign", classification="outside_competence", agency="SO-XD", confirm_unstaffed="1")
    supervisor = Person(app, make.user("supervisor"))
    html = supervisor.get("/dashboard/").get_data(as_text=True)
    start = html.index('id="unstaffed"')
    unstaffed_section = html[start:html.index("</section>", start)]
    assert "chưa có cán bộ xử lý" in html and "Sở Xây dựng" in unstaffed_section
    assert "Sở Nông nghiệp và Môi trường" not in unstaffed_section


def test_the_demo_data_gives_every_routed_agency_an_officer_and_a_lead(app, runner):
    from feedback.models import Agency, Category, User

    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    routed = db.session.execute(select(Agency).join(Category, Category.default_agency_id == Agency.id)
                                .where(Agency.is_desk.is_(False))).scalars().unique().all()
    assert any(a.code == "SO-XD" for a in routed)
    for agency in routed:
        roles = set(db.session.execute(select(User.role).where(User.agency_id == agency.id,
                                                               User.active.is_(True))).scalars())
        assert {"officer", "lead"} <= roles, agency.code


# 5. Messages in the visitor's language ------------------------------------------


def test_opening_a_staff_link_logged_out_asks_to_log_in_in_vietnamese(client):
    response = client.get("/staff/cases/PAKN.20260105.0001", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Vui lòng đăng nhập để mở trang này." in html
    assert "Please log in to access this page." not in html


def test_the_login_request_is_in_english_for_an_english_visitor(client):
    client.get("/lang/en")
    html = client.get("/staff/", follow_redirects=True).get_data(as_text=True)
    assert "Please log in to open this page." in html


@pytest.fixture
def limited(tmp_path):
    from config import TestConfig
    from feedback import create_app
    from feedback.extensions import limiter

    class Limited(TestConfig):
        RATELIMIT_ENABLED = True
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'limited.db'}"
        UPLOAD_FOLDER = str(tmp_path / "uploads")

    was_enabled = limiter.enabled
    app = create_app(Limited)
    try:
        with app.app_context():
            db.create_all()
        # Each request gets its own app context, so the language is chosen per request.
        yield app.test_client()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        limiter.enabled = was_enabled
        limiter.reset()


def hit_the_lookup_limit(client):
    for _ in range(30):
        assert client.get("/lookup?code=PAKN.20990101.0001").status_code == 404
    response = client.get("/lookup?code=PAKN.20990101.0001")
    assert response.status_code == 429
    return response


def waited(html: str, pattern: str) -> int:
    import re

    found = re.search(pattern, html)
    assert found, html
    return int(found.group(1))


def test_too_many_requests_says_in_vietnamese_how_long_to_wait(limited):
    response = hit_the_lookup_limit(limited)
    html = response.get_data(as_text=True)
    wait = waited(html, r"Vui lòng chờ (\d+) giây rồi thử lại\.")
    # The page rounds up; the header (set by the limiter) rounds down.
    assert 0 < wait <= 61 and abs(wait - int(response.headers["Retry-After"])) <= 1
    assert "Too many requests" not in html


def test_too_many_requests_says_in_english_how_long_to_wait(limited):
    limited.get("/lang/en")
    response = hit_the_lookup_limit(limited)
    html = response.get_data(as_text=True)
    wait = waited(html, r"Please wait (\d+) seconds? and try again\.")
    assert 0 < wait <= 61 and abs(wait - int(response.headers["Retry-After"])) <= 1
    assert "Quá nhiều yêu cầu" not in html


# 7. Pages that do not contradict themselves -------------------------------------


def answered_through_the_pages(client, staffed, mailbox) -> tuple[Case, str]:
    desk, officer, *_ = staffed
    case = in_the_hands_of_the_officer(client, staffed)
    officer.act(case, "answer", outcome="explained", answer="Sở đã giải quyết hồ sơ ngày 12/3.")
    return case, path_of(mail_link(mailbox, "answered", "/rate/"))


def test_after_a_reopened_review_the_rating_page_says_why_it_cannot_be_rated(app, make, client, staffed, mailbox):
    case, rate_path = answered_through_the_pages(client, staffed, mailbox)
    rating = page_form(client.get(rate_path).get_data(as_text=True), rate_path)
    assert client.post(rating.action, data={**rating.data(), "level": "1", "resolved": "no"}).status_code == 303
    review = page_form(client.get(rate_path).get_data(as_text=True), f"{rate_path}/review")
    assert client.post(review.action, data={**review.data(), "reason": "Chưa giải quyết."}).status_code == 303
    supervisor = Person(app, make.user("supervisor"))
    supervisor.act(case, "decide_review", reopen="1", note="Trả lời chưa đầy đủ.")
    db.session.refresh(case)
    assert case.status == "in_progress"

    html = client.get(rate_path).get_data(as_text=True)
    assert "Bạn có thể thay đổi" not in html and "Thời hạn đánh giá đã kết thúc" not in html
    assert "Phản ánh đang được xử lý lại" in html


def test_an_answered_case_shows_no_working_days_left_to_staff(client, staffed, mailbox):
    desk, officer, *_ = staffed
    case, _link = answered_through_the_pages(client, staffed, mailbox)
    html = officer.case_page(case)
    assert "Còn lại" not in html and "ngày làm việc</dd>" not in html


def test_a_file_has_the_same_size_for_the_citizen_and_for_staff(app, client, staffed):
    desk, officer, department, category = staffed
    content = PDF_BYTES + b"%" + b"x" * (44256 - len(PDF_BYTES) - 1)  # 43.2 KiB
    case = submit_through_the_form(client, category, consent=False, files=[("giay-to.pdf", content)])
    receipt = client.get("/submit/receipt").get_data(as_text=True)
    private = receipt[receipt.index("/c/"):].split('"')[0].split("<")[0]
    citizen_html = client.get(private).get_data(as_text=True)
    assert "44 KB" in citizen_html
    staff_html = desk.case_page(case)
    assert "44 KB" in staff_html and "43.2 KB" not in staff_html


def test_a_case_received_after_office_hours_says_its_deadlines_count_from_the_next_working_day(app, make, staffed):
    from .helpers import local

    desk = staffed[0]
    evening = make.case(code="PAKN.20260105.0901", received_at=local(2026, 1, 5, 18, 30))
    morning = make.case(code="PAKN.20260105.0902", received_at=local(2026, 1, 5, 9, 30))
    assert "thời hạn tính từ ngày làm việc tiếp theo" in desk.case_page(evening)
    assert "thời hạn tính từ ngày làm việc tiếp theo" not in desk.case_page(morning)


# 8. Reminders a person can see ------------------------------------------------------


def test_the_case_page_lists_its_notifications_without_the_senders_address(client, staffed, mailbox):
    desk, officer, *_ = staffed
    case = in_the_hands_of_the_officer(client, staffed)
    html = officer.case_page(case)
    listed = html[html.index('id="notifications"'):]
    listed = listed[:listed.index("</section>")]
    assert "Xác nhận tiếp nhận" in listed and "Giao xử lý" in listed
    assert "Người gửi" in listed and "Đã gửi" in listed and "Thư điện tử" in listed
    assert "an.nguyen@example.vn" not in listed
    assert officer.user.full_name in listed  # the assignment mail went to the officer, named


def test_a_scan_outside_office_hours_or_on_a_day_off_says_so(app, runner):
    evening = runner.invoke(args=["reminders", "scan", "--now", "2027-03-11T19:00+07:00"])
    assert "outside office hours (19:00; the office is open 07:30-17:00)" in evening.output
    sunday = runner.invoke(args=["reminders", "scan", "--now", "2027-03-14T09:00+07:00"])
    assert "not a working day (2027-03-14" in sunday.output


def test_a_scan_with_nothing_due_says_so(app, runner):
    result = runner.invoke(args=["reminders", "scan", "--now", "2027-03-11T09:00+07:00"])
    assert "nothing due" in result.output and "0 reminder(s) filed" in result.output


def test_the_digest_says_why_it_filed_nothing(app, runner, make):
    night = runner.invoke(args=["reminders", "digest", "--now", "2027-03-11T19:00+07:00"])
    assert "outside office hours" in night.output and "0 digest(s) filed" in night.output
    quiet = runner.invoke(args=["reminders", "digest", "--now", "2027-03-11T09:00+07:00"])
    assert "nothing overdue or due today" in quiet.output

    from .helpers import local

    lead = make.user("lead")
    make.case(agency=lead.agency, status="in_progress", next_due=local(2027, 3, 10, 17, 0))
    first = runner.invoke(args=["reminders", "digest", "--now", "2027-03-11T09:00+07:00"])
    assert "1 digest(s) filed" in first.output
    again = runner.invoke(args=["reminders", "digest", "--now", "2027-03-11T09:30+07:00"])
    assert "today's digest was already sent (1 recipient(s) on 2027-03-11)" in again.output
