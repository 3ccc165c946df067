"""The sender's personal data: retention, the sender's copy, erasure on request.

Retention runs on the dashboard's known March data set (``build_march``):
three of its final cases are made old, one stays recent, and the figures the
supervisor reads must not move by a single digit when the old ones lose their
personal data.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from feedback.attachments import Upload, written_files
from feedback.extensions import db
from feedback.models import Attachment, AuditLog, Case, CaseEvent, Notification, Rating, utcnow
from feedback.privacy import ERASED
from feedback.reporting import stats
from feedback.storage import storage

from .helpers import PDF_BYTES
from .pages import page_form
from .test_dashboard import MARCH as MARCH_PERIOD
from .test_dashboard import MARCH_ARGS, NOW, build_march

LONG_AGO = datetime(2019, 6, 3, 3, 0, tzinfo=UTC)
PERSONAL = ("Nguyễn Văn An", "0912345678", "an.nguyen@example.vn", "12 Lạch Tray", "031099001234")


def give_personal_data(case: Case) -> Path:
    """What a real case carries: an ID number, notes in the timeline, a file,
    a rating comment, a message sent to the sender. Returns the file's path."""
    case.sender_id_number = "031099001234"
    case.citizen_id = None
    case.access_token_hash = f"{case.id:064d}"
    case.answer = "Kính gửi ông Nguyễn Văn An (0912345678), Sở đã hướng dẫn."
    db.session.add(CaseEvent(case_id=case.id, actor_kind="citizen", action="info_provided", from_status="needs_info",
                             to_status="in_progress", note="Tôi là Nguyễn Văn An, gọi 0912345678."))
    db.session.add(CaseEvent(case_id=case.id, actor_kind="staff", action="note_added", public=False,
                             note="Đã gọi ông An ở số 0912345678."))
    db.session.add(Notification(case_id=case.id, recipient=case.sender_email, template="answered",
                                payload={"code": case.code, "title": case.title}, status="sent"))
    rating = db.session.execute(select(Rating).where(Rating.case_id == case.id)).scalar_one_or_none()
    if rating is not None:
        rating.comment = "Cảm ơn, tôi Nguyễn Văn An hài lòng."
    with written_files() as files:
        [attachment] = files.save(case, [Upload("cmnd-nguyen-van-an.pdf", PDF_BYTES, "application/pdf")])
        db.session.commit()
    return storage().path_of(attachment.stored_name)


def personal_data_left(case: Case) -> list[str]:
    """Every place the sender's data could still be, that still holds it."""
    db.session.refresh(case)
    found = []
    texts = [case.sender_name, case.sender_address, case.sender_phone, case.sender_email, case.sender_id_number,
             case.title, case.content, case.answer]
    texts += [e.note for e in case.events]
    texts += [n.recipient + json.dumps(n.payload, ensure_ascii=False) for n in
              db.session.execute(select(Notification).where(Notification.case_id == case.id)).scalars()]
    if case.rating is not None:
        texts.append(case.rating.comment)
    for value in PERSONAL:
        if any(value in text for text in texts):
            found.append(value)
    if case.attachments:
        found.append("attachments")
    if case.access_token_hash:
        found.append("private link")
    return found


def figures(march):
    supervisor = march.supervisor
    start, end = MARCH_PERIOD.start, MARCH_PERIOD.end
    return (stats.headline(supervisor, start, end, now=NOW), stats.by_agency(supervisor, start, end, now=NOW),
            stats.rating_levels(supervisor, start, end))


def dashboard_numbers(client, auth, march) -> str:
    from .test_dashboard import text_of

    auth.login(march.supervisor)
    page = client.get(f"/dashboard/?{MARCH_ARGS}").get_data(as_text=True)
    auth.logout()
    return text_of(page[page.index("<h1"):])


