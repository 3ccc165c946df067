"""Uncertain deliveries: a mail interrupted mid-send may have reached its
recipient. What is known (the mail server accepted it, or nobody knows) is
kept and shown, and "retry now" asks before sending a possible duplicate."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from feedback.extensions import db
from feedback.jobs import delivery, sweep
from feedback.labels import localdatetime
from feedback.mail import PermanentFailure
from feedback.models import AuditLog, Notification

from .helpers import local, submit
from .pages import page_form

SUBMITTED = local(2027, 3, 1)  # Monday 09:00


def row(notification_id: int) -> Notification:
    return db.session.execute(select(Notification).where(Notification.id == notification_id)
                              .execution_options(populate_existing=True)).scalar_one()


def receipt_id(case) -> int:
    return db.session.execute(select(Notification.id).where(
        Notification.case_id == case.id, Notification.template == "receipt")).scalar_one()


@pytest.fixture
def accepted_then_lost(world, mailbox, monkeypatch):
    """A receipt the mail server accepted whose row could not be marked sent
    (the final update raised once); 16 minutes later the sweeper calls it
    uncertain. Returns (case, notification id)."""
    real = delivery._mark_sent
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("database connection lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(delivery, "_mark_sent", fails_once)
    case, _ = submit(world.category, SUBMITTED)
    notification_id = receipt_id(case)
    assert len(mailbox) == 1 and calls
    stuck = row(notification_id)
    assert stuck.status == "sending" and stuck.accepted_at is not None

    assert sweep(now=delivery.utcnow() + timedelta(minutes=16)).uncertain == [notification_id]
    return case, notification_id


def retry_form_on_list(client, notification_id: int):
    html = client.get("/staff/deliveries").get_data(as_text=True)
    return page_form(html, f"/staff/deliveries/{notification_id}/retry")


def test_an_accepted_mail_whose_row_was_not_marked_sent_says_so(accepted_then_lost, world, client, auth, mailbox):
    case, notification_id = accepted_then_lost
    failed = row(notification_id)
    assert failed.status == "failed" and failed.last_error.startswith("uncertain:")
    assert "the mail server accepted the message at" in failed.last_error
    accepted = localdatetime(failed.accepted_at)

    auth.login(world.desk)
    page = client.get("/staff/deliveries").get_data(as_text=True)
    assert "Có thể đã gửi" in page and f"Máy chủ thư đã nhận lúc {accepted}" in page
    assert "Không rõ máy chủ thư đã nhận" not in page
    case_page = client.get(f"/staff/cases/{case.code}").get_data(as_text=True)
    assert "Có thể đã gửi" in case_page and f"Máy chủ thư đã nhận lúc {accepted}" in case_page

    client.get("/lang/en")
    english = client.get("/staff/deliveries").get_data(as_text=True)
    assert "May have been sent" in english and f"The mail server accepted it at {accepted}" in english
    assert len(mailbox) == 1


def test_a_crash_before_the_server_answered_says_nobody_knows(world, mailbox, client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_DISPATCH_AFTER_COMMIT", False)
    case, _ = submit(world.category, SUBMITTED)
    notification_id = receipt_id(case)
    claimed_at = delivery.utcnow()
    delivery._claim(notification_id, claimed_at)  # the worker took it, then died
    assert sweep(now=claimed_at + timedelta(minutes=16)).uncertain == [notification_id]
    assert "not known whether the mail server accepted" in row(notification_id).last_error

    auth.login(world.desk)
    page = client.get("/staff/deliveries").get_data(as_text=True)
    assert "Có thể đã gửi" in page and "Không rõ máy chủ thư đã nhận hay chưa" in page
    client.get("/lang/en")
    english = client.get(f"/staff/cases/{case.code}").get_data(as_text=True)
    assert "May have been sent" in english and "Not known whether the mail server accepted it" in english


def test_retry_on_an_uncertain_row_asks_first_and_sends_once_when_confirmed(
        accepted_then_lost, world, client, auth, mailbox, app, monkeypatch):
    _case, notification_id = accepted_then_lost
    auth.login(world.desk)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)  # the forms carry their tokens

    form = retry_form_on_list(client, notification_id)
    response = client.post(form.action, data=form.data())
    assert response.status_code == 200
    confirm = response.get_data(as_text=True)
    assert "Gửi lại thông báo có thể đã gửi" in confirm and "bản trùng" in confirm
    assert f"Máy chủ thư đã nhận lúc {localdatetime(row(notification_id).accepted_at)}" in confirm
    assert len(mailbox) == 1 and row(notification_id).status == "failed"

    # The confirmation form posted without ticking its box sends nothing either.
    unticked = page_form(confirm, "confirm-retry")
    assert "confirm_duplicate" not in unticked.data()
    response = client.post(unticked.action, data=unticked.data())
    assert response.status_code == 422 and "Hãy đánh dấu ô xác nhận" in response.get_data(as_text=True)
    assert len(mailbox) == 1 and row(notification_id).status == "failed"

    ticked = {**unticked.data(), "confirm_duplicate": "1"}
    response = client.post(unticked.action, data=ticked)
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/deliveries")
    assert [m.notification_id for m in mailbox] == [notification_id, notification_id]
    sent = row(notification_id)
    assert (sent.status, sent.attempts) == ("sent", 1)
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "notification.retry")).scalar_one()
    assert audit.detail["uncertain_confirmed"] is True

    # Pressing it again finds nothing to retry.
    client.post(unticked.action, data=ticked)
    assert len(mailbox) == 2


def test_a_certain_failure_retries_at_once(world, mailbox, client, auth):
    mailbox.fail_next(PermanentFailure("recipient refused: 550 mailbox full"))
    case, _ = submit(world.category, SUBMITTED)
    notification_id = receipt_id(case)
    auth.login(world.desk)

    page = client.get("/staff/deliveries").get_data(as_text=True)
    assert "Có thể đã gửi:" not in page and "Máy chủ thư đã nhận" not in page
    form = retry_form_on_list(client, notification_id)
    response = client.post(form.action, data=form.data())
    assert response.status_code == 302
    assert [m.notification_id for m in mailbox] == [notification_id]
    assert row(notification_id).status == "sent"


def test_cli_retry_failed_skips_uncertain_rows_unless_told(accepted_then_lost, runner, mailbox):
    _case, notification_id = accepted_then_lost

    result = runner.invoke(args=["notifications", "retry-failed"])
    assert result.exit_code == 0
    assert "0 failed notification(s)" in result.output and "skipped 1 uncertain" in result.output
    assert "--include-uncertain" in result.output
    assert row(notification_id).status == "failed" and len(mailbox) == 1

    result = runner.invoke(args=["notifications", "retry-failed", "--include-uncertain"])
    assert result.exit_code == 0 and "1 failed notification(s)" in result.output
    assert row(notification_id).status == "sent" and len(mailbox) == 2
