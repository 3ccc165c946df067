"""Operator commands: ``flask --app wsgi <command>``."""
from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from .extensions import db
from .models import Agency, ApiToken, Role, User, hash_token

users_cli = AppGroup("users", help="Manage accounts.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")


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
    if len(password) < 10:
        raise click.BadParameter("password needs at least 10 characters", param_hint="--password")
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
def create_token(email: str, name: str) -> None:
    """Create an API token for a user; the token is printed alone on the last line."""
    user = db.session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user with e-mail {email}")
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), name=name))
    db.session.commit()
    click.echo(f"API token for {user.email} ({user.role}); shown once, store it now:")
    click.echo(token)


def register_cli(app: Flask) -> None:
    from .calendar_cli import calendar_cli

    app.cli.add_command(seed_demo_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(calendar_cli)
