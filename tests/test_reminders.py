"""The reminder scan on a frozen clock: each reminder once, in office hours
only, escalation to supervisors, new reminders for an extended deadline,
the morning digest, automatic closing, and the cron schedule (docs/design.md §5)."""
from __future__ import annotations

import time as time_module
from datetime import datetime, timedelta

import pytest
from redis import Redis
from rq.cron import CronScheduler
from sqlalchemy import func, select

from feedback import reminders
from feedback import workflow as wf
from feedback.deadlines import OFFICE_TZ
from feedback.extensions import db
from feedback.jobs import deliver, exclusive
from feedback.models import Case, Notification, ReminderDelivery
from feedback.reminders import file_digests, reminder_steps, scan
from feedback.workflow import Actor

from .helpers import local, submit


def taken_by_officer(world, received=None) -> Case:
    """Received Monday 1 March 2027, assigned to the justice department the same
    morning and taken by its officer: the answer is due Monday 15 March, 17:00."""
    received = received or local(2027, 3, 1, 9)
    case, _ = submit(world.category, received)
    wf.assign_case(case, Actor(world.desk), world.justice, now=received + timedelta(hours=1))
    wf.accept_case(case, Actor(world.officer), now=received + timedelta(hours=2))
    db.session.commit()
    return case


def reminders_sent(mailbox) -> list[tuple[str, str, str]]:
    """(recipient, deadline kind, step) of every reminder mail, in sending order."""
    sent = []
    for mail in mailbox:
        if mail.template == "reminder":
            payload = db.session.get(Notification, mail.notification_id).payload
            sent.append((mail.to, payload["deadline_kind"], payload["step"]))
    return sent


def scan_twice_and_redeliver(at: datetime) -> None:
    """A scan repeated by a second cron tick, then every delivery job run again."""
    scan(now=at)
    scan(now=at)
    for notification_id in db.session.execute(select(Notification.id)).scalars().all():
        deliver(notification_id, now=at)


# The walk ------------------------------------------------------------------------


def test_a_case_walks_to_overdue_and_escalation_with_each_reminder_once(world, mailbox):
    case = taken_by_officer(world)
    assert case.answer_due == local(2027, 3, 15, 17, 0)
    officer, lead, supervisor = "officer@hp.vn", "lead@hp.vn", "supervisor@hp.vn"
    walk = [
        (local(2027, 3, 10, 9), []),                                    # nothing yet
        (local(2027, 3, 11, 7, 0), []),                                 # before the office opens
        (local(2027, 3, 11, 9), [(officer, "due_soon"), (lead, "due_soon")]),
        (local(2027, 3, 11, 20), []),                                   # evening
        (local(2027, 3, 12, 10), []),                                   # already told
        (local(2027, 3, 13, 10), []),                                   # Saturday
        (local(2027, 3, 15, 8), [(officer, "due_today"), (lead, "due_today")]),
        (local(2027, 3, 15, 18), []),                                   # overdue, but the office is closed
        (local(2027, 3, 16, 7, 30), [(officer, "overdue"), (lead, "overdue")]),
        (local(2027, 3, 17, 16, 59), []),                               # two working days not over yet
        (local(2027, 3, 18, 7, 30), [(supervisor, "escalated")]),
        (local(2027, 3, 19, 10), []),
    ]
    for at, expected in walk:
        before = len(reminders_sent(mailbox))
        scan_twice_and_redeliver(at)
        new = [(to, step) for to, kind, step in reminders_sent(mailbox)[before:]]
        assert sorted(new) == sorted(expected), at

    assert "officer2@hp.vn" not in {to for to, *_ in reminders_sent(mailbox)}  # the case has its officer
    assert db.session.execute(select(func.count()).select_from(ReminderDelivery)).scalar_one() == 7
    assert db.session.execute(select(func.count()).select_from(Notification)
                              .where(Notification.template == "reminder")).scalar_one() == 7
    overdue = [m for m in mailbox if m.template == "reminder" and m.subject.startswith("Quá hạn")]
    assert {m.to for m in overdue} == {officer, lead} and all(case.code in m.subject for m in overdue)


