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

from feedback.deadlines import forget_calendar, load_calendar
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
def set_command(day: datetime, is_working: bool | None, name: str) -> None:
    """Record DATE as worked (--working) or off (--off), overriding the package."""
    # Checked here rather than with required=True so the message names both flags.
    if is_working is None:
        raise click.UsageError("Say whether DATE is worked or off: --working or --off.")
    override = _find_override(day.date())
    if override is None:
        override = CalendarOverride(day=day.date())
        db.session.add(override)
    override.is_working = is_working
    override.name = name
    db.session.commit()
    forget_calendar()
    click.echo(f"{day.date().isoformat()}\t{'working day' if is_working else 'day off'}")


@calendar_cli.command("unset")
@click.argument("day", metavar="DATE", type=ISO_DATE)
def unset_command(day: datetime) -> None:
    """Remove DATE's override, returning it to what the holidays package says."""
    override = _find_override(day.date())
    if override is None:
        raise click.ClickException(f"No override recorded for {day.date().isoformat()}.")
    db.session.delete(override)
    db.session.commit()
    forget_calendar()
    click.echo(f"{day.date().isoformat()}\tremoved")


def _find_override(day: date) -> CalendarOverride | None:
    """The override row for ``day``, or None."""
    return db.session.execute(
        select(CalendarOverride).where(CalendarOverride.day == day)
    ).scalar_one_or_none()
