"""The page a request-for-information mail links to: what the agency asked
and the form to answer it, reached through a signed link (feedback.mail_links)
since the private link is stored only hashed and cannot be mailed again."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from ..mail_links import MailLinkError, case_for_token
from ..workflow import can_provide_info
from . import bp
from .forms import ProvideInformationForm
from .tracking import INFORMATION_SENT, latest_info_request, no_store, private_limit, send_information


def _page(case, token, form=None, error=None, status=200):
    info_request = latest_info_request(case)
    waiting = can_provide_info(case)
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
    if not can_provide_info(case):
        return _page(case, token)
    from flask import request

    if request.method == "GET":
        return _page(case, token)
    form = ProvideInformationForm()
    if not form.validate():
        return _page(case, token, form=form, status=422)
    refusal = send_information(case, form)
    if refusal:
        return _page(case, token, form=form, error=refusal.message, status=refusal.http_status)
    flash(str(INFORMATION_SENT), "success")
    return redirect(url_for("public.info_by_mail", token=token), code=303)