def test_until_an_officer_takes_it_every_officer_of_the_agency_is_reminded(world, mailbox):
    case, _ = submit(world.category, local(2027, 3, 1, 9))
    wf.assign_case(case, Actor(world.desk), world.justice, now=local(2027, 3, 1, 10))
    db.session.commit()

    scan(now=local(2027, 3, 11, 9))

    assert sorted(to for to, *_ in reminders_sent(mailbox)) == ["lead@hp.vn", "officer2@hp.vn", "officer@hp.vn"]


def test_an_unclassified_case_reminds_the_desk_then_escalates_to_supervisors(world, mailbox):
    case, _ = submit(world.category, local(2027, 3, 1, 9))
    assert case.classify_due == local(2027, 3, 8, 17, 0)

    scan(now=local(2027, 3, 4, 9))
    scan(now=local(2027, 3, 11, 9))

    assert reminders_sent(mailbox) == [
        ("desk@hp.vn", "classify_due", "due_soon"),
        ("desk@hp.vn", "classify_due", "overdue"),
        ("supervisor@hp.vn", "classify_due", "escalated"),
    ]


def test_a_scan_that_meets_a_case_late_sends_only_the_current_step(world, mailbox):
    taken_by_officer(world)
    scan(now=local(2027, 3, 16, 9))  # the scheduler was down for a week
    assert sorted(step for _, _, step in reminders_sent(mailbox)) == ["overdue", "overdue"]


def test_an_extended_deadline_gets_reminders_of_its_own(world, mailbox):
    case = taken_by_officer(world)
    scan(now=local(2027, 3, 11, 9))
    wf.request_extension(case, Actor(world.officer), days=5, reason="Cần xác minh tại cơ sở",
                         now=local(2027, 3, 11, 10))
    wf.decide_extension(case, Actor(world.supervisor), approve=True, now=local(2027, 3, 11, 11))
    db.session.commit()
    assert case.answer_due == local(2027, 3, 22, 17, 0)

    for at in (local(2027, 3, 15, 8), local(2027, 3, 17, 9)):   # the old due day, then too early
        scan(now=at)
    assert [step for _, _, step in reminders_sent(mailbox)] == ["due_soon", "due_soon"]
    scan(now=local(2027, 3, 18, 9))
    scan(now=local(2027, 3, 22, 8))

    deadlines = db.session.execute(
        select(ReminderDelivery.deadline_at, ReminderDelivery.step)
        .where(ReminderDelivery.recipient_id == world.officer.id)
        .order_by(ReminderDelivery.id)).all()
    assert [(at.astimezone(OFFICE_TZ), step) for at, step in deadlines] == [
        (local(2027, 3, 15, 17, 0), "due_soon"),
        (local(2027, 3, 22, 17, 0), "due_soon"),
        (local(2027, 3, 22, 17, 0), "due_today"),
    ]


def test_nothing_reaches_staff_at_night_or_during_tet(world, mailbox):
    # Received 20 January 2027: the answer is due Wednesday 3 February, the last
    # working day before Tết (4 to 10 February 2027 are days off).
    case = taken_by_officer(world, received=local(2027, 1, 20, 9))
    assert case.answer_due == local(2027, 2, 3, 17, 0)
    scan(now=local(2027, 2, 3, 9))
    mailbox.clear()

    quiet = [local(2027, 2, 3, 20), local(2027, 2, 4, 2), local(2027, 2, 5, 10), local(2027, 2, 6, 9),
             local(2027, 2, 8, 9), local(2027, 2, 8, 10), local(2027, 2, 10, 16), local(2027, 2, 11, 6, 59)]
    for at in quiet:
        report = scan(now=at)
        assert not report.office_hours and report.filed == [], at
        assert file_digests(now=at).filed == [], at
    assert mailbox == []

    scan(now=local(2027, 2, 11, 7, 30))   # the first working morning after Tết
    assert sorted(step for _, _, step in reminders_sent(mailbox)) == ["overdue", "overdue"]
    scan(now=local(2027, 2, 15, 7, 30))   # overdue for two working days (11 and 12 February)
    assert reminders_sent(mailbox)[-1] == ("supervisor@hp.vn", "answer_due", "escalated")


