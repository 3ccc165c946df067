"""What every admin view shares: showing a refused change, and the
confirmation step before a destructive one."""
from __future__ import annotations

from flask import flash, render_template
from flask_wtf import FlaskForm

from ..extensions import db
from .forms import ConfirmForm
from .operations import AdminError


def refuse(form: FlaskForm | None, error: AdminError) -> None:
    """Undo whatever the request changed and show why: next to the field the
    rule belongs to, or as a message when it belongs to no field."""
    db.session.rollback()
    field = form[error.field] if form is not None and error.field and error.field in form else None
    if field is not None:
        field.errors.append(str(error.message))
    else:
        flash(str(error.message), "error")


def confirm_page(*, title: str, action_url: str, cancel_url: str, button: str, facts: list[str] | None = None,
                 warnings: list[str] | None = None, blocker: str | None = None, status: int = 200):
    """A page that states what will happen and asks for a POST to do it
    (no JavaScript). With a blocker it explains why it cannot be done."""
    return render_template("admin/confirm.html", title=title, action_url=action_url, cancel_url=cancel_url,
                           button=button, facts=facts or [], warnings=warnings or [], blocker=blocker,
                           form=ConfirmForm()), status