def test_retention_strips_old_final_cases_and_keeps_every_figure(app, make, client, auth, runner, frozen_now):
    march = build_march(make)
    old = [march.cases[name] for name in ("a1", "a7", "c2")]
    recent = march.cases["b1"]
    for case in old:
        case.closed_at = LONG_AGO
    recent.closed_at = utcnow() - timedelta(days=30)
    db.session.commit()
    files = {case.code: give_personal_data(case) for case in old + [recent]}
    assert all(path.is_file() for path in files.values())
    before, page_before = figures(march), dashboard_numbers(client, auth, march)
    assert "Tiếp nhận trong kỳ 13" in page_before

    dry = runner.invoke(args=["privacy", "anonymise", "--dry-run"])
    assert "would anonymise 3 case(s)" in dry.output and "3 attachment(s)" in dry.output, dry.output
    assert personal_data_left(old[0]) != []

    result = runner.invoke(args=["privacy", "anonymise"])
    assert result.exit_code == 0, result.output
    assert "anonymised 3 case(s)" in result.output and "PAKN.TEST.A1" in result.output

    for case in old:
        assert personal_data_left(case) == [], case.code
        assert case.sender_name == ERASED and case.anonymised_at is not None
        assert not files[case.code].exists()
    assert set(personal_data_left(recent)) == set(PERSONAL) | {"attachments", "private link"}
    assert files[recent.code].is_file()
    a1 = march.cases["a1"]
    assert a1.rating.level == 5 and a1.outcome == "explained" and a1.answer_working_days == 6
    assert [e.action for e in a1.events][-2:] == ["info_provided", "note_added"]
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "case.anonymised")).scalars().all()

    assert figures(march) == before
    assert dashboard_numbers(client, auth, march) == page_before

    again = runner.invoke(args=["privacy", "anonymise"])
    assert "anonymised 0 case(s)" in again.output


def test_the_retention_period_comes_from_the_setting_or_the_option(app, make, runner):
    closed = make.case(status="closed", closed_at=utcnow() - timedelta(days=100))
    assert "anonymise 0 case(s)" in runner.invoke(args=["privacy", "anonymise", "--dry-run"]).output
    assert app.config["RETENTION_DAYS"] == 1826
    assert "would anonymise 1 case(s)" in runner.invoke(
        args=["privacy", "anonymise", "--older-than", "90", "--dry-run"]).output
    open_case = make.case(status="in_progress", closed_at=utcnow() - timedelta(days=100))
    runner.invoke(args=["privacy", "anonymise", "--older-than", "90"])
    db.session.refresh(closed)
    db.session.refresh(open_case)
    assert closed.anonymised_at is not None and open_case.anonymised_at is None
    assert open_case.sender_name == "Nguyễn Văn An"
    assert db.session.execute(select(Attachment)).first() is None


# The sender's rights through the private link -------------------------------------


def withdrawn_case_with_a_file(client, make):
    """A case the sender submitted, attached a file to, then withdrew on the
    private page: returns (case, token, path of the file)."""
    from .helpers import submitted_case

    case, token = submitted_case(make, sender_id_number="031099001234")
    with written_files() as files:
        [attachment] = files.save(case, [Upload("giay-to-nguyen-van-an.pdf", PDF_BYTES, "application/pdf")])
        db.session.commit()
    page = client.get(f"/c/{token}/withdraw").get_data(as_text=True)
    form = page_form(page, "")
    form_data = form.data() | {"reason": "Tôi đã tự giải quyết được."}
    assert client.post(f"/c/{token}/withdraw", data=form_data).status_code == 303
    db.session.refresh(case)
    assert case.status == "withdrawn"
    return case, token, storage().path_of(attachment.stored_name)


