"""The outbox and its delivery: after commit, once, with retries and backoff,
permanent failures shown to the desk, a sweeper that loses nothing, e-mail
bodies in the recipient's language with everything escaped (docs/design.md §5)."""
from __future__ import annotations

from datetime import UTC, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select

from feedback import workflow as wf
from feedback.extensions import db
from feedback.jobs import deliver, delivery, delivery_problems, problem_label, sweep
from feedback.mail import PermanentFailure, TemporaryFailure, format_when, register_channel, render_mail
from feedback.models import AuditLog, Case, Notification
from feedback.notifications import CITIZEN_TEMPLATES, STAFF_TEMPLATES, notify_user
from feedback.workflow import Actor

from .helpers import local, submit


@pytest.fixture
def no_dispatch(app, monkeypatch):
    """Leave committed rows pending, as when the process died right after the commit."""
    monkeypatch.setitem(app.config, "OUTBOX_DISPATCH_AFTER_COMMIT", False)


SUBMITTED = local(2027, 3, 1)  # Monday 09:00


def receipt_of(case) -> Notification:
    return db.session.execute(select(Notification).where(
        Notification.case_id == case.id, Notification.template == "receipt")).scalar_one()


def rows(**where) -> list[Notification]:
    query = select(Notification).order_by(Notification.id)
    for name, value in where.items():
        query = query.where(getattr(Notification, name) == value)
    return list(db.session.execute(query.execution_options(populate_existing=True)).scalars())


# After commit, once ---------------------------------------------------------


def test_a_submission_mails_the_receipt_once_its_transaction_commits(world, mailbox):
    case, token = submit(world.category, SUBMITTED)

    assert len(mailbox) == 1
    mail = mailbox[0]
    assert mail.to == "an@example.vn" and mail.template == "receipt"
    assert case.code in mail.subject and mail.subject.startswith("Đã tiếp nhận")
    assert f"/c/{token}" in mail.text and f"/c/{token}" in mail.html
    assert "Đăng ký khai sinh chậm" in mail.text
    row = receipt_of(case)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
    assert row.sent_at is not None


def test_a_change_that_is_rolled_back_sends_nothing(world, mailbox):
    wf.submit_case(wf.Submission(type="report", sender_kind="individual", sender_name="Trần Bình",
                                 sender_address="Hải Phòng", sender_phone="0912000000",
                                 sender_email="binh@example.vn", title="Tiêu đề", content="Nội dung",
                                 category_id=world.category.id))
    db.session.rollback()
    db.session.commit()  # a later, unrelated commit must not send the forgotten row either

    assert mailbox == []
    assert rows() == []


def test_mail_goes_out_in_the_recipients_language(world, mailbox):
    case, _ = submit(world.category, SUBMITTED, language="en")
    assert mailbox[0].subject == f"Feedback received: {case.code}"
    assert "Dear Nguyễn Văn An" in mailbox[0].text
    assert '<html lang="en">' in mailbox[0].html


def test_html_bodies_escape_what_citizens_and_staff_typed(world, mailbox):
    case, _ = submit(world.category, SUBMITTED, title='<script>alert("x")</script> thủ tục')
    wf.reject_case(case, Actor(world.desk), reason='<img src=x onerror="alert(1)">')
    db.session.commit()

    receipt, rejected = mailbox
    assert rejected.template == "rejected"
    for mail in (receipt, rejected):
        assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "<img" not in rejected.html and "&lt;img src=x" in rejected.html
    assert '<img src=x onerror="alert(1)">' in rejected.text  # plain text stays readable


def test_the_mime_message_has_text_and_html_parts_and_a_stable_message_id(world, mailbox, app):
    from feedback.mail import build_mime

    case, _ = submit(world.category, SUBMITTED)
    message = message_from_bytes(build_mime(mailbox[0], app.config["MAIL_SENDER"]).as_bytes(),
                                 policy=policy.default)
    assert case.code in message["Subject"]
    assert message["Message-ID"] == f"<notification-{receipt_of(case).id}@haiphong.gov.vn>"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


