"""Personal data at rest and in publication: no usable link in the outbox or
anywhere in the database, consent to publish on record, and publication that
cannot leak the sender (DESIGN.md section 7)."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from feedback import workflow as wf
from feedback.extensions import db
from feedback.jobs import deliver, retry_now
from feedback.mail import PermanentFailure
from feedback.models import Case, Notification
from feedback.passwords import request_password_reset
from feedback.redaction import find_personal_data, redact
from feedback.text import fold

from .forms_support import form_on, post_form
from .helpers import CONSENT_TEXT, mailed_private_url, submit
from .pages import page_form

SENDER = dict(sender_name="Nguyễn Thị Hoa", sender_phone="0912345678", sender_email="hoa.nguyen@example.vn",
              sender_id_number="031234567890", sender_address="12 Lạch Tray, Ngô Quyền, Hải Phòng",
              sender_tax_code="", sender_representative="")


def submit_through_the_form(client, category, consent: bool = True) -> Case:
    """Steps 2 and 3 of the public form, as a person fills them."""
    details = page_form(client.get("/submit?triage=scope").get_data(as_text=True), "/submit").data()
    details.update({"full_name": "Nguyễn Thị Hoa", "address": "12 Lạch Tray, Ngô Quyền, Hải Phòng",
                    "phone": "0912 345 678", "email": "hoa.nguyen@example.vn", "type": "report",
                    "category_id": str(category.id), "title": "Khai sinh cho con chậm",
                    "content": "Hồ sơ đăng ký khai sinh nộp đã 30 ngày vẫn chưa có kết quả.", "step": "details"})
    form = page_form(client.post("/submit", data=details).get_data(as_text=True), "/submit")
    data = form.data()
    if consent:
        data["publish_consent"] = "y"
    data["step"] = "send"
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    return db.session.execute(select(Case).order_by(Case.id.desc())).scalars().first()


# 1. No secrets at rest ------------------------------------------------------------


def secrets_in(mails) -> set[str]:
    """Every bearer token the mails carry: the last part of each link that is long enough to be one."""
    found = set()
    for mail in mails:
        for url in re.findall(r"https?://[^\s\"<>]+", mail.text + mail.html):
            last = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            if len(last) >= 20:
                found.add(last)
    return found


def every_stored_text() -> str:
    """Every text and JSON value in every table, as one string."""
    values = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).mappings():
            values.extend(str(value) for value in row.values() if value is not None)
    return "\n".join(values)


def test_after_a_full_life_cycle_no_table_holds_a_link_token(client, world, mailbox, auth):
    case = submit_through_the_form(client, world.category)
    wf.assign_case(case, wf.Actor(world.desk), world.justice)
    wf.accept_case(case, wf.Actor(world.officer))
    wf.request_information(case, wf.Actor(world.officer), "Bản sao giấy chứng sinh")
    db.session.commit()
    wf.provide_information(case, wf.Actor.citizen(), "Đã gửi bản sao.")
    wf.submit_answer(case, wf.Actor(world.lead), "explained", "Sở đã hướng dẫn thủ tục.")
    db.session.commit()
    client.post("/resend", data={"code": case.code, "contact": "hoa.nguyen@example.vn"})
    auth.logout()
    client.post("/auth/register", data={"full_name": "Phạm Thị Lan", "email": "lan.pham@example.vn",
                                        "password": "mat-khau-rat-dai", "confirm": "mat-khau-rat-dai"})
    request_password_reset("officer@hp.vn")
    db.session.commit()

    templates = {mail.template for mail in mailbox}
    assert {"receipt", "access_link_confirm", "info_requested", "rating_request", "verify_email",
            "password_reset"} <= templates
    tokens = secrets_in(mailbox)
    assert len(tokens) >= 6
    stored = every_stored_text()
    assert [token for token in tokens if token in stored] == []


def test_a_waiting_row_holds_the_private_link_sealed_and_drops_it_once_delivered(client, world, mailbox, app):
    app.config["OUTBOX_DISPATCH_AFTER_COMMIT"] = False
    try:
        case, token = submit(world.category, sender_email="hoa.nguyen@example.vn")
        row = db.session.execute(select(Notification).where(Notification.case_id == case.id)).scalar_one()
        assert token not in str(row.payload) and "sealed" in row.payload
        assert f"/c/{token}" in mailed_private_url(row)  # the mail still carries it
        assert deliver(row.id) == "sent"
    finally:
        app.config["OUTBOX_DISPATCH_AFTER_COMMIT"] = True
    db.session.refresh(row)
    assert "sealed" not in row.payload and token not in str(row.payload)
    assert f"/c/{token}" in mailbox[-1].text


def test_a_row_failed_for_good_and_retried_asks_the_citizen_for_a_new_link(client, world, mailbox, app):
    mailbox.fail_next(PermanentFailure("550 mailbox unavailable"))
    case, token = submit(world.category, sender_email="hoa.nguyen@example.vn")
    row = db.session.execute(select(Notification).where(Notification.case_id == case.id)).scalar_one()
    db.session.refresh(row)
    assert row.status == "failed" and token not in str(row.payload)
    assert retry_now(row.id)
    db.session.commit()
    mail = mailbox[-1]
    assert token not in mail.text and "/resend" in mail.text and "đường dẫn mới" in mail.text


def test_the_console_copy_says_it_is_a_development_copy(app, world, tmp_path):
    app.config.update(MAIL_BACKEND="console", MAIL_FOLDER=str(tmp_path))
    try:
        submit(world.category, sender_email="hoa.nguyen@example.vn")
    finally:
        app.config["MAIL_BACKEND"] = "memory"
    (copy,) = tmp_path.glob("*.eml")
    assert b"X-Feedback-Note: development copy" in copy.read_bytes()


# 2. Consent on record -----------------------------------------------------------


def test_consent_ticked_on_the_web_form_is_recorded_with_its_time_and_wording(client, world):
    case = submit_through_the_form(client, world.category)
    assert case.publish_consent and case.publish_consent_at is not None
    assert case.publish_consent_text == CONSENT_TEXT
    unticked = submit_through_the_form(client, world.category, consent=False)
    assert not unticked.publish_consent and unticked.publish_consent_at is None and not unticked.publish_consent_text


def test_consent_without_its_record_does_not_allow_publication(world):
    case, _ = submit(world.category, publish_consent=True, publish_consent_text="")
    wf.assign_case(case, wf.Actor(world.desk), world.justice)
    wf.accept_case(case, wf.Actor(world.officer))
    wf.submit_answer(case, wf.Actor(world.lead), "explained", "Sở đã hướng dẫn.")
    assert not wf.allowed(case, wf.Actor(world.desk), "publish")
    with pytest.raises(wf.NotAllowedNow):
        wf.publish_case(case, wf.Actor(world.desk), "Khai sinh chậm", "Một công dân hỏi về khai sinh.")


# 3. Publication that cannot leak the sender ------------------------------------------


def sender_case() -> Case:
    return Case(**SENDER)


names = st.sampled_from(["Nguyễn Thị Hoa", "Thị Hoa", "Hoa"]).flatmap(lambda name: st.sampled_from([
    name, fold(name), name.upper(), fold(name).upper(), name.replace(" ", "  "), fold(name).title(),
    fold(name).replace(" ", ""), name.lower()]))


def spaced_digits(digits: str, separators) -> st.SearchStrategy[str]:
    return st.lists(separators, min_size=len(digits) - 1, max_size=len(digits) - 1).map(
        lambda seps: digits[0] + "".join(sep + d for sep, d in zip(seps, digits[1:], strict=True)))


phones = st.one_of(spaced_digits("0912345678", st.sampled_from(["", ".", " ", "-"])),
                   spaced_digits("912345678", st.sampled_from(["", " ", "."])).map(lambda p: "+84 " + p))
ids = spaced_digits("031234567890", st.sampled_from(["", " ", ".", "-"]))
emails = st.sampled_from(["hoa.nguyen@example.vn", "hoa.nguyen [at] example.vn", "hoa.nguyen(at)example.vn",
                          "hoa.nguyen @ example.vn", "HOA.NGUYEN [AT] EXAMPLE [DOT] VN", "hoa.nguyen"])
addresses = st.sampled_from(["12 Lạch Tray", "12 lach tray", "12, Lạch Tray", "12 LẠCH TRAY, Ngô Quyền, Hải Phòng"])
pieces = st.lists(st.one_of(names, phones, ids, emails, addresses), min_size=1, max_size=4)
fillers = st.sampled_from(["Kính gửi ông/bà", "số", "thư", "ở", "Sở Tư pháp đã hướng dẫn thủ tục.", ":", ","])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=pieces, filler=fillers)
def test_the_redacted_text_holds_none_of_the_senders_data_in_any_spelling(app, pieces, filler):
    case = sender_case()
    text = f" {filler} ".join(pieces) + " Sở Tư pháp đã hướng dẫn thủ tục."
    assert find_personal_data(text, case)  # the sender's data is found as written...
    redacted = redact(text, case)
    assert find_personal_data(redacted, case) == []  # ...and none of it is left
    assert "Sở Tư pháp đã hướng dẫn thủ tục." in redacted
    for piece in pieces:
        assert fold(piece) not in fold(redacted)


def answered_case(client, world) -> Case:
    case = submit_through_the_form(client, world.category)
    wf.assign_case(case, wf.Actor(world.desk), world.justice)
    wf.accept_case(case, wf.Actor(world.officer))
    wf.submit_answer(case, wf.Actor(world.lead), "explained",
                     "Kính gửi bà NGUYEN THI HOA (CCCD 0312 3456 7890, ĐT 0912.345.678, thư hoa.nguyen [at] "
                     "example.vn): Sở Tư pháp đã hướng dẫn thủ tục khai sinh.")
    db.session.commit()
    return case


def test_the_desk_publishes_what_it_checked_and_is_refused_while_the_sender_shows(client, world, auth):
    case = answered_case(client, world)
    auth.login(world.desk)
    url = f"/staff/cases/{case.code}"
    html = client.get(url).get_data(as_text=True)
    form = form_on(html, "public_answer")
    # The form is pre-filled with the redacted texts, and shows the answer as it will appear.
    assert "Sở Tư pháp đã hướng dẫn thủ tục khai sinh." in form["public_answer"]
    assert find_personal_data(form["public_answer"], case) == []

    refused = post_form(client, html, url, "public_answer", public_answer=case.answer)
    db.session.refresh(case)
    assert not case.published
    page = client.get(refused.headers.get("Location", url)).get_data(as_text=True)
    for kind in ("họ tên", "số điện thoại", "thư điện tử", "số định danh cá nhân"):
        assert kind in page

    html = client.get(url).get_data(as_text=True)
    post_form(client, html, url, "public_answer",
              public_answer="Kính gửi bà [tên]: Sở Tư pháp đã hướng dẫn thủ tục khai sinh.")
    db.session.refresh(case)
    assert case.published and case.public_answer.startswith("Kính gửi bà [tên]")
    auth.logout()
    public = client.get(f"/published/{case.code}").get_data(as_text=True)
    assert "Kính gửi bà [tên]" in public and case.public_title in public
    api = client.get(f"/api/v1/cases/{case.code}").get_json()["published_answer"]
    assert api["answer"] == case.public_answer
    for private in ("NGUYEN THI HOA", "0912.345.678", "0312 3456 7890", "hoa.nguyen"):
        assert private not in public and private not in str(api)
