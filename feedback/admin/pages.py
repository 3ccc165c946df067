"""What every admin view shares: saving a form or showing why it was
refused, and the confirmation step before a destructive one."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

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


def save_or_refuse(form: FlaskForm, operation: Callable[[], Any], *, success: Callable[[Any], str | None],
                   next_url: str | Callable[[Any], str], after: Callable[[Any], None] | None = None
                   ) -> Response | None:
    """The one path of every admin create/edit view: when the form was posted
    and is valid, run ``operation``, commit, flash ``success(result)`` and
    redirect to ``next_url``; when the operation refuses, roll back and put the
    reason next to its field. Returns the redirect, or None when the view
    should (re-)render the form (then with :func:`form_status`)."""
    if not form.validate_on_submit():
        return None
    try:
        result = operation()
    except AdminError as error:
        refuse(form, error)
        return None
    db.session.commit()
    message = success(result)
    if message:
        flash(message, "success")
    if after is not None:
        after(result)
    return redirect(next_url(result) if callable(next_url) else next_url)


def form_status(form: FlaskForm) -> int:
    """422 for a form sent back with errors, 200 for a fresh one."""
    return 422 if form.is_submitted() else 200


def confirm_page(*, title: str, action_url: str, cancel_url: str, button: str, facts: list[str] | None = None,
                 warnings: list[str] | None = None, blocker: str | None = None, status: int = 200):
    """A page that states what will happen and asks for a POST to do it
    (no JavaScript). With a blocker it explains why it cannot be done."""
    return render_template("admin/confirm.html", title=title, action_url=action_url, cancel_url=cancel_url,
                           button=button, facts=facts or [], warnings=warnings or [], blocker=blocker,
                           form=ConfirmForm()), status
