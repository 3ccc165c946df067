"""Operator commands: ``flask --app wsgi <command>``."""
from __future__ import annotations

import os
from datetime import datetime

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from .admin.operations import MAX_TOKEN_DAYS, AdminError, create_api_token
from .extensions import db
from .models import Agency, Role, User
from .passwords import password_problem
from .procedure_import import ImportRefused, import_procedures
from .tokens import TOKEN_SCOPES

users_cli = AppGroup("users", help="Manage accounts.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")
procedures_cli = AppGroup("procedures", help="The procedure catalogue.")
reminders_cli = AppGroup("reminders", help="Deadline reminders, the morning digest, automatic closing.")
notifications_cli = AppGroup("notifications", help="The notification outbox.")
privacy_cli = AppGroup("privacy", help="Personal data: retention.")
audit_cli = AppGroup("audit", help="The append-only audit log.")


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Create demo agencies, categories, procedures and one account per role."""
    from .demo import seed_demo, seed_demo_cases

    accounts = seed_demo()
    created = seed_demo_cases()
    if created:
        click.echo(f"Created {created} sample cases, walked through the workflow.")
    click.echo("Demo data ready. Accounts (e-mail / role / password):")
    for email, role, password in accounts:
        click.echo(f"  {email:34} {role:11} {password}")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--agency", "agency_code", default=None, help="Agency code (officer and lead only need it).")
@click.option("--name", "full_name", default="")
def create_user(email: str, password: str, role: str, agency_code: str | None, full_name: str) -> None:
    """Create an account."""
    email = email.strip().lower()
    problem = password_problem(password, email)
    if problem is not None:
        raise click.BadParameter(f"refused by the password policy: {problem}", param_hint="--password")
    if db.session.execute(select(User.id).where(func.lower(User.email) == email)).first():
        raise click.ClickException(f"a user with e-mail {email} already exists")
    agency = None
    if agency_code:
        agency = db.session.execute(select(Agency).where(Agency.code == agency_code)).scalar_one_or_none()
        if agency is None:
            raise click.BadParameter(f"no agency with code {agency_code}", param_hint="--agency")
    elif role in (Role.officer.value, Role.lead.value):
        raise click.BadParameter("officer and lead accounts need --agency", param_hint="--agency")
    if agency is None and role in (Role.desk.value, Role.supervisor.value):
        agency = db.session.execute(select(Agency).where(Agency.is_desk.is_(True))).scalars().first()
    user = User(email=email, role=role, agency_id=agency.id if agency else None,
                full_name=full_name, email_verified=True)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"created {role} {email}" + (f" ({agency.code})" if agency else ""))


@tokens_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default="cli")
@click.option("--scope", type=click.Choice(TOKEN_SCOPES), default="write", show_default=True,
              help="read: GET requests only; write: may also submit and act on cases.")
@click.option("--agency", "agency_code", default=None, help="Limit the token to this agency's cases.")
@click.option("--expires-in-days", type=click.IntRange(1, MAX_TOKEN_DAYS), default=None,
              help="The token stops working after this many days (default: never).")
def create_token(email: str, name: str, scope: str, agency_code: str | None, expires_in_days: int | None) -> None:
    """Create an API token for a user; the token is printed alone on the last line."""
    user = db.session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user with e-mail {email}")
    agency_id = None
    if agency_code:
        agency_id = db.session.execute(select(Agency.id).where(Agency.code == agency_code)).scalar_one_or_none()
        if agency_id is None:
            raise click.BadParameter(f"no agency with code {agency_code}", param_hint="--agency")
    try:
        row, token = create_api_token(user, name, scope=scope, agency_id=agency_id, expires_in_days=expires_in_days)
    except AdminError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    limits = [scope] + ([f"agency {agency_code}"] if agency_code else []) + \
        ([f"expires {row.expires_at:%Y-%m-%d %H:%M} UTC"] if row.expires_at else [])
    click.echo(f"API token for {user.email} ({user.role}; {', '.join(limits)}); shown once, store it now:")
    click.echo(token)


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        now = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2027-03-16T08:00+07:00", param_hint="--now") from None
    if now.tzinfo is None:
        raise click.BadParameter("give a UTC offset, e.g. +07:00", param_hint="--now")
    return now


NOW_OPTION = click.option("--now", "now_text", default=None,
                          help="Act as of this time (ISO 8601 with offset), for tests and backfills.")


@reminders_cli.command("scan")
@NOW_OPTION
def reminders_scan(now_text: str | None) -> None:
    """Run one reminder scan now and print what it filed."""
    from .reminders import scan

    report = scan(now=_parse_now(now_text))
    if report.busy:
        click.echo("another scan is running; nothing done")
        return
    for filed in report.filed:
        click.echo(f"reminder  {filed.code}  {filed.deadline_kind}/{filed.step}  -> {filed.recipient}")
    for code in report.closed_incomplete:
        click.echo(f"closed, information not received  {code}")
    for code in report.closed_after_rating:
        click.echo(f"closed, rating window over  {code}")
    for reason in report.skipped:
        click.echo(f"skipped  {reason}")
    if not report.office_hours:
        click.echo(f"{_closed_office(report.at)}: staff reminders wait for the office to open")
    elif not report.filed:
        click.echo("nothing due: no deadline is due soon, due today or overdue without its reminder already filed")
    click.echo(f"{len(report.filed)} reminder(s) filed, "
               f"{len(report.closed_incomplete) + len(report.closed_after_rating)} case(s) closed")


def _closed_office(at) -> str:
    """Why ``at`` is outside office hours, in the operator's words."""
    from .deadlines import OFFICE_TZ, load_calendar

    calendar = load_calendar()
    local = at.astimezone(OFFICE_TZ)
    if not calendar.is_working_day(local.date()):
        name = calendar.day_name(local.date())
        return f"not a working day ({local.date().isoformat()}{': ' + name if name else ''})"
    return (f"outside office hours ({local.strftime('%H:%M')}; the office is open "
            f"{calendar.office_open.strftime('%H:%M')}-{calendar.office_close.strftime('%H:%M')})")