def test_a_scan_that_dies_midway_leaves_nothing_half_filed(world, mailbox, monkeypatch):
    taken_by_officer(world)
    real, calls = reminders.notify_user, []

    def worker_killed_on_the_second_reminder(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(reminders, "notify_user", worker_killed_on_the_second_reminder)
    with pytest.raises(SystemExit):
        scan(now=local(2027, 3, 11, 9))
    db.session.rollback()   # what the job's app context does on its way out
    assert db.session.execute(select(func.count()).select_from(ReminderDelivery)).scalar_one() == 0
    assert reminders_sent(mailbox) == []

    monkeypatch.undo()
    scan(now=local(2027, 3, 11, 9, 5))
    scan(now=local(2027, 3, 11, 9, 10))
    assert sorted(reminders_sent(mailbox)) == [("lead@hp.vn", "answer_due", "due_soon"),
                                              ("officer@hp.vn", "answer_due", "due_soon")]


def test_a_reminder_key_can_be_claimed_only_once(world):
    """The guard under the scan's own check: two scans that both missed each
    other's rows still file a key once (INSERT ... ON CONFLICT DO NOTHING)."""
    case = taken_by_officer(world)
    key = (case.id, "answer_due", case.answer_due, "overdue", world.officer.id)
    now = local(2027, 3, 16, 8)

    first = reminders.claim_reminder_keys([key, key], now)
    second = reminders.claim_reminder_keys([key], now)
    db.session.commit()

    assert list(first) == [key] and second == {}
    assert db.session.execute(select(func.count()).select_from(ReminderDelivery)).scalar_one() == 1


def test_reminder_steps_follow_working_days():
    from feedback.deadlines import WorkingCalendar

    calendar = WorkingCalendar()
    due = local(2027, 2, 11, 17, 0)  # Thursday after Tết
    # Two working days before it, counted across the Tết days off: Tuesday 2 February.
    assert reminder_steps(calendar, due, local(2027, 2, 1, 9)) == []
    assert reminder_steps(calendar, due, local(2027, 2, 2, 9)) == ["due_soon"]
    assert reminder_steps(calendar, due, local(2027, 2, 11, 8)) == ["due_today"]
    assert reminder_steps(calendar, due, local(2027, 2, 11, 17, 0)) == ["due_today"]  # on time until 17:00
    assert reminder_steps(calendar, due, local(2027, 2, 12, 8)) == ["overdue"]
    assert reminder_steps(calendar, due, local(2027, 2, 16, 8)) == ["overdue", "escalated"]


def test_a_second_scan_while_one_runs_does_nothing(world, mailbox):
    taken_by_officer(world)
    with exclusive("reminder-scan") as mine:
        assert mine
        assert scan(now=local(2027, 3, 11, 9)).busy
    assert reminders_sent(mailbox) == []


def test_the_scan_reads_only_cases_near_a_deadline(world, make, count_queries):
    taken_by_officer(world)
    for weeks in range(1, 4):   # far from any deadline
        make.case(agency=world.justice, status="in_progress", answer_due=local(2027, 6, weeks, 17, 0),
                  next_due=local(2027, 6, weeks, 17, 0))
    with count_queries() as statements:
        report = scan(now=local(2027, 3, 11, 9))
    assert len(report.filed) == 2
    selects = [s for s in statements if 'FROM "case"' in s or "FROM case" in s]
    assert selects and all("next_due" in s for s in selects)


# The morning digest ----------------------------------------------------------------


def test_the_morning_digest_lists_overdue_and_due_today_cases_once_a_day(world, make, mailbox):
    today = local(2027, 3, 16, 7, 30)
    overdue = make.case(agency=world.justice, status="in_progress", title="Quá hạn <b>",
                        answer_due=local(2027, 3, 15, 17, 0), next_due=local(2027, 3, 15, 17, 0))
    due_today = make.case(agency=world.justice, status="assigned",
                          answer_due=local(2027, 3, 16, 17, 0), next_due=local(2027, 3, 16, 17, 0))
    elsewhere = make.case(agency=world.health, status="in_progress",
                          answer_due=local(2027, 3, 16, 17, 0), next_due=local(2027, 3, 16, 17, 0))
    later = make.case(agency=world.justice, status="in_progress",
                      answer_due=local(2027, 3, 19, 17, 0), next_due=local(2027, 3, 19, 17, 0))

    report = file_digests(now=today)

    assert sorted(report.filed) == [("lead.yt@hp.vn", 1), ("lead@hp.vn", 2), ("supervisor@hp.vn", 3)]
    digests = {m.to: m for m in mailbox if m.template == "digest"}
    assert set(digests) == {"lead@hp.vn", "lead.yt@hp.vn", "supervisor@hp.vn"}  # officers get reminders instead
    lead_mail = digests["lead@hp.vn"]
    assert overdue.code in lead_mail.text and due_today.code in lead_mail.text
    assert elsewhere.code not in lead_mail.text and later.code not in lead_mail.text
    assert f"/staff/cases/{overdue.code}" in lead_mail.html and "Quá hạn &lt;b&gt;" in lead_mail.html
    assert all(c.code in digests["supervisor@hp.vn"].text for c in (overdue, due_today, elsewhere))

    assert file_digests(now=today + timedelta(hours=2)).filed == []   # once a day
    assert file_digests(now=local(2027, 3, 20, 8)).filed == []         # Saturday
    assert len(file_digests(now=local(2027, 3, 17, 7, 30)).filed) == 3  # the next working day
    assert len([m for m in mailbox if m.template == "digest"]) == 6


def test_cli_scan_prints_what_it_filed(world, runner):
    case = taken_by_officer(world)
    result = runner.invoke(args=["reminders", "scan", "--now", "2027-03-11T09:00+07:00"])
    assert result.exit_code == 0, result.output
    assert f"reminder  {case.code}  answer_due/due_soon  -> officer@hp.vn" in result.output
    assert "2 reminder(s) filed" in result.output
    again = runner.invoke(args=["reminders", "scan", "--now", "2027-03-11T09:05+07:00"])
    assert "0 reminder(s) filed" in again.output
    night = runner.invoke(args=["reminders", "scan", "--now", "2027-03-11T22:00+07:00"])
    assert "outside office hours" in night.output
    assert runner.invoke(args=["reminders", "scan", "--now", "2027-03-11T09:00"]).exit_code != 0


# Automatic actions --------------------------------------------------------------------


def test_cases_past_their_information_or_rating_window_are_closed_by_the_scan(world, mailbox):
    silent = taken_by_officer(world)
    wf.request_information(silent, Actor(world.officer), "Bản sao giấy khai sinh", now=local(2027, 3, 2, 9))
    answered = taken_by_officer(world)
    wf.submit_answer(answered, Actor(world.officer), "explained", "Đã hướng dẫn.", now=local(2027, 3, 2, 9))
    waiting = taken_by_officer(world)
    wf.request_information(waiting, Actor(world.officer), "Bản sao", now=local(2027, 3, 10, 9))
    db.session.commit()
    assert silent.info_due == answered.rating_due == local(2027, 3, 16, 17, 0)

    report = scan(now=local(2027, 3, 16, 22))   # automatic actions run at any hour

    assert report.closed_incomplete == [silent.code]
    assert report.closed_after_rating == [answered.code]
    db.session.expire_all()
    assert (silent.status, silent.close_reason) == ("closed", "incomplete")
    assert (answered.status, answered.close_reason) == ("closed", "rating_window")
    assert waiting.status == "needs_info"
    assert [m.template for m in mailbox if m.to == "an@example.vn"][-1] == "closed_incomplete"
    assert scan(now=local(2027, 3, 16, 22, 5)).closed_incomplete == []


def test_a_case_changed_meanwhile_is_skipped_and_the_others_still_close(world, mailbox, monkeypatch):
    first, second = taken_by_officer(world), taken_by_officer(world)
    for case in (first, second):
        wf.request_information(case, Actor(world.officer), "Bản sao", now=local(2027, 3, 2, 9))
    db.session.commit()
    real = reminders.close_incomplete

    def citizen_answered_meanwhile(case, **kw):
        if case.id == first.id:
            raise wf.StaleCase(wf.STALE_MESSAGE)
        return real(case, **kw)

    monkeypatch.setattr(reminders, "close_incomplete", citizen_answered_meanwhile)
    report = scan(now=local(2027, 3, 17, 9))

    assert report.closed_incomplete == [second.code]
    assert report.skipped and report.skipped[0].startswith(first.code)
    db.session.expire_all()
    assert (first.status, second.status) == ("needs_info", "closed")


# The cron schedule ---------------------------------------------------------------------


def test_rq_cron_reads_the_schedule_in_utc(monkeypatch):
    """RQ 2.x (pinned) evaluates cron strings in UTC whatever the server's zone:
    the digest's "30 0-3" means 07:30 to 10:30 in Hải Phòng."""
    monkeypatch.setenv("TZ", "Asia/Ho_Chi_Minh")
    time_module.tzset()
    try:
        scheduler = CronScheduler(connection=Redis(host="127.0.0.1", port=1))  # never contacted
        scheduler.load_config_from_file("feedback.cron")
        schedule = {job.func_name: job for job in scheduler.get_jobs()}
    finally:
        monkeypatch.undo()
        time_module.tzset()

    assert set(schedule) == {"feedback.jobs.sweep_job", "feedback.jobs.scan_job", "feedback.jobs.digest_job"}
    assert schedule["feedback.jobs.sweep_job"].interval == 60
    digest = schedule["feedback.jobs.digest_job"].next_enqueue_time
    assert digest.utcoffset() == timedelta(0)
    assert (digest.hour, digest.minute) in {(0, 30), (1, 30), (2, 30), (3, 30)}
    assert digest.astimezone(OFFICE_TZ).strftime("%H:%M") in {"07:30", "08:30", "09:30", "10:30"}


# The embedded scheduler ---------------------------------------------------------------


def test_without_redis_the_first_request_starts_the_embedded_scheduler_once(monkeypatch, tmp_path):
    import threading

    from config import TestConfig
    from feedback import create_app
    from feedback.jobs import scheduler

    release, started = threading.Event(), []
    monkeypatch.setattr(scheduler, "_scheduler_thread", None)
    monkeypatch.setattr(scheduler, "_run_scheduler", lambda app: (started.append(app), release.wait(10)))

    class Embedded(TestConfig):
        TESTING = False
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'embedded.db'}"
        SECRET_KEY = None  # the embedded default generates its own
        SECRET_KEY_FILE = str(tmp_path / "secret_key")

    class Disabled(Embedded):
        INPROCESS_SCHEDULER = False

    try:
        create_app(Disabled).test_client().get("/healthz")
        assert started == []
        app = create_app(Embedded)
        assert started == []                      # creating the app (CLI commands) starts nothing
        client = app.test_client()
        client.get("/healthz")
        client.get("/healthz")
        assert started == [app]
        assert scheduler.start_inprocess_scheduler(app) is False
    finally:
        release.set()
        if scheduler._scheduler_thread is not None:
            scheduler._scheduler_thread.join(timeout=10)


def test_a_digest_key_already_claimed_elsewhere_files_nothing_more(app, make):
    """Two processes racing on the digest: the unique (recipient, day) key lets one win."""
    from datetime import datetime

    from feedback.deadlines import OFFICE_TZ
    from feedback.models import DigestDelivery
    from feedback.reminders import _claim_digest

    lead = make.user("lead")
    day = datetime(2026, 3, 4, 8, tzinfo=OFFICE_TZ)
    assert _claim_digest(lead, day.date(), day) is True
    assert _claim_digest(lead, day.date(), day) is False
    db.session.commit()
    assert db.session.query(DigestDelivery).count() == 1