def test_the_sender_downloads_a_json_copy_of_everything_held_about_their_case(app, client, make):
    case, token, _path = withdrawn_case_with_a_file(client, make)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert f"/c/{token}/data.json" in page

    response = client.get(f"/c/{token}/data.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["code"] == case.code and data["status"] == "withdrawn"
    assert data["sender"]["name"] == "Nguyễn Văn An" and data["sender"]["id_number"] == "031099001234"
    assert data["submission"]["content"] == case.content
    assert data["attachments"] == [{"name": "giay-to-nguyen-van-an.pdf", "size": len(PDF_BYTES),
                                    "type": "application/pdf", "from_sender": True,
                                    "uploaded_at": data["attachments"][0]["uploaded_at"]}]
    assert "Tôi đã tự giải quyết được." in [entry["note"] for entry in data["timeline"]]
    assert {m["template"] for m in data["messages_sent_to_you"]} >= {"receipt"}
    assert all(m["to"] == "an.nguyen@example.vn" for m in data["messages_sent_to_you"])
    # The copy handed out is on the audit trail, without the data it carried.
    audited = db.session.execute(select(AuditLog).where(AuditLog.action == "privacy.data_copy")).scalars().all()
    assert [row.case_id for row in audited] == [case.id]
    assert "Nguyễn Văn An" not in json.dumps(audited[0].detail, ensure_ascii=False)


def test_the_sender_asks_for_erasure_and_the_desk_confirms_it(app, client, make, auth):
    desk = make.user("desk", email="desk@hp.vn")
    case, token, path = withdrawn_case_with_a_file(client, make)
    assert path.is_file()

    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert f"/c/{token}/erase" in page
    page = client.get(f"/c/{token}/erase").get_data(as_text=True)
    assert "đường dẫn riêng này chỉ còn cho biết dữ liệu đã được xoá" in page
    form = page_form(page, "")
    unconfirmed = client.post(f"/c/{token}/erase", data=form.data())
    assert unconfirmed.status_code == 422 and "Vui lòng đánh dấu xác nhận" in unconfirmed.get_data(as_text=True)
    response = client.post(f"/c/{token}/erase", data=form.data() | {"confirm": "y"}, follow_redirects=True)
    assert "Đã gửi yêu cầu xoá dữ liệu cá nhân" in response.get_data(as_text=True)
    assert "bộ phận tiếp nhận đang xem xét" in client.get(f"/c/{token}").get_data(as_text=True)

    auth.login(desk)
    assert "1 yêu cầu xoá dữ liệu cá nhân đang chờ xử lý" in client.get("/staff/desk").get_data(as_text=True)
    listing = client.get("/staff/erasure").get_data(as_text=True)
    assert case.code in listing
    confirm = page_form(listing, "/confirm")
    not_ticked = client.post(confirm.action, data=confirm.data(), follow_redirects=True).get_data(as_text=True)
    assert "Vui lòng đánh dấu xác nhận" in not_ticked
    assert path.is_file()
    done = client.post(confirm.action, data=confirm.data() | {"confirm": "y"}, follow_redirects=True)
    assert f"Đã xoá dữ liệu cá nhân của phản ánh {case.code}" in done.get_data(as_text=True)
    assert "Không có yêu cầu xoá dữ liệu nào đang chờ" in done.get_data(as_text=True)
    auth.logout()

    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.sender_name == ERASED and case.sender_phone == "" and case.sender_email == ""
    assert case.sender_id_number == "" and case.content == ERASED and case.attachments == []
    assert all(e.note == "" for e in case.events)
    assert not path.exists()
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "case.anonymised",
                                                     AuditLog.user_id == desk.id)).scalar_one()
    erased = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Dữ liệu cá nhân của phản ánh này đã được xoá" in erased and "Nguyễn Văn An" not in erased


def test_the_desk_may_refuse_an_erasure_with_a_reason_the_sender_reads(app, client, make, auth):
    desk = make.user("desk", email="desk@hp.vn")
    case, token, path = withdrawn_case_with_a_file(client, make)
    form = page_form(client.get(f"/c/{token}/erase").get_data(as_text=True), "")
    client.post(f"/c/{token}/erase", data=form.data() | {"confirm": "y"})

    auth.login(desk)
    refuse = page_form(client.get("/staff/erasure").get_data(as_text=True), "/refuse")
    blank = client.post(refuse.action, data=refuse.data(), follow_redirects=True).get_data(as_text=True)
    assert "Vui lòng nêu lý do từ chối" in blank
    reason = "Phản ánh đang là chứng cứ của một khiếu nại chưa giải quyết xong."
    client.post(refuse.action, data=refuse.data() | {"reason": reason})
    auth.logout()

    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "không được chấp nhận" in page and reason in page
    db.session.refresh(case)
    assert case.anonymised_at is None and path.is_file()


def test_an_open_case_cannot_be_erased(app, client, make):
    from .helpers import submitted_case

    case, token = submitted_case(make)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert f"/c/{token}/erase" not in page
    assert "Khi phản ánh đã kết thúc hoặc đã rút, bạn có thể yêu cầu xoá dữ liệu cá nhân" in page
    response = client.post(f"/c/{token}/erase", data={"confirm": "y"})
    assert response.status_code == 409
    assert "Phản ánh này vẫn đang được xử lý" in response.get_data(as_text=True)
    db.session.refresh(case)
    assert case.anonymised_at is None and case.sender_name == "Nguyễn Văn An"
