"""Citizen intake: the submission form, its receipt and the procedure picker.

The form runs in three steps, each working without JavaScript:

1. ``GET /submit`` asks whether this is a complaint or denunciation (khiếu
   nại, tố cáo), which other laws govern; ``?triage=complaint`` says where to
   go instead, ``?triage=scope`` opens the form.
2. ``POST /submit`` with ``step=details`` checks who sends and what about,
   then shows step 3 with the answers carried as hidden fields.
3. Step 3 (``step=send``) shows the answers, similar published cases,
   the attachments and the consent to publish; sending creates the case.

A one-time form token, stored in ``SubmissionKey`` in the same transaction as
the case, makes a double click or a browser resubmit land on the same receipt.
"""
from __future__ import annotations

import time

from flask import jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..access import case_by_code
from ..actions import refused_action
from ..attachments import written_files
from ..extensions import db, limiter
from ..models import Case, CaseEvent, Procedure, Role, SubmissionKey
from ..redaction import mask_email
from ..submission import CONTENT_MAX, CONTENT_MIN
from ..submission_forms import FORM_TOKEN, DetailsForm
from ..text import fold
from ..workflow import Actor, commit, submit_case
from . import bp
from .forms import SendForm
from .tracking import no_store, similar_published

RECEIPT_MINUTES = 30


@bp.route("/submit", methods=["GET", "POST"])
@limiter.limit("10 per minute; 60 per hour", methods=["POST"])
def submit():
    """The submission form: triage, details, then check and send."""
    if request.method == "GET":
        triage = request.args.get("triage")
        if triage == "complaint":
            return render_template("public/submit_out_of_scope.html")
        if triage != "scope":
            return render_template("public/submit_triage.html")
        return _details_page(DetailsForm(data=_known_sender()))

    earlier = _case_for_key(request.form.get("form_token"))
    if earlier is not None:  # a double click or a resubmitted page
        return _to_receipt(earlier)
    step = request.form.get("step")
    if step == "edit":
        return _details_page(DetailsForm())
    if step == "send":
        return _send(SendForm())
    form = DetailsForm()
    if not form.validate():
        return _details_page(form), 422
    return _check_page(SendForm())


def _send(form: SendForm):
    if not form.validate():
        if any(form[name].errors for name in DetailsForm.DETAILS):
            return _details_page(form), 422
        return _check_page(form), 422
    try:
        with refused_action() as refused:
            case, token = _create_case(form)
    except IntegrityError:
        # Another request with the same form token committed first.
        db.session.rollback()
        earlier = _case_for_key(form.form_token.data)
        if earlier is None:
            raise
        return _to_receipt(earlier)
    if refused:
        for name, message in refused.fields.items():
            field = form._fields.get(f"{name}_id") or form._fields.get(name)
            if field is not None:
                field.errors.append(message)
        return _details_page(form, error=refused.message), refused.http_status
    session["receipt"] = {"code": case.code, "token": token, "at": time.time()}
    return redirect(url_for("public.receipt"), code=303)


def _create_case(form: SendForm) -> tuple[Case, str]:
    """Create the case, its attachments and the form token's key in one
    transaction; files written are removed if it does not commit."""
    user = current_user if current_user.is_authenticated and current_user.role == Role.citizen.value else None
    with written_files() as files:
        case, token = submit_case(form.to_submission(citizen_id=user.id if user else None), Actor.citizen(user))
        received = db.session.execute(
            select(CaseEvent.id).where(CaseEvent.case_id == case.id, CaseEvent.action == "submitted")
        ).scalar_one_or_none()
        files.save(case, form.uploads, from_citizen=True, event_id=received)
        db.session.add(SubmissionKey(key=form.form_token.data, case_id=case.id, response_status=303))
        commit()
    return case, token


def _known_sender() -> dict:
    """A signed-in citizen's name and e-mail, to save typing them again."""
    if current_user.is_authenticated and current_user.role == Role.citizen.value:
        return {"full_name": current_user.full_name, "email": current_user.email}
    return {}


def _case_for_key(key: str | None) -> Case | None:
    if not key or not FORM_TOKEN.fullmatch(key):
        return None
    return db.session.execute(
        select(Case).join(SubmissionKey, SubmissionKey.case_id == Case.id).where(SubmissionKey.key == key)
    ).scalar_one_or_none()


def _to_receipt(case: Case):
    receipt = session.get("receipt") or {}
    if receipt.get("code") != case.code:
        session["receipt"] = {"code": case.code, "at": time.time()}
    return redirect(url_for("public.receipt"), code=303)


def _details_page(form, error=None):
    return render_template("public/submit_form.html", form=form, error=error,
                           content_min=CONTENT_MIN, content_max=CONTENT_MAX)


def _check_page(form: SendForm):
    return render_template(
        "public/submit_check.html", form=form,
        similar=similar_published(form.title.data or "", form.content.data or ""),
        choice_label=lambda field: {str(c.value): c.label for c in field.choices}.get(
            str(field.data if field.data is not None else ""), ""),
    )


@bp.route("/submit/receipt")
@no_store
def receipt():
    """The receipt: the case code, and the private link shown this one time."""
    data = session.get("receipt") or {}
    case = None
    if data and time.time() - data.get("at", 0) < RECEIPT_MINUTES * 60:
        case = case_by_code(data.get("code"))
    if case is None:
        session.pop("receipt", None)
        return render_template("public/receipt.html", case=None), 404
    token = data.pop("token", None)
    session["receipt"] = data  # the link is not shown a second time
    private_url = url_for("public.private_case", token=token, _external=True) if token else None
    return render_template("public/receipt.html", case=case, private_url=private_url,
                           masked_email=mask_email(case.sender_email))


@bp.route("/procedures/search")
def procedure_search():
    """JSON for the procedure picker: active procedures and legal documents
    whose code or title contains every word of ``q``, diacritics ignored."""
    words = fold(request.args.get("q", ""))[:100].split()
    query = select(Procedure).where(Procedure.active.is_(True))
    for word in words[:8]:
        query = query.where(Procedure.search_text.contains(word, autoescape=True))
    category = request.args.get("category", type=int)
    if category:
        query = query.order_by((Procedure.category_id == category).desc())
    query = query.options(selectinload(Procedure.category)).order_by(Procedure.title).limit(20)
    procedures = db.session.execute(query).scalars()
    return jsonify(results=[
        {"id": p.id, "code": p.code, "title": p.title, "kind": p.kind,
         "category": p.category.local_name if p.category else ""} for p in procedures
    ])
