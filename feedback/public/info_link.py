"""The page a request-for-information mail links to: what the agency asked
and the form to answer it, reached through a signed link (feedback.mail_links)
since the private link is stored only hashed and cannot be mailed again."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..attachments import written_files
from ..extensions import db
from ..mail_links import MailLinkError, case_for_token
from ..models import CaseEvent, Status
from ..workflow import Actor, WorkflowError, provide_information
from . import bp
from .forms import ProvideInformationForm
from .tracking import no_store, private_limit


def _page(case, token, form=None, error=None, status=200):
    info_request = next((e for e in reversed(case.events) if e.action == "info_requested"), None)
    waiting = case.status_enum == Status.needs_info
    if form is None and waiting:
        form = ProvideInformationForm(formdata=None, version=case.version)
    return render_template("public/info_link.html", case=case, token=token, info_request=info_request,
                           form=form if waiting else None, error=error), status


@bp.route("/info/<token>", methods=["GET", "POST"])
@private_limit
@no_store
def info_by_mail(token: str):
    """GET shows the request and the form, changing nothing; POST sends the information."""
    try:
        case = case_for_token(token, "info")
    except MailLinkError as err:
        return render_template("public/link_not_found.html", message=err.message), 400
    if case.status_enum != Status.needs_info:
        return _page(case, token)
    from flask import request

    if request.method == "GET":
        return _page(case, token)
    form = ProvideInformationForm()
    if not form.validate():
        return _page(case, token, form=form, status=422)
    try:
        with written_files() as files:
            provide_information(case, Actor.citizen(), form.message.data, version=form.version.data)
            event_id = db.session.execute(
                select(func.max(CaseEvent.id)).where(CaseEvent.case_id == case.id,
                                                     CaseEvent.action == "info_provided")).scalar()
            files.save(case, form.uploads, from_citizen=True, event_id=event_id)
            db.session.commit()
    except WorkflowError as error:
        db.session.rollback()
        for name, message in error.fields.items():
            if name in form:
                form[name].errors.append(message)
        return _page(case, token, form=form, error=error.message, status=error.http_status)
    flash(_("Đã gửi thông tin bổ sung. Cơ quan xử lý tiếp tục giải quyết phản ánh của bạn."), "success")
    return redirect(url_for("public.info_by_mail", token=token), code=303)
