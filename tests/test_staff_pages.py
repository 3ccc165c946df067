"""Staff pages: the desk queue, the agency inbox, the case page and its actions."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from feedback import workflow as wf
from feedback.extensions import db
from feedback.models import AuditLog, Case, CaseEvent
from feedback.workflow import Actor


@pytest.fixture
def setup(make):
    desk_agency = make.desk_agency()
    justice = make.agency(code="SO-TP", name="Sở Tư pháp")
    health = make.agency(code="SO-YT", name="Sở Y tế")
    category = make.category(agency=justice, name="Hộ tịch")
    return {
        "justice": justice, "health": health, "category": category,
        "desk": make.user("desk", agency=desk_agency),
        "officer": make.user("officer", agency=justice, full_name="Trần Văn Xử Lý"),
        "lead": make.user("lead", agency=justice),
        "other": make.user("officer", agency=health),
        "supervisor": make.user("supervisor"),
    }


def new_case(setup, title="Đăng ký khai sinh chậm", at=None) -> Case:
    case, _ = wf.submit_case(wf.Submission(
        type="report", sender_kind="individual", sender_name="Nguyễn Văn An", sender_address="Lê Chân",
        sender_phone="0912345678", sender_email="an@example.vn", title=title,
        content="Nội dung phản ánh đủ dài để kiểm tra.", category_id=setup["category"].id), now=at)
    db.session.commit()
    return case


def act(client, case, action, **fields):
    data = {"action": action, "version": case.version, **fields}
    return client.post(f"/staff/cases/{case.code}/act", data=data)


def test_desk_queue_lists_new_cases_oldest_first_with_their_classify_deadline(client, auth, setup):
    older = new_case(setup, "Cũ hơn", at=datetime(2026, 3, 2, 2, tzinfo=UTC))
    newer = new_case(setup, "Mới hơn", at=datetime(2026, 3, 3, 2, tzinfo=UTC))
    auth.login(setup["desk"])
    html = client.get("/staff/desk").get_data(as_text=True)
    assert html.index(older.code) < html.index(newer.code)
    assert "09/03/2026 17:00" in html  # Monday 2 March + 5 working days


def test_desk_assigns_from_the_case_page_and_the_action_is_audited(client, auth, setup):
    case = new_case(setup)
    auth.login(setup["desk"])
    page = client.get(f"/staff/cases/{case.code}").get_data(as_text=True)
    assert "Phân loại và chuyển xử lý" in page and "Nguyễn Văn An" in page
    response = act(client, case, "assign", agency="SO-TP", classification="within_competence")
    assert response.status_code == 303
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.status == "assigned" and case.agency_id == setup["justice"].id
    audit = db.session.execute(select(AuditLog).where(AuditLog.case_id == case.id,
                                                      AuditLog.action == "case.assigned")).scalar_one()
    assert audit.user_id == setup["desk"].id and audit.ip == "127.0.0.1"


def test_a_refused_action_shows_the_reason_and_changes_nothing(client, auth, setup):
    case = new_case(setup)
    auth.login(setup["desk"])
    response = act(client, case, "reject", reason="")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Vui lòng nêu lý do không tiếp nhận." in page
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "submitted"


def test_a_stale_page_is_told_to_reload(client, auth, setup):
    case = new_case(setup)
    auth.login(setup["desk"])
    stale_version = case.version
    wf.assign_case(case, Actor(setup["desk"]), setup["justice"])
    db.session.commit()
    response = client.post(f"/staff/cases/{case.code}/act",
                           data={"action": "reject", "reason": "Trùng", "version": stale_version})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "vừa được người khác thay đổi" in page
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "assigned"


def test_officer_works_a_case_from_inbox_to_answer(client, auth, setup):
    case = new_case(setup)
    wf.assign_case(case, Actor(setup["desk"]), setup["justice"])
    db.session.commit()
    auth.login(setup["officer"])
    inbox = client.get("/staff/").get_data(as_text=True)
    assert case.code in inbox
    act(client, case, "accept")
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.status == "in_progress" and case.officer_id == setup["officer"].id
    page = client.get(f"/staff/cases/{case.code}").get_data(as_text=True)
    assert "Giải thích, hướng dẫn" in page and "Đề nghị bổ sung thông tin" in page
    act(client, case, "answer", outcome="explained", answer="Đề nghị ông liên hệ UBND phường.")
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.status == "responded" and case.answer == "Đề nghị ông liên hệ UBND phường."


def test_an_officer_cannot_act_on_another_agencys_case(client, auth, setup):
    case = new_case(setup)
    wf.assign_case(case, Actor(setup["desk"]), setup["justice"])
    db.session.commit()
    auth.login(setup["other"])
    assert act(client, case, "accept").status_code == 404
    assert client.get(f"/staff/cases/{case.code}").status_code == 404
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "assigned"


def test_officers_keep_read_access_to_cases_they_handled(client, auth, setup):
    case = new_case(setup)
    wf.assign_case(case, Actor(setup["desk"]), setup["justice"])
    wf.accept_case(case, Actor(setup["officer"]))
    wf.transfer_case(case, Actor(setup["officer"]), setup["health"], "Thuộc ngành y tế")
    db.session.commit()
    auth.login(setup["officer"])
    assert client.get(f"/staff/cases/{case.code}").status_code == 200
    assert case.code not in client.get("/staff/").get_data(as_text=True)  # not in the working inbox
    assert act(client, case, "accept").status_code == 303
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "assigned"  # read access only


def test_inbox_is_sorted_by_next_due_and_filters_overdue(client, auth, setup):
    late = new_case(setup, "Sắp quá hạn")
    early = new_case(setup, "Còn lâu")
    desk = Actor(setup["desk"])
    wf.assign_case(late, desk, setup["justice"], now=datetime(2026, 1, 5, 2, tzinfo=UTC))
    wf.assign_case(early, desk, setup["justice"])
    db.session.commit()
    auth.login(setup["officer"])
    html = client.get("/staff/").get_data(as_text=True)
    assert html.index(late.code) < html.index(early.code)
    assert "Quá hạn" in html
    overdue = client.get("/staff/?overdue=1").get_data(as_text=True)
    assert late.code in overdue and early.code not in overdue


def test_desk_records_a_case_received_by_phone_with_the_real_date(client, auth, setup):
    auth.login(setup["desk"])
    response = client.post("/staff/desk/record", data={
        "channel": "phone", "received_at": "2026-03-06T18:30",
        "sender_kind": "individual", "full_name": "Lê Thị Bình", "address": "Hải An, Hải Phòng",
        "phone": "0225 3842 123", "email": "", "type": "report", "category_id": setup["category"].id,
        "title": "Gọi điện phản ánh thủ tục", "content": "Người dân gọi đường dây nóng phản ánh thủ tục chậm.",
    })
    assert response.status_code == 303, response.get_data(as_text=True)
    case = db.session.execute(select(Case).where(Case.sender_name == "Lê Thị Bình")).scalar_one()
    assert case.channel == "phone" and case.code.startswith("PAKN.20260306.")
    # Friday 6 March 18:30 → effective Monday 9 March → due Monday 16 March 17:00 (10:00 UTC).
    assert case.classify_due == datetime(2026, 3, 16, 10, tzinfo=UTC)
    assert case.sender_email == ""


def test_recording_a_future_receipt_is_refused(client, auth, setup):
    auth.login(setup["desk"])
    response = client.post("/staff/desk/record", data={
        "channel": "letter", "received_at": "2099-01-01T08:00", "sender_kind": "individual",
        "full_name": "A", "address": "B", "phone": "0912345678", "type": "report",
        "category_id": setup["category"].id, "title": "T", "content": "Nội dung đủ dài để kiểm tra."})
    assert response.status_code == 200
    assert "không được ở tương lai" in response.get_data(as_text=True)
    assert db.session.execute(select(Case)).first() is None


def test_supervisor_decides_an_extension_from_the_decisions_list(client, auth, setup):
    case = new_case(setup)
    wf.assign_case(case, Actor(setup["desk"]), setup["justice"])
    wf.accept_case(case, Actor(setup["officer"]))
    wf.request_extension(case, Actor(setup["officer"]), 4, "Chờ ý kiến Bộ")
    db.session.commit()
    due = case.answer_due
    auth.login(setup["supervisor"])
    assert case.code in client.get("/staff/decisions").get_data(as_text=True)
    act(client, case, "decide_extension", approve="1")
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.extension_status == "approved" and case.answer_due > due


def test_case_page_with_thirty_events_renders_in_a_handful_of_queries(client, auth, setup, count_queries):
    case = new_case(setup)
    wf.assign_case(case, Actor(setup["desk"]), setup["justice"])
    wf.accept_case(case, Actor(setup["officer"]))
    for n in range(27):
        wf.add_note(case, Actor(setup["officer"] if n % 2 else setup["lead"]), f"Ghi chú số {n}")
    db.session.commit()
    assert db.session.query(CaseEvent).filter_by(case_id=case.id).count() == 30
    auth.login(setup["lead"])
    client.get("/staff/")  # warm up: session, user
    with count_queries() as statements:
        response = client.get(f"/staff/cases/{case.code}")
    assert response.status_code == 200 and "Ghi chú số 26" in response.get_data(as_text=True)
    # 8 to show the page (the case with its one-row relations, its events, its
    # files, the calendar, the agencies to assign to, the case's notifications
    # and its delivery problems), up to 4 to log the lead's view of the
    # sender's contacts (the chain lock on PostgreSQL, reading and moving the
    # recorded head, the insert): none per event.
    assert len(statements) <= 12, "\n".join(statements)


def test_officer_inbox_query_count_does_not_grow_with_cases(client, auth, setup, count_queries):
    desk = Actor(setup["desk"])
    for n in range(3):
        wf.assign_case(new_case(setup, f"Hồ sơ {n}"), desk, setup["justice"])
    db.session.commit()
    auth.login(setup["officer"])
    client.get("/staff/")
    with count_queries() as few:
        client.get("/staff/")
    for n in range(15):
        wf.assign_case(new_case(setup, f"Hồ sơ thêm {n}"), desk, setup["justice"])
    db.session.commit()
    client.get("/staff/")  # warm up again after the commit expired the session
    with count_queries() as many:
        html = client.get("/staff/").get_data(as_text=True)
    assert "Hồ sơ thêm 14" in html
    # The viewer is known; the count, the page, its agencies and officers, the
    # categories (each case's own comes from them), the officers to filter by,
    # the calendar.
    assert len(many) == len(few) and len(many) <= 7, "\n".join(many)