@reminders_cli.command("digest")
@NOW_OPTION
def reminders_digest(now_text: str | None) -> None:
    """File today's digest for leads and supervisors (once a day, office hours)."""
    from .reminders import file_digests

    report = file_digests(now=_parse_now(now_text))
    for recipient, count in report.filed:
        click.echo(f"digest  {recipient}  {count} case(s)")
    if not report.filed:
        click.echo(_why_no_digest(report))
    click.echo(f"{len(report.filed)} digest(s) filed")


def _why_no_digest(report) -> str:
    from sqlalchemy import func, select

    from .deadlines import OFFICE_TZ, load_calendar
    from .extensions import db
    from .models import DigestDelivery

    if report.busy:
        return "another digest run is in progress; nothing done"
    if not load_calendar().is_office_hours(report.at):
        return f"{_closed_office(report.at)}: digests are filed in office hours on working days"
    today = report.at.astimezone(OFFICE_TZ).date()
    sent = db.session.execute(select(func.count()).select_from(DigestDelivery)
                              .where(DigestDelivery.day == today)).scalar_one()
    if sent:
        return f"today's digest was already sent ({sent} recipient(s) on {today.isoformat()})"
    return "nothing overdue or due today: nobody gets an empty digest"


@notifications_cli.command("sweep")
def notifications_sweep() -> None:
    """Dispatch due retries and re-enqueue notifications that were never queued or lost."""
    from .jobs import sweep

    report = sweep()
    click.echo(f"dispatched {report.dispatched}, re-enqueued {report.requeued}, "
               f"marked uncertain {len(report.uncertain)}")


@notifications_cli.command("retry-failed")
@click.option("--include-uncertain", is_flag=True,
              help="Also retry uncertain rows (the delivery process stopped mid-send): they may have been "
                   "delivered already, so the recipient may get the message twice.")
def notifications_retry_failed(include_uncertain: bool) -> None:
    """Give every failed notification a fresh set of attempts (uncertain ones only when asked)."""
    from .jobs import retry_failed

    ids, skipped = retry_failed(include_uncertain=include_uncertain)
    db.session.commit()  # delivery starts once this commits
    click.echo(f"{len(ids)} failed notification(s) sent for delivery again")
    if skipped:
        click.echo(f"skipped {len(skipped)} uncertain notification(s) that may have been delivered already "
                   f"(ids {', '.join(map(str, skipped))}); check them, then retry them at /staff/deliveries "
                   "or run again with --include-uncertain")


@procedures_cli.command("import")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Report what would be added, changed or refused; change nothing.")
def import_procedures_command(path: str, dry_run: bool) -> None:
    """Import procedures from a CSV file (code, title, category, agency, legal_document, link)."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        report = import_procedures(data, dry_run=dry_run, filename=os.path.basename(path))
    except ImportRefused as refused:
        raise click.ClickException(str(refused.message)) from None
    if not dry_run:
        db.session.commit()
    verb = "would add" if dry_run else "added"
    click.echo(f"{verb} {report.added}, {'would change' if dry_run else 'changed'} {report.changed}, "
               f"unchanged {report.unchanged}, refused {len(report.refused)}"
               + (" (dry run, nothing changed)" if dry_run else ""))
    for row in report.refused:
        click.echo(f"row {row.number}\t{row.code}\t" + " ".join(str(error) for error in row.errors))


@privacy_cli.command("anonymise")
@click.option("--older-than", "days", type=click.IntRange(min=0), default=None,
              help="Days since closing (default: FEEDBACK_RETENTION_DAYS).")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
def privacy_anonymise(days: int | None, dry_run: bool) -> None:
    """Remove personal data and files from final cases closed more than DAYS ago; figures are kept."""
    from .privacy import anonymise_past_retention

    report = anonymise_past_retention(days, dry_run=dry_run)
    verb = "would anonymise" if dry_run else "anonymised"
    click.echo(f"{verb} {len(report.cases)} case(s) closed before {report.cutoff:%Y-%m-%d %H:%M} UTC: "
               f"{report.attachments} attachment(s), {report.notes} event note(s), "
               f"{report.notifications} notification(s), {report.ratings} rating comment(s)"
               + (" (dry run, nothing changed)" if dry_run else ""))
    for code in report.cases:
        click.echo(f"  {code}")
@audit_cli.command("verify")
def audit_verify() -> None:
    """Walk the audit log's hash chain: OK with the row count, or the first
    row that was changed or follows a removed one (exit code 1)."""
    from .audit import verify_chain

    report = verify_chain()
    if report.ok:
        click.echo(f"OK: {report.rows} audit rows, chain intact.")
        return
    click.echo(f"BROKEN at audit row {report.bad_id}: {report.problem}.", err=True)
    raise SystemExit(1)


def register_cli(app: Flask) -> None:
    from .backup import backup_cli
    from .calendar_cli import calendar_cli

    app.cli.add_command(backup_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(procedures_cli)
    app.cli.add_command(calendar_cli)
    app.cli.add_command(reminders_cli)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(audit_cli)