SAMPLE_PAYLOADS = {
    "receipt": {"private_url": "https://pakn.example/c/t", "classify_due": "2027-03-08T10:00:00+00:00"},
    "access_link": {"private_url": "https://pakn.example/c/t"},
    "access_link_confirm": {"valid_hours": 24},
    "account_exists": {"login_url": "https://pakn.example/auth/login", "forgot_url": "https://pakn.example/auth/forgot"},
    "verify_email": {"verify_url": "https://pakn.example/auth/verify/t"},
    "info_requested": {"message": "Bản sao giấy khai sinh", "info_due": "2027-03-15T10:00:00+00:00"},
    "transferred": {"agency": "Sở Y tế", "reason": "Đúng thẩm quyền"},
    "answered": {"outcome": "explained", "answer": "Đã hướng dẫn."},
    "rating_request": {"rating_url": "https://pakn.example/rate/x", "rating_due": "2027-03-29T10:00:00+00:00"},
    "review_outcome": {"reopened": True, "note": "Trả lời chưa đầy đủ", "answer_due": "2027-04-12T10:00:00+00:00"},
    "closed_incomplete": {},
    "rejected": {"reason": "Không thuộc phạm vi"},
    "extension_approved": {"days": 5, "reason": "Cần xác minh", "answer_due": "2027-03-22T10:00:00+00:00"},
    "merged": {"into": "PAKN.20270301.0002"},
    "reopened": {"note": "Mở lại", "answer_due": "2027-04-12T10:00:00+00:00"},
    "reminder": {"deadline_kind": "answer_due", "deadline_at": "2027-03-15T10:00:00+00:00", "step": "due_soon",
                 "agency": "Sở Tư pháp"},
    "digest": {"date": "2027-03-15", "cases": [], "more": 0, "overdue_count": 0, "due_today_count": 0,
               "inbox_url": "https://pakn.example/staff/"},
    "assigned": {"agency": "Sở Tư pháp", "answer_due": "2027-03-15T10:00:00+00:00"},
    "approval_needed": {},
    "extension_requested": {"days": 5, "reason": "Cần xác minh"},
    "review_requested": {"reason": "Chưa thỏa đáng"},
    "info_provided": {},
}


def test_every_template_the_workflow_uses_has_a_sample_here():
    assert set(SAMPLE_PAYLOADS) == CITIZEN_TEMPLATES | STAFF_TEMPLATES


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("template", sorted(SAMPLE_PAYLOADS))
def test_every_template_renders_a_subject_with_the_code_and_both_bodies(app, template, language):
    payload = dict(SAMPLE_PAYLOADS[template])
    about_a_case = template not in ("digest", "verify_email", "account_exists")
    if about_a_case:
        payload.update(code="PAKN.20270301.0001", title="Đăng ký khai sinh chậm")
    mail = render_mail(Notification(id=7, recipient="a@example.vn", template=template, language=language,
                                    payload=payload))
    if about_a_case:
        assert "PAKN.20270301.0001" in mail.subject
    assert mail.subject and "\n" not in mail.subject
    assert len(mail.text) > 80 and f'<html lang="{language}">' in mail.html
    # What the workflow put in the payload reaches the reader, in both bodies.
    for key, value in payload.items():
        if key in ("message", "reason", "note", "agency", "answer", "into", "title", "private_url", "rating_url",
                   "verify_url", "login_url", "forgot_url"):
            assert value in mail.text and value in mail.html, key
        if key.endswith("_due") or key == "deadline_at":
            assert format_when(value) in mail.text and format_when(value) in mail.html, key


# Delivery runs once per claim ---------------------------------------------------


def test_a_delivery_job_run_twice_sends_one_mail(world, mailbox, no_dispatch):
    case, _ = submit(world.category, SUBMITTED)
    row_id = receipt_of(case).id

    assert [deliver(row_id), deliver(row_id)] == ["sent", "skipped"]
    assert [m.notification_id for m in mailbox] == [row_id]
    assert receipt_of(case).attempts == 1


def test_a_job_finding_the_row_claimed_by_another_worker_sends_nothing(world, mailbox, no_dispatch):
    case, _ = submit(world.category, SUBMITTED)
    row_id = receipt_of(case).id
    assert delivery._claim(row_id, delivery.utcnow()) == 1  # another worker is mid-send

    assert deliver(row_id) == "skipped"
    assert mailbox == []


