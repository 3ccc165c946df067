"""Satisfaction ratings, review requests and closing the loop (docs/design.md §6)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from feedback import ratings
from feedback import workflow as wf
from feedback.deadlines import OFFICE_TZ, load_calendar
from feedback.extensions import db
from feedback.models import Case, CaseEvent, Notification, Rating
from feedback.workflow import Actor


@pytest.fixture
def answered(make):
    """An answered case, its rating link, and the staff around it."""
    desk_agency = make.desk_agency()
    justice = make.agency(code="SO-TP", name="Sở Tư pháp")
    category = make.category(agency=justice)
    desk = Actor(make.user("desk", agency=desk_agency))
    officer = Actor(make.user("officer", agency=justice))
    supervisor = Actor(make.user("supervisor"))
    case, _ = wf.submit_case(wf.Submission(
        type="report", sender_kind="individual", sender_name="Nguyễn Văn An", sender_address="Lê Chân",
        sender_phone="0912345678", sender_email="an@example.vn", title="Khai sinh chậm",
        content="Nội dung phản ánh đủ dài.", category_id=category.id))
    wf.assign_case(case, desk, justice)
    wf.accept_case(case, officer)
    wf.submit_answer(case, officer, "explained", "Hồ sơ đã được giải quyết.")
    db.session.commit()
    return case, ratings.rating_token(case), officer, supervisor


def rating_count() -> int:
    return db.session.execute(select(func.count()).select_from(Rating)).scalar_one()


def event_count(case) -> int:
    return db.session.execute(
        select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)
    ).scalar_one()


def test_the_answer_sends_a_rating_link_that_opens_the_form(client, answered, mailbox):
    case, token, *_ = answered
    request = db.session.execute(select(Notification).where(
        Notification.case_id == case.id, Notification.template == "rating_request")).scalar_one()
    assert "rating_url" not in request.payload  # made when the mail is delivered, not stored
    from feedback.mail import render_mail

    link = next(word for word in render_mail(request).text.split() if "/rate/" in word)
    page = client.get(link[link.index("/rate/"):])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Hồ sơ đã được giải quyết." in html and "Rất không hài lòng" in html and "Rất hài lòng" in html
    assert page.headers["Cache-Control"] == "no-store"


def test_opening_the_rating_link_changes_nothing(client, answered):
    case, token, *_ = answered
    before = event_count(case)
    for _ in range(3):  # a mail scanner following the link, more than once
        assert client.get(f"/rate/{token}").status_code == 200
    assert rating_count() == 0 and event_count(case) == before


def test_a_tampered_link_is_refused_with_a_clear_page(client, answered):
    case, token, *_ = answered
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = client.post(f"/rate/{forged}", data={"level": "5", "resolved": "yes"})
    assert response.status_code == 400
    assert "Đường dẫn đánh giá không hợp lệ" in response.get_data(as_text=True)
    assert rating_count() == 0


def test_an_expired_link_is_refused_with_a_clear_page(client, answered, monkeypatch):
    case, token, *_ = answered
    monkeypatch.setattr(ratings, "LINK_MAX_AGE", -1)
    response = client.post(f"/rate/{token}", data={"level": "5", "resolved": "yes"})
    assert response.status_code == 400
    assert "đã hết hạn" in response.get_data(as_text=True)
    assert rating_count() == 0


def test_a_rating_after_the_window_is_refused(client, answered):
    case, token, *_ = answered
    case.rating_due = datetime.now(OFFICE_TZ) - timedelta(hours=1)
    db.session.commit()
    response = client.post(f"/rate/{token}", data={"level": "4", "resolved": "yes"})
    assert response.status_code == 409
    assert rating_count() == 0


def test_a_second_post_updates_the_rating_instead_of_adding_one(client, answered):
    case, token, *_ = answered
    first = client.post(f"/rate/{token}", data={"level": "2", "resolved": "no", "comment": "Chưa rõ"})
    assert first.status_code == 303
    second = client.post(f"/rate/{token}", data={"level": "4", "resolved": "partly", "comment": "Đã rõ hơn"})
    assert second.status_code == 303
    rating = db.session.execute(select(Rating)).scalar_one()
    assert (rating.level, rating.resolved, rating.comment) == (4, "partly", "Đã rõ hơn")
    actions = db.session.execute(select(CaseEvent.action).where(CaseEvent.case_id == case.id)
                                 .order_by(CaseEvent.id)).scalars().all()
    assert actions[-2:] == ["rated", "rating_changed"]
    assert "Đã cập nhật đánh giá" in client.get(f"/rate/{token}").get_data(as_text=True)


def test_bad_rating_values_get_messages_and_change_nothing(client, answered):
    case, token, *_ = answered
    response = client.post(f"/rate/{token}", data={"level": "9", "resolved": "maybe"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Vui lòng chọn mức độ hài lòng." in html and "đã được giải quyết chưa" in html
    assert rating_count() == 0


def test_the_rating_is_stored_with_what_answered_it(answered):
    case, token, officer, _ = answered
    rating, created = ratings.rate_case(case, 5, "yes", "Cảm ơn")
    assert created
    assert rating.agency_id == case.agency_id and rating.officer_id == officer.user.id
    assert rating.category_id == case.category_id


def test_a_low_rating_leads_to_review_and_reopening_gives_a_fresh_deadline(client, answered):
    case, token, officer, supervisor = answered
    client.post(f"/rate/{token}", data={"level": "1", "resolved": "no", "comment": "Không giải quyết được"})
    page = client.get(f"/rate/{token}").get_data(as_text=True)
    assert "Đề nghị xem xét lại" in page
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    response = client.post(f"/rate/{token}/review", data={"reason": "Câu trả lời chưa đúng", "version": case.version})
    assert response.status_code == 303
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.status == "review_requested" and case.next_due == case.review_due
    reopened_at = datetime(2026, 12, 4, 10, tzinfo=OFFICE_TZ)  # a Friday
    wf.decide_review(case, supervisor, reopen=True, note="Cần trả lời lại", now=reopened_at)
    db.session.commit()
    assert case.status == "in_progress"
    assert case.answer_due == load_calendar().deadline(reopened_at, 10)
    assert case.answer_due == datetime(2026, 12, 18, 17, tzinfo=OFFICE_TZ)
    # The reminder scan reads next_due, so the new deadline is what it follows.
    assert case.next_due == case.answer_due


def test_a_satisfied_rating_offers_no_review(client, answered):
    case, token, *_ = answered
    client.post(f"/rate/{token}", data={"level": "5", "resolved": "yes"})
    assert "Gửi đề nghị xem xét lại" not in client.get(f"/rate/{token}").get_data(as_text=True)
    response = client.post(f"/rate/{token}/review", data={"reason": "x"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "responded"


def test_staff_see_the_rating_and_can_filter_low_ratings(client, auth, answered, make):
    case, token, officer, _ = answered
    ratings.rate_case(case, 2, "no", "Chưa thoả đáng")
    db.session.commit()
    auth.login(officer.user)
    page = client.get(f"/staff/cases/{case.code}").get_data(as_text=True)
    assert "Không hài lòng" in page and "Chưa thoả đáng" in page
    assert case.code in client.get("/staff/?rated_low=1").get_data(as_text=True)


def test_the_private_case_page_shows_the_same_rating_form(client, make):
    desk_agency = make.desk_agency()
    justice = make.agency(code="SO-TP")
    category = make.category(agency=justice)
    case, token = wf.submit_case(wf.Submission(
        type="report", sender_kind="individual", sender_name="Nguyễn Văn An", sender_address="Lê Chân",
        sender_phone="0912345678", sender_email="an@example.vn", title="Khai sinh chậm",
        content="Nội dung phản ánh đủ dài.", category_id=category.id))
    db.session.commit()
    assert "Đánh giá mức độ hài lòng" not in client.get(f"/c/{token}").get_data(as_text=True)
    officer = Actor(make.user("officer", agency=justice))
    wf.assign_case(case, Actor(make.user("desk", agency=desk_agency)), justice)
    wf.accept_case(case, officer)
    wf.submit_answer(case, officer, "explained", "Đã giải quyết.")
    db.session.commit()
    html = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Đánh giá mức độ hài lòng" in html and "Rất hài lòng" in html
    action = html.split('action="/rate/')[1].split('"')[0]
    assert client.post(f"/rate/{action}", data={"level": "4", "resolved": "yes"}).status_code == 303
    assert db.session.execute(select(Rating.level)).scalar_one() == 4


def test_satisfaction_rate_per_agency_from_ratings_given_through_the_rating_page(make):
    """Justice: levels 5, 4, 2 → 2 of 3 satisfied; Health: 3 → 0 of 1."""

    from feedback.reporting.stats import by_agency

    desk = Actor(make.user("desk", agency=make.desk_agency()))
    agencies = {code: make.agency(code=code) for code in ("SO-TP", "SO-YT")}
    supervisor = make.user("supervisor")
    for code, level in (("SO-TP", 5), ("SO-TP", 4), ("SO-TP", 2), ("SO-YT", 3)):
        agency = agencies[code]
        officer = Actor(make.user("officer", agency=agency))
        case, _ = wf.submit_case(wf.Submission(
            type="report", sender_kind="individual", sender_name="Nguyễn Văn An", sender_address="Lê Chân",
            sender_phone="0912345678", sender_email="an@example.vn", title="Phản ánh",
            content="Nội dung phản ánh đủ dài.", category_id=make.category(agency=agency).id))
        wf.assign_case(case, desk, agency)
        wf.accept_case(case, officer)
        wf.submit_answer(case, officer, "explained", "Trả lời")
        ratings.rate_case(case, level, "yes" if level >= 4 else "partly")
    db.session.commit()
    now = datetime.now(UTC)
    rows = {row["agency_code"]: row for row in by_agency(supervisor, now - timedelta(days=1), now + timedelta(days=1))}
    assert rows["SO-TP"]["ratings"] == 3 and rows["SO-TP"]["satisfaction_rate"] == pytest.approx(2 / 3)
    assert rows["SO-YT"]["ratings"] == 1 and rows["SO-YT"]["satisfaction_rate"] == 0


def test_a_new_private_link_revokes_older_rating_links(client, answered):
    case, token, *_ = answered
    wf.new_access_token(case)  # the sender asked for a new private link
    db.session.commit()
    response = client.get(f"/rate/{token}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "không còn hiệu lực" in html and case.answer not in html
    assert client.get(f"/rate/{ratings.rating_token(case)}").status_code == 200
