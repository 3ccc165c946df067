"""``flask calendar``: check and adjust the working-day calendar from a shell.

Admins use it when the government announces a swap the holidays package does
not know yet, and to check what a deadline will be.  It reads the calendar
through :func:`~feedback.deadlines.load_calendar`, the same path the workflow
uses, so what it prints is what deadlines will be.
"""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup
from sqlalchemy import select

from feedback.calendar_changes import (
    CalendarPlan,
    apply_calendar_change,
    plan_calendar_change,
)
from feedback.deadlines import OFFICE_TZ, forget_calendar, load_calendar
from feedback.extensions import db
from feedback.models import CalendarOverride

# Vietnamese, like the holiday names printed beside them.
WEEKDAY_NAMES = (
    "Thứ Hai",
    "Thứ Ba",
    "Thứ Tư",
    "Thứ Năm",
    "Thứ Sáu",
    "Thứ Bảy",
    "Chủ nhật",
)

ISO_DATE = click.DateTime(formats=["%Y-%m-%d"])

calendar_cli = AppGroup(
    "calendar",
    help="Working days: compute deadlines, list days off, record announced swaps.",
)


@calendar_cli.command("add")
@click.argument("day", metavar="DATE", type=ISO_DATE)
@click.argument("n", type=click.IntRange(min=1))
def add_command(day: datetime, n: int) -> None:
    """Print the N-th working day strictly after DATE (YYYY-MM-DD)."""
    click.echo(load_calendar().add_working_days(day.date(), n).isoformat())


@calendar_cli.command("off")
@click.argument("year", type=click.IntRange(min=1, max=9998))
def off_command(year: int) -> None:
    """List YEAR's holidays and overridden days off (not plain weekends)."""
    for day, name in load_calendar().days_off(year, include_weekends=False):
        click.echo(f"{day.isoformat()}\t{WEEKDAY_NAMES[day.weekday()]}\t{name}")


@calendar_cli.command("set")
@click.argument("day", metavar="DATE", type=ISO_DATE)
@click.option("--working/--off", "is_working", default=None, help="Worked day or day off.")
@click.option("--name", default="", help="Name from the announcement, e.g. 'Nghỉ bù 30/4'.")
@click.option("--dry-run", is_flag=True, help="Show which open deadlines would move; change nothing.")
def set_command(day: datetime, is_working: bool | None, name: str, dry_run: bool) -> None:
    """Record DATE as worked (--working) or off (--off), overriding the package,
    and move the open deadlines counted across it."""
    # Checked here rather than with required=True so the message names both flags.
    if is_working is None:
        raise click.UsageError("Say whether DATE is worked or off: --working or --off.")
    _change(day.date(), is_working, name, dry_run)


@calendar_cli.command("unset")
@click.argument("day", metavar="DATE", type=ISO_DATE)
@click.option("--dry-run", is_flag=True, help="Show which open deadlines would move back; change nothing.")
def unset_command(day: datetime, dry_run: bool) -> None:
    """Remove DATE's override, returning it to what the holidays package says,
    and move the open deadlines counted across it back."""
    if _find_override(day.date()) is None:
        raise click.ClickException(f"No override recorded for {day.date().isoformat()}.")
    _change(day.date(), None, "", dry_run)


def _change(day: date, is_working: bool | None, name: str, dry_run: bool) -> None:
    """Print the plan, then apply it unless it is a dry run."""
    if dry_run:
        plan = plan_calendar_change(day, is_working)
    else:
        plan = apply_calendar_change(day, is_working, name)
        db.session.commit()
        forget_calendar()
    state = "working day" if plan.will_be_working else "day off"
    if is_working is None:
        state = f"removed, now a {state}"
    click.echo(f"{day.isoformat()}\t{state}{' (dry run, nothing changed)' if dry_run else ''}")
    for line in plan_lines(plan, dry_run):
        click.echo(line)


def plan_lines(plan: CalendarPlan, dry_run: bool) -> list[str]:
    """The summary and one line per moved deadline."""
    verb = "would move" if dry_run else "moved"
    lines = [(f"{len(plan.cases)} open case(s) {verb}: {plan.later} one working day later, "
              f"{plan.earlier} one working day earlier.")]
    for move in plan.moves:
        lines.append(f"{move.case.code}\t{move.field}\t{_local(move.old)} -> {_local(move.new)}")
    return lines


def _local(at: datetime) -> str:
    return at.astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")


def _find_override(day: date) -> CalendarOverride | None:
    """The override row for ``day``, or None."""
    return db.session.execute(
        select(CalendarOverride).where(CalendarOverride.day == day)
    ).scalar_one_or_none()
