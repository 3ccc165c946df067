"""Calendar overrides move the open deadlines counted across the changed day."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from feedback.deadlines import OFFICE_TZ, load_calendar
from feedback.extensions import db
from feedback.models import CalendarOverride, Case, CaseEvent, utcnow

from .forms_support import post_form, submit


@pytest.fixture
def admin(make, auth):
    user = make.user(role="admin", full_name="Quản trị viên")
    auth.login(user)
    return user


@pytest.fixture
def days(app):
    """Working days counted from today: the day to declare off, the open
    deadline after it, and a day after the deadline."""
    calendar = load_calendar()
    today = utcnow().astimezone(OFFICE_TZ).date()
    due = calendar.add_working_days(today, 10)
    return {"off": calendar.add_working_days(today, 3), "due": due,
            "after_due": calendar.add_working_days(due, 2), "next_after_due": calendar.next_working_day(due)}


def close_of(day: date) -> datetime:
    return load_calendar().close_of(day)


def open_case(make, due_day: date, status: str = "in_progress") -> Case:
    due = close_of(due_day)
    return make.case(status=status, answer_due=due, next_due=due if status == "in_progress" else None,
                     assigned_at=utcnow())


def fresh(case: Case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


def moved_events(case: Case) -> list[CaseEvent]:
    return db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                      CaseEvent.action == "deadline_moved")).scalars().all()


def declare(client, day: date, *, working: bool = False, name: str = "Nghỉ bù theo thông báo 55/TB-BNV"):
    """Fill the calendar form, read the preview, confirm it; returns both pages."""
    preview = submit(client, "/admin/calendar", "day", day=day.isoformat(), name=name,
                     is_working="y" if working else None)
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    done = post_form(client, html, "/admin/calendar", "confirm")
    return html, done


def test_a_working_day_declared_off_moves_the_answer_deadline_to_the_next_working_day(client, admin, make, days):
    case = open_case(make, days["due"])
    html, done = declare(client, days["off"])
    assert "1 phản ánh đang xử lý sẽ được điều chỉnh hạn: 1 lùi một ngày làm việc" in html
    assert case.code in html
    assert done.status_code == 302
    case = fresh(case)
    assert case.answer_due == close_of(days["next_after_due"])
    assert case.next_due == case.answer_due
    [event] = moved_events(case)
    assert event.public and days["off"].strftime("%d/%m/%Y") in event.note and event.actor_id == admin.id
    assert event.data["moves"]["answer_due"][1] == case.answer_due.isoformat()


def test_the_preview_changes_nothing(client, admin, make, days):
    case = open_case(make, days["due"])
    submit(client, "/admin/calendar", "day", day=days["off"].isoformat(), name="Nghỉ bù")
    assert fresh(case).answer_due == close_of(days["due"])
    assert db.session.execute(select(CalendarOverride)).first() is None
    assert moved_events(case) == []


def test_a_day_off_after_the_deadline_moves_nothing(client, admin, make, days):
    case = open_case(make, days["due"])
    html, _done = declare(client, days["after_due"])
    assert "Không có hạn xử lý nào của phản ánh đang mở bị ảnh hưởng" in html
    assert fresh(case).answer_due == close_of(days["due"]) and moved_events(case) == []


def test_removing_the_override_moves_the_deadline_back(client, admin, make, days):
    case = open_case(make, days["due"])
    declare(client, days["off"])
    override = db.session.execute(select(CalendarOverride)).scalar_one()
    page = client.get(f"/admin/calendar/{override.id}/delete").get_data(as_text=True)
    assert "1 phản ánh đang xử lý sẽ được điều chỉnh hạn: 0 lùi một ngày làm việc, 1 sớm hơn" in page
    post_form(client, page, f"/admin/calendar/{override.id}/delete", "confirm")
    case = fresh(case)
    assert case.answer_due == close_of(days["due"]) and case.next_due == case.answer_due
    assert len(moved_events(case)) == 2


def test_a_closed_case_never_moves(client, admin, make, days):
    case = open_case(make, days["due"], status="closed")
    declare(client, days["off"])
    assert fresh(case).answer_due == close_of(days["due"]) and moved_events(case) == []


def test_a_paused_clock_and_the_information_deadline_both_move(client, admin, make, days):
    info_due = close_of(days["due"])
    case = make.case(status="needs_info", answer_due=info_due, info_due=info_due, next_due=info_due)
    declare(client, days["off"])
    case = fresh(case)
    assert case.info_due == case.answer_due == close_of(days["next_after_due"]) == case.next_due


def test_the_preview_counts_equal_what_the_page_applies(client, admin, make, days):
    moving = [open_case(make, days["due"]) for _ in range(3)]
    due_that_day = open_case(make, days["off"])  # a deadline on the day declared off moves too
    closed = open_case(make, days["due"], status="closed")
    html, _done = declare(client, days["off"])
    moved = [c for c in (*moving, due_that_day, closed) if moved_events(c)]
    assert f"{len(moved)} phản ánh đang xử lý sẽ được điều chỉnh hạn" in html
    assert len(moved) == 4 and closed not in moved


def test_the_cli_prints_the_plan_and_applies_the_same(runner, make, days):
    cases = [open_case(make, days["due"]) for _ in range(2)]
    open_case(make, days["due"], status="closed")
    dry = runner.invoke(args=["calendar", "set", days["off"].isoformat(), "--off", "--name", "Nghỉ bù", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 open case(s) would move: 2 one working day later, 0 one working day earlier." in dry.output
    assert all(fresh(c).answer_due == close_of(days["due"]) for c in cases)
    assert db.session.execute(select(CalendarOverride)).first() is None
    done = runner.invoke(args=["calendar", "set", days["off"].isoformat(), "--off", "--name", "Nghỉ bù"])
    assert "2 open case(s) moved: 2 one working day later" in done.output
    assert all(fresh(c).answer_due == close_of(days["next_after_due"]) for c in cases)
    back = runner.invoke(args=["calendar", "unset", days["off"].isoformat()])
    assert back.exit_code == 0, back.output
    assert "2 open case(s) moved: 0 one working day later, 2 one working day earlier." in back.output
    assert all(fresh(c).answer_due == close_of(days["due"]) for c in cases)


def test_a_saturday_made_worked_brings_a_deadline_one_working_day_earlier(runner, make, days):
    calendar = load_calendar()
    saturday = next(d for d in (date.fromordinal(days["off"].toordinal() + i) for i in range(7))
                    if d.weekday() == 5 and not calendar.is_working_day(d))
    case = open_case(make, days["due"])
    result = runner.invoke(args=["calendar", "set", saturday.isoformat(), "--working", "--name", "Làm bù"])
    assert result.exit_code == 0, result.output
    assert fresh(case).answer_due == close_of(calendar.subtract_working_days(days["due"], 1))


def test_the_citizen_sees_the_move_on_the_private_page(client, admin, make, days):
    from .helpers import submitted_case

    case, token = submitted_case(make)  # to be classified within 5 working days, after the day declared off
    before = case.classify_due
    declare(client, days["off"])
    assert fresh(case).classify_due > before
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Thời hạn được điều chỉnh theo lịch làm việc mới" in page
