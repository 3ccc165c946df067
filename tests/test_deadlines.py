"""Working-day deadlines on Vietnam's calendar (docs/design.md §4).

Every expected date below was checked by hand against a real calendar; the
comment above each assertion gives the count.  Weekday anchors used:
2026-01-01 is a Thursday, 2026-02-13 a Friday, 2026-03-06 a Friday,
2026-04-24 a Friday, 2026-08-22 a Saturday, 2027-02-01 a Monday,
2027-04-24 a Saturday.
"""

from datetime import UTC, date, datetime, time

import holidays
import pytest
from sqlalchemy import select

from feedback.calendar_cli import calendar_cli
from feedback.deadlines import OFFICE_TZ, WorkingCalendar, load_calendar


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An instant given in Hanoi office time."""
    return datetime(year, month, day, hour, minute, tzinfo=OFFICE_TZ)


def hanoi(at: datetime) -> datetime:
    return at.astimezone(OFFICE_TZ)


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


# The package's calendar


def test_five_days_after_the_friday_before_tet_2026_agrees_with_holidays(calendar):
    # Fri 13 Feb; 14-15 weekend; 16-20 Tết; 21-22 weekend;
    # Mon 23 (1), 24 (2), 25 (3), 26 (4), Fri 27 (5).
    assert calendar.add_working_days(date(2026, 2, 13), 5) == date(2026, 2, 27)
    vn = holidays.country_holidays("VN")
    assert vn.get_working_days_count(date(2026, 2, 14), date(2026, 2, 27)) == 5
    assert vn.is_working_day(date(2026, 2, 27))


def test_tet_2027_week_is_skipped(calendar):
    # Tết 2027 is Thu 4 Feb .. Wed 10 Feb; Thu 11 (1), Fri 12 (2), Mon 15 (3).
    assert calendar.add_working_days(date(2027, 2, 3), 1) == date(2027, 2, 11)
    assert calendar.add_working_days(date(2027, 2, 3), 3) == date(2027, 2, 15)


def test_a_fresh_calendar_knows_any_year(calendar):
    # The holidays object fills years lazily; nothing was looked up before 2027.
    assert not calendar.is_working_day(date(2027, 2, 8))  # Mùng ba Tết, a Monday
    assert not calendar.is_working_day(date(2031, 1, 1))  # Tết Dương lịch, a Wednesday
    assert calendar.is_working_day(date(2027, 2, 11))


def test_reunification_and_labour_day_2026(calendar):
    # Mon 27 Apr is Giỗ Tổ observed (26 Apr is a Sunday); Thu 30 Apr, Fri 1 May off.
    # After Fri 24: Tue 28 (1), Wed 29 (2), then 30, 1, 2, 3 off, Mon 4 May (3).
    assert calendar.add_working_days(date(2026, 4, 24), 3) == date(2026, 5, 4)
    # After Wed 29 Apr the next working day is Mon 4 May.
    assert calendar.next_working_day(date(2026, 4, 29)) == date(2026, 5, 4)


def test_labour_day_2027_on_saturday_is_observed_on_monday(calendar):
    # Fri 30 Apr off; 1 May is a Saturday, so Mon 3 May is off too: Tue 4 May.
    assert calendar.add_working_days(date(2027, 4, 29), 1) == date(2027, 5, 4)
    assert calendar.day_name(date(2027, 5, 3)) == "Ngày Quốc tế Lao động (nghỉ bù)"


def test_national_day_2026_swaps_a_saturday_for_monday_31_august(calendar):
    # Sat 22 Aug is worked in exchange for Mon 31 Aug; Tue 1 and Wed 2 Sep are off.
    assert calendar.is_working_day(date(2026, 8, 22))
    assert not calendar.is_working_day(date(2026, 8, 31))
    # After Fri 21 Aug the next working day is that Saturday.
    assert calendar.next_working_day(date(2026, 8, 21)) == date(2026, 8, 22)
    # After Fri 28 Aug: 29-30 weekend, 31, 1, 2 off, Thu 3 Sep.
    assert calendar.add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 3)


def test_zero_days_is_the_day_itself_or_the_next_working_day(calendar):
    assert calendar.add_working_days(date(2026, 3, 6), 0) == date(2026, 3, 6)  # a Friday
    assert calendar.add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 9)  # Sat -> Mon
    with pytest.raises(ValueError):
        calendar.add_working_days(date(2026, 3, 6), -1)


# Admin overrides


def test_an_announced_swap_gives_a_thursday_off_and_works_a_saturday():
    # Hypothetical 2027 bridge: Thu 29 Apr off, paid back on Sat 24 Apr.
    swapped = WorkingCalendar(
        overrides={date(2027, 4, 29): False, date(2027, 4, 24): True},
        override_names={date(2027, 4, 29): "Nghỉ bù cầu 30/4"},
    )
    assert WorkingCalendar().add_working_days(date(2027, 4, 28), 1) == date(2027, 4, 29)
    # 29 (override), 30 Apr, 1-2 weekend, 3 May observed: Tue 4 May.
    assert swapped.add_working_days(date(2027, 4, 28), 1) == date(2027, 5, 4)
    # After Fri 23 Apr, the worked Saturday comes first.
    assert swapped.next_working_day(date(2027, 4, 23)) == date(2027, 4, 24)
    assert swapped.day_name(date(2027, 4, 29)) == "Nghỉ bù cầu 30/4"
    assert swapped.day_name(date(2027, 4, 24)) == "Ngày làm việc bù"


def test_an_override_wins_over_the_package():
    cancelled = WorkingCalendar(overrides={date(2026, 8, 22): False, date(2026, 9, 2): True})
    assert not cancelled.is_working_day(date(2026, 8, 22))
    assert cancelled.is_working_day(date(2026, 9, 2))


# When the clock starts


def test_received_friday_morning_is_due_next_friday_at_close(calendar):
    # Fri 6 Mar counts; Mon 9 (1) .. Fri 13 (5); 17:00 Hanoi is 10:00 UTC.
    due = calendar.deadline(local(2026, 3, 6, 10), 5)
    assert due == datetime(2026, 3, 13, 10, 0, tzinfo=UTC)
    assert due.tzinfo == UTC


def test_received_friday_evening_counts_from_monday(calendar):
    # Effective Mon 9 Mar; Tue 10 (1) .. Fri 13 (4), Mon 16 (5).
    received = local(2026, 3, 6, 18)
    assert calendar.effective_date(received) == date(2026, 3, 9)
    assert hanoi(calendar.deadline(received, 5)) == local(2026, 3, 16, 17)


def test_received_at_closing_time_counts_from_the_next_working_day(calendar):
    assert calendar.effective_date(local(2026, 3, 6, 17)) == date(2026, 3, 9)
    assert calendar.effective_date(local(2026, 3, 6, 16, 59)) == date(2026, 3, 6)


def test_received_saturday_counts_from_monday(calendar):
    assert hanoi(calendar.deadline(local(2026, 3, 7, 11), 5)) == local(2026, 3, 16, 17)


def test_received_before_opening_on_a_working_day_counts_that_day(calendar):
    # 06:00 Mon 9 Mar in Hanoi is 23:00 Sunday in UTC, as the database stores it.
    received = local(2026, 3, 9, 6).astimezone(UTC)
    assert received.date() == date(2026, 3, 8)
    assert calendar.effective_date(received) == date(2026, 3, 9)
    assert hanoi(calendar.deadline(received, 5)) == local(2026, 3, 16, 17)


def test_received_on_the_eve_of_tet_is_due_after_the_holiday(calendar):
    # Fri 13 Feb 2026 16:00 counts that day; 5 working days later is Fri 27 Feb.
    assert hanoi(calendar.deadline(local(2026, 2, 13, 16), 5)) == local(2026, 2, 27, 17)


def test_received_during_tet_2027_counts_from_the_first_day_back(calendar):
    # Mon 8 Feb 2027 is Tết (off until Wed 10): effective Thu 11;
    # Fri 12 (1), Mon 15 (2), Tue 16 (3), Wed 17 (4), Thu 18 (5).
    received = local(2027, 2, 8, 9)
    assert calendar.effective_date(received) == date(2027, 2, 11)
    assert hanoi(calendar.deadline(received, 5)) == local(2027, 2, 18, 17)


def test_naive_datetimes_are_refused(calendar):
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.deadline(datetime(2026, 3, 6, 10), 5)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_office_hours(datetime(2026, 3, 6, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.working_days_paused(datetime(2026, 3, 9), datetime(2026, 3, 6))


# Extensions and pauses


def test_an_extension_skips_days_off(calendar):
    # Due Wed 29 Apr 2026; +3: 30 Apr, 1 May, weekend off; Mon 4 (1), Tue 5 (2), Wed 6 (3).
    due = calendar.close_of(date(2026, 4, 29))
    assert hanoi(calendar.extend(due, 3)) == local(2026, 5, 6, 17)


def test_a_pause_over_a_weekend_and_a_holiday_costs_only_the_working_days(calendar):
    # Waiting from Thu 23 Apr 2026 10:00 to Tue 28 Apr 09:00: lost Thu 23 and Fri 24;
    # 25-26 weekend and Mon 27 (Giỗ Tổ observed) were not working days.
    paused = calendar.working_days_paused(local(2026, 4, 23, 10), local(2026, 4, 28, 9))
    assert paused == 2
    # Due Wed 29 Apr resumes 2 working days later: 30, 1, 2, 3 off; Mon 4, Tue 5 May.
    due = calendar.close_of(date(2026, 4, 29))
    assert hanoi(calendar.extend(due, paused)) == local(2026, 5, 5, 17)


def test_a_pause_from_friday_evening_to_monday_morning_costs_nothing(calendar):
    # Both ends count from Mon 9 Mar.
    assert calendar.working_days_paused(local(2026, 3, 6, 18), local(2026, 3, 9, 8)) == 0


def test_a_pause_within_one_day_or_backwards_costs_nothing(calendar):
    assert calendar.working_days_paused(local(2026, 3, 9, 9), local(2026, 3, 9, 15)) == 0
    assert calendar.working_days_paused(local(2026, 3, 10), local(2026, 3, 9)) == 0


# Lateness and countdown


@pytest.mark.parametrize(
    ("answered", "expected"),
    [
        (local(2026, 3, 13, 16, 59), 0),  # due day, before close
        (local(2026, 3, 12, 10), -1),  # Thursday before
        (local(2026, 3, 9, 10), -4),  # Monday before: 10, 11, 12, 13
        (local(2026, 3, 13, 17, 30), 1),  # due day after close counts from Mon 16
        (local(2026, 3, 14, 10), 1),  # Saturday counts from Mon 16
        (local(2026, 3, 17, 9), 2),  # Tue 17: Mon 16 and Tue 17
    ],
)
def test_lateness_is_counted_in_working_days(calendar, answered, expected):
    due = calendar.close_of(date(2026, 3, 13))  # Friday
    assert calendar.lateness(due, answered) == expected


def test_an_answer_after_tet_is_one_day_late_not_ten(calendar):
    # Due Fri 13 Feb 2026; answered Mon 23 Feb: only Mon 23 in (13, 23] is worked.
    due = calendar.close_of(date(2026, 2, 13))
    assert calendar.lateness(due, local(2026, 2, 23, 10)) == 1


def test_countdown_shown_to_citizens(calendar):
    due = calendar.close_of(date(2026, 3, 13))  # Friday
    # From Mon 9: Tue 10, Wed 11, Thu 12, Fri 13.
    assert calendar.working_days_until(local(2026, 3, 9, 10), due) == 4
    assert calendar.working_days_until(local(2026, 3, 13, 8), due) == 0
    assert calendar.working_days_until(local(2026, 3, 16, 10), due) == -1


# Office hours


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (local(2026, 3, 9, 7, 30), True),  # Monday, opening
        (local(2026, 3, 9, 7, 29), False),
        (local(2026, 3, 9, 16, 59), True),
        (local(2026, 3, 9, 17, 0), False),  # closing
        (local(2026, 3, 7, 10), False),  # Saturday
        (local(2026, 9, 2, 10), False),  # Quốc khánh, a Wednesday
        (local(2026, 8, 22, 10), True),  # the worked Saturday
    ],
)
def test_office_hours(calendar, at, open_):
    assert calendar.is_office_hours(at) is open_


def test_next_office_open(calendar):
    inside = local(2026, 3, 9, 10)
    assert calendar.next_office_open(inside) == inside
    assert calendar.next_office_open(inside).tzinfo == UTC
    # Monday 06:00 waits for 07:30 that day (00:30 UTC).
    monday_dawn = local(2026, 3, 9, 6)
    assert calendar.next_office_open(monday_dawn) == datetime(2026, 3, 9, 0, 30, tzinfo=UTC)
    # Friday evening waits for Monday.
    assert hanoi(calendar.next_office_open(local(2026, 3, 6, 18))) == local(2026, 3, 9, 7, 30)
    # Friday evening before Tết 2026 waits until Mon 23 Feb.
    before_tet = local(2026, 2, 13, 17, 30)
    assert hanoi(calendar.next_office_open(before_tet)) == local(2026, 2, 23, 7, 30)


def test_office_hours_can_be_configured():
    short_day = WorkingCalendar(office_open=time(8, 0), office_close=time(16, 30))
    assert hanoi(short_day.close_of(date(2026, 3, 9))) == local(2026, 3, 9, 16, 30)
    assert short_day.effective_date(local(2026, 3, 9, 16, 45)) == date(2026, 3, 10)
    with pytest.raises(ValueError):
        WorkingCalendar(office_open=time(17, 0), office_close=time(8, 0))


# Days off


def test_days_off_2026_are_weekends_and_holidays_less_the_worked_saturday(calendar):
    # 2026 starts on a Thursday: 52 Saturdays and 52 Sundays, less Sat 22 Aug = 103,
    # plus 13 weekday holidays (1 Jan; 16-20 Feb; 27 Apr; 30 Apr; 1 May; 31 Aug;
    # 1, 2 Sep; 24 Nov) = 116, leaving 249 working days.
    off = dict(calendar.days_off(2026))
    assert len(off) == 116
    assert holidays.country_holidays("VN").get_working_days_count(
        date(2026, 1, 1), date(2026, 12, 31)
    ) == 365 - 116
    assert off[date(2026, 2, 17)] == "Tết Nguyên Đán"
    assert off[date(2026, 3, 7)] == "Cuối tuần"
    assert date(2026, 8, 22) not in off
    assert list(off) == sorted(off)


def test_days_off_without_weekends_lists_holidays_and_overrides():
    swapped = WorkingCalendar(overrides={date(2026, 12, 31): False})
    off = dict(swapped.days_off(2026, include_weekends=False))
    # The 13 weekday holidays, Giỗ Tổ on Sun 26 Apr, and the override.
    assert len(off) == 15
    assert off[date(2026, 4, 26)] == "Ngày Giỗ Tổ Hùng Vương"
    assert off[date(2026, 12, 31)] == "Ngày nghỉ"
    assert "Cuối tuần" not in off.values()


# Reading the override table and the CLI (need the app fixture from conftest)


def test_load_calendar_reads_overrides_and_office_hours(app, monkeypatch):
    from feedback.extensions import db
    from feedback.models import CalendarOverride

    monkeypatch.setitem(app.config, "OFFICE_CLOSE", "16:30")
    db.session.add(CalendarOverride(day=date(2027, 4, 24), is_working=True, name="Làm bù"))
    db.session.commit()
    calendar = load_calendar()
    assert calendar.is_working_day(date(2027, 4, 24))  # a Saturday
    assert calendar.day_name(date(2027, 4, 24)) == "Làm bù"
    assert hanoi(calendar.close_of(date(2027, 4, 26))) == local(2027, 4, 26, 16, 30)
    assert load_calendar() is calendar  # one per request



def test_an_override_committed_by_another_process_is_in_force_at_the_next_request(app):
    from feedback.extensions import db
    from feedback.models import CalendarOverride

    monday = date(2027, 2, 15)
    with app.app_context():
        cached = load_calendar()
        assert cached.is_working_day(monday)
    with db.engine.begin() as other_process:
        other_process.execute(CalendarOverride.__table__.insert().values(day=monday, is_working=False, name="Nghỉ"))
    with app.app_context():
        assert not load_calendar().is_working_day(monday)
    with db.engine.begin() as other_process:
        other_process.execute(CalendarOverride.__table__.delete())
    with app.app_context():
        assert load_calendar().is_working_day(monday)


def test_the_same_override_rows_share_one_calendar_built_once_per_process(app):
    with app.app_context():
        first = load_calendar()
    with app.app_context():
        assert load_calendar() is first

def test_cli_add_prints_the_working_day(app):
    result = app.test_cli_runner().invoke(calendar_cli, ["add", "2026-02-13", "5"])
    assert result.exit_code == 0, result.output
    assert result.output == "2026-02-27\n"


@pytest.mark.parametrize(
    "args",
    [
        ["add", "2026-02-30", "5"],
        ["add", "13/02/2026", "5"],
        ["add", "2026-02-13", "0"],
        ["add", "2026-02-13", "five"],
    ],
)
def test_cli_add_refuses_bad_input(app, args):
    result = app.test_cli_runner().invoke(calendar_cli, args)
    assert result.exit_code != 0
    assert "Invalid value" in result.output


def test_cli_off_lists_holidays_not_weekends(app):
    result = app.test_cli_runner().invoke(calendar_cli, ["off", "2026"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "2026-02-17\tThứ Ba\tTết Nguyên Đán" in lines
    assert "2026-08-31\tThứ Hai\tNgày nghỉ (thay cho ngày 22/08/2026)" in lines
    assert len(lines) == 14
    assert not any("Cuối tuần" in line for line in lines)


def test_cli_set_and_unset_an_override(app):
    from feedback.extensions import db
    from feedback.models import CalendarOverride

    runner = app.test_cli_runner()
    result = runner.invoke(calendar_cli, ["set", "2027-04-29", "--off", "--name", "Nghỉ cầu"])
    assert result.exit_code == 0, result.output
    row = db.session.execute(select(CalendarOverride)).scalar_one()
    assert (row.day, row.is_working, row.name) == (date(2027, 4, 29), False, "Nghỉ cầu")
    # Thu 29 Apr is now off: after Wed 28 comes Tue 4 May (30 Apr, weekend, 3 May off).
    assert runner.invoke(calendar_cli, ["add", "2027-04-28", "1"]).output == "2027-05-04\n"
    off_2027 = runner.invoke(calendar_cli, ["off", "2027"]).output
    assert "2027-04-29\tThứ Năm\tNghỉ cầu" in off_2027

    result = runner.invoke(calendar_cli, ["unset", "2027-04-29"])
    assert result.exit_code == 0, result.output
    assert db.session.execute(select(CalendarOverride)).first() is None
    assert runner.invoke(calendar_cli, ["add", "2027-04-28", "1"]).output == "2027-04-29\n"


def test_cli_set_can_make_a_saturday_worked(app):
    runner = app.test_cli_runner()
    assert runner.invoke(calendar_cli, ["set", "2027-04-24", "--working"]).exit_code == 0
    # After Fri 23 Apr the worked Saturday comes first.
    assert runner.invoke(calendar_cli, ["add", "2027-04-23", "1"]).output == "2027-04-24\n"


def test_cli_set_needs_working_or_off(app):
    result = app.test_cli_runner().invoke(calendar_cli, ["set", "2027-04-24"])
    assert result.exit_code != 0
    assert "--working or --off" in result.output


def test_cli_unset_without_override_fails(app):
    result = app.test_cli_runner().invoke(calendar_cli, ["unset", "2027-04-24"])
    assert result.exit_code != 0
    assert "No override recorded for 2027-04-24" in result.output


def test_counting_back_over_tet_2026(calendar):
    # Mon 23 Feb back 1 → Fri 13 Feb (14–15 weekend, 16–20 Tết, 21–22 weekend).
    assert calendar.subtract_working_days(date(2026, 2, 23), 1) == date(2026, 2, 13)
    assert calendar.subtract_working_days(date(2026, 2, 23), 0) == date(2026, 2, 23)
    # And it undoes add_working_days.
    assert calendar.subtract_working_days(calendar.add_working_days(date(2026, 2, 13), 5), 5) == date(2026, 2, 13)


def test_two_threads_looking_up_a_new_year_at_once_both_see_its_holidays(monkeypatch):
    """The holidays are shared by the process (gunicorn runs threads); the
    package marks a year known before filling it in, so a shared object
    filled in lazily let a second thread take Tết for a working day, and
    remember it."""
    import sys
    import threading

    import holidays

    from feedback import deadlines

    reference = holidays.country_holidays("VN", language="vi", years=2027)
    weekday_holidays = sorted(day for day in reference if day.weekday() < 5)
    assert weekday_holidays  # Tết and the national days of 2027
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _trial in range(40):
            monkeypatch.setattr(deadlines, "_SHARED", None)  # as a worker starts: nothing built yet
            calendar, seen, start = WorkingCalendar(), {}, threading.Barrier(2)

            def first(calendar=calendar, start=start) -> None:
                start.wait()
                calendar.is_working_day(date(2027, 1, 4))

            def second(calendar=calendar, start=start, seen=seen) -> None:
                start.wait()
                seen["working"] = [calendar.is_working_day(day) for day in weekday_holidays]

            threads = [threading.Thread(target=first), threading.Thread(target=second)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert not any(seen["working"]), [d for d, w in zip(weekday_holidays, seen["working"], strict=True) if w]
    finally:
        sys.setswitchinterval(previous)
