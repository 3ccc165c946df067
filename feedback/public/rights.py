"""The sender's rights under the private link: a copy of their data, and
erasure of a final case (asked here, confirmed or refused by the desk).

The business rules live in ``feedback.privacy``; these views only read the
form and show the result.
"""
from __future__ import annotations

import json

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..actions import refused_action
from ..audit import record_audit
from ..models import Case
from ..privacy import FINAL, NOT_FINAL, can_request_erasure, data_copy, request_erasure
from ..workflow import commit
from . import bp
from .forms import EraseRequestForm
from .tracking import private_limit, private_link


@bp.route("/c/<token>/data.json")
@private_limit
@private_link
def data_download(case: Case, token: str):
    """Everything held about the case and its sender, as a JSON file. Each
    copy handed out is audited (personal data leaving the system), with no
    personal data in the audit row itself."""
    body = json.dumps(data_copy(case), ensure_ascii=False, indent=2)
    record_audit("privacy.data_copy", case_id=case.id, detail={"bytes": len(body.encode())})
    commit()
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{case.code}.json"',
        "X-Content-Type-Options": "nosniff",
    })


@bp.route("/c/<token>/erase", methods=["GET", "POST"])
@private_limit
@private_link
def erase(case: Case, token: str):
    """Confirm, then ask the desk to erase the personal data of a final case."""
    if case.anonymised_at is not None:
        return redirect(url_for("public.private_case", token=token), code=303)
    form = EraseRequestForm()
    refusal_message = None if can_request_erasure(case) else (
        _("Yêu cầu xoá dữ liệu của bạn đang chờ bộ phận tiếp nhận xử lý.") if case.status in FINAL
        else str(NOT_FINAL))
    if refusal_message is not None:
        status = 409 if request.method == "POST" else 200
        return render_template("public/erase.html", case=case, token=token, form=None,
                               error=refusal_message), status
    if request.method == "GET" or not form.validate():
        return render_template("public/erase.html", case=case, token=token, form=form), \
            422 if form.errors else 200
    with refused_action() as refusal:
        request_erasure(case)
        commit()
    if refusal.error is not None:
        return render_template("public/erase.html", case=case, token=token, form=None,
                               error=refusal.error.message), refusal.error.http_status
    flash(_("Đã gửi yêu cầu xoá dữ liệu cá nhân của phản ánh %(code)s. Bộ phận tiếp nhận sẽ xem xét.",
            code=case.code), "success")
    return redirect(url_for("public.private_case", token=token), code=303)