def test_temporary_failures_back_off_1_5_30_120_minutes_then_give_up(world, mailbox, no_dispatch):
    case, _ = submit(world.category, SUBMITTED)
    row_id = receipt_of(case).id
    mailbox.fail_next(*[TemporaryFailure("421 try again later")] * 5)
    t = local(2027, 3, 1, 10)

    assert deliver(row_id, now=t) == "retry"
    waits = []
    for _ in range(4):
        row = rows(id=row_id)[0]
        waits.append(int((row.next_attempt_at - t).total_seconds() // 60))
        assert sweep(now=row.next_attempt_at - timedelta(seconds=1)).dispatched == 0  # not before its time
        t = row.next_attempt_at
        sweep(now=t)
    assert waits == [1, 5, 30, 120]
    row = rows(id=row_id)[0]
    assert (row.status, row.attempts) == ("failed", 5)
    assert row.last_error.startswith("gave up after 5 attempts: 421")
    assert delivery_problems(case) == [row]
    assert mailbox == []


def test_a_failure_then_success_sends_exactly_one_mail(world, mailbox, no_dispatch):
    case, _ = submit(world.category, SUBMITTED)
    row_id = receipt_of(case).id
    mailbox.fail_next(TemporaryFailure("connection refused"))
    t = local(2027, 3, 1, 10)

    assert deliver(row_id, now=t) == "retry"
    sweep(now=t + timedelta(minutes=1))
    sweep(now=t + timedelta(minutes=2))

    assert len(mailbox) == 1
    row = rows(id=row_id)[0]
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")


def test_a_permanent_failure_is_not_retried_and_is_shown_to_the_desk(world, mailbox, client, auth):
    mailbox.fail_next(PermanentFailure("recipient refused: 550 5.1.1 mailbox unavailable"))
    case, _ = submit(world.category, SUBMITTED)
    row = receipt_of(case)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("permanent: recipient refused: 550")

    sweep(now=delivery.utcnow() + timedelta(days=1))
    assert rows(id=row.id)[0].attempts == 1 and mailbox == []
    assert delivery_problems(case) == [row]
    assert "không thử lại" in problem_label(row)

    auth.login(world.desk)
    page = client.get("/staff/deliveries").get_data(as_text=True)
    assert case.code in page and "an@example.vn" in page and "550 5.1.1" in page


def test_retry_now_from_the_desk_list_delivers_the_message(world, mailbox, client, auth):
    mailbox.fail_next(PermanentFailure("recipient refused: 550 mailbox full"))
    case, _ = submit(world.category, SUBMITTED)
    row_id = receipt_of(case).id

    auth.login(world.desk)
    response = client.post(f"/staff/deliveries/{row_id}/retry")
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/deliveries")

    assert [m.notification_id for m in mailbox] == [row_id]
    row = rows(id=row_id)[0]
    assert (row.status, row.attempts) == ("sent", 1)
    assert db.session.execute(select(AuditLog.action).where(AuditLog.user_id == world.desk.id)).scalars().all() \
        == ["notification.retry"]
    assert case.code not in client.get("/staff/deliveries").get_data(as_text=True)
    # A second press finds nothing to retry and sends nothing.
    client.post(f"/staff/deliveries/{row_id}/retry")
    assert len(mailbox) == 1


def test_only_desk_supervisors_and_admins_see_failed_deliveries(world, client, auth):
    auth.login(world.officer)
    assert client.get("/staff/deliveries").status_code == 403
    assert client.post("/staff/deliveries/1/retry").status_code == 403
    auth.logout()
    auth.login(world.supervisor)
    assert client.get("/staff/deliveries").status_code == 200


def test_an_address_that_is_not_an_e_mail_fails_for_good_without_trying(world, mailbox):
    case, _ = submit(world.category, SUBMITTED, sender_email="an nguyen at example")
    row = receipt_of(case)
    assert row.status == "failed" and row.last_error.startswith("permanent: not an e-mail address")
    assert mailbox == []


# The sweeper ---------------------------------------------------------------------


def test_the_sweeper_delivers_rows_that_were_never_queued(world, mailbox, no_dispatch):
    case, _ = submit(world.category, SUBMITTED)
    assert receipt_of(case).status == "pending" and mailbox == []

    report = sweep()

    assert report.dispatched == 1
    assert receipt_of(case).status == "sent" and len(mailbox) == 1
    assert sweep().dispatched == 0 and len(mailbox) == 1


def test_a_row_left_sending_by_a_dead_worker_is_marked_uncertain_not_sent_again(world, mailbox, no_dispatch):
    case, _ = submit(world.category, SUBMITTED)
    row_id = receipt_of(case).id
    claimed_at = delivery.utcnow()
    delivery._claim(row_id, claimed_at)  # the worker took it, then died

    assert sweep(now=claimed_at + timedelta(minutes=14)).uncertain == []
    assert sweep(now=claimed_at + timedelta(minutes=16)).uncertain == [row_id]

    row = rows(id=row_id)[0]
    assert row.status == "failed" and row.last_error.startswith("uncertain:")
    assert "Có thể đã gửi" in problem_label(row) and row.accepted_at is None
    assert mailbox == []


def test_a_dead_redis_leaves_rows_pending_and_the_change_committed(world, mailbox, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    case, _ = submit(world.category, SUBMITTED)

    assert db.session.get(Case, case.id) is not None
    row = receipt_of(case)
    assert (row.status, row.queued_at) == ("pending", None)
    assert sweep().dispatched == 0 and mailbox == []


def test_a_staff_retry_at_night_waits_for_office_hours(world, mailbox, no_dispatch):
    row = notify_user(None, world.officer, "digest", SAMPLE_PAYLOADS["digest"])
    db.session.commit()
    mailbox.fail_next(TemporaryFailure("421 busy"))
    assert deliver(row.id, now=local(2027, 3, 1, 16, 58)) == "retry"

    night = local(2027, 3, 1, 21)
    assert deliver(row.id, now=night) == "deferred"
    assert rows(id=row.id)[0].next_attempt_at == local(2027, 3, 2, 7, 30)
    assert sweep(now=night + timedelta(hours=2)).dispatched == 0 and mailbox == []

    sweep(now=local(2027, 3, 2, 7, 30))
    assert len(mailbox) == 1 and rows(id=row.id)[0].status == "sent"


# Channels and transports -----------------------------------------------------------


def test_development_mail_goes_to_the_console_and_a_folder(world, app, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "console")
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(tmp_path))
    case, _ = submit(world.category, SUBMITTED)

    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1 and files[0].name.endswith(f"-{receipt_of(case).id}-receipt.eml")
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert case.code in message["Subject"] and message["To"] == "an@example.vn"
    assert f"mail to an@example.vn: {message['Subject']}" in capsys.readouterr().out


def test_another_channel_plugs_in_without_touching_the_workflow(world, mailbox):
    sent = []

    class Sms:
        def send(self, notification):
            sent.append((notification.recipient, notification.payload["code"]))

    register_channel("sms", lambda app: Sms())
    try:
        case, _ = submit(world.category, SUBMITTED)
        row = Notification(case_id=case.id, recipient="0912345678", channel="sms", template="receipt",
                           payload={"code": case.code}, next_attempt_at=delivery.utcnow())
        db.session.add(row)
        db.session.commit()
    finally:
        from feedback.mail import _CHANNELS

        _CHANNELS.pop("sms", None)
    assert sent == [("0912345678", case.code)]
    assert rows(id=row.id)[0].status == "sent"


# Operator commands -------------------------------------------------------------------


def test_cli_sweep_and_retry_failed(world, mailbox, runner, no_dispatch):
    case, _ = submit(world.category, SUBMITTED)
    result = runner.invoke(args=["notifications", "sweep"])
    assert result.exit_code == 0 and "dispatched 1" in result.output
    assert len(mailbox) == 1

    db.session.execute(Notification.__table__.update().values(status="failed", last_error="permanent: 550"))
    db.session.commit()
    result = runner.invoke(args=["notifications", "retry-failed"])
    assert result.exit_code == 0 and "1 failed notification(s)" in result.output
    assert receipt_of(case).status == "pending"  # handed over on commit; dispatch is off here
    assert runner.invoke(args=["notifications", "sweep"]).exit_code == 0
    assert receipt_of(case).status == "sent" and len(mailbox) == 2
    assert db.session.execute(select(func.count()).select_from(Notification)).scalar_one() == 1


def test_the_sweeper_drops_api_idempotency_keys_after_a_day(app):
    from datetime import datetime

    from feedback.jobs import sweep
    from feedback.models import SubmissionKey

    now = datetime(2026, 3, 4, 3, tzinfo=UTC)
    db.session.add_all([
        SubmissionKey(key="api:old", created_at=now - timedelta(hours=25)),
        SubmissionKey(key="api:fresh", created_at=now - timedelta(hours=23)),
        SubmissionKey(key="form-token-old", created_at=now - timedelta(days=3)),
    ])
    db.session.commit()
    assert sweep(now).expired_keys == 1
    assert sorted(db.session.execute(select(SubmissionKey.key)).scalars()) == ["api:fresh", "form-token-old"]


def test_rq_finds_every_job_under_the_dotted_name_it_stores():
    """RQ stores ``module.qualname`` and workers import it back: jobs queued
    before the jobs package was split must still run."""
    from rq.utils import import_attribute

    from feedback import jobs
    from feedback.jobs.queue import DELIVER_JOB

    for name in ("deliver_job", "sweep_job", "scan_job", "digest_job"):
        job = getattr(jobs, name)
        assert f"{job.__module__}.{job.__qualname__}" == f"feedback.jobs.{name}"
        assert import_attribute(f"feedback.jobs.{name}") is job
    assert import_attribute(DELIVER_JOB) is jobs.deliver_job
    assert import_attribute("feedback.jobs.AppWorker") is jobs.AppWorker
