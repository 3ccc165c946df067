"""The desk's erasure requests: senders asking that a final case's personal
data be erased. Confirming anonymises the case at once (``feedback.privacy``,
the same function as the retention command); refusing needs a reason the
sender reads on their private page."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import roles_required
from ..actions import refused_action
from ..extensions import db
from ..models import ErasureRequest, Role
from ..privacy import commit_and_remove_files, confirm_erasure, pending_erasure_requests, refuse_erasure
from . import bp


def _erasure_or_404(request_id: int) -> ErasureRequest:
    erasure = db.session.get(ErasureRequest, request_id)
    if erasure is None:
        abort(404)
    return erasure


@bp.route("/erasure")
@roles_required(Role.desk, Role.admin)
def erasure_requests():
    """Pending requests, oldest first, each with confirm and refuse."""
    return render_template("staff/erasure.html", requests=pending_erasure_requests())


@bp.route("/erasure/<int:request_id>/confirm", methods=["POST"])
@roles_required(Role.desk, Role.admin)
def confirm_erasure_request(request_id: int):
    """Anonymise the case now; the form's checkbox is the confirmation."""
    erasure = _erasure_or_404(request_id)
    if request.form.get("confirm") != "y":
        flash(_("Vui lòng đánh dấu xác nhận trước khi xoá dữ liệu của phản ánh %(code)s.",
                code=erasure.case.code), "error")
        return redirect(url_for("staff.erasure_requests"), code=303)
    code = erasure.case.code
    with refused_action(flashed=True) as refusal:
        done = confirm_erasure(erasure, current_user)
        commit_and_remove_files(done.files)
    if refusal.error is None:
        flash(_("Đã xoá dữ liệu cá nhân của phản ánh %(code)s.", code=code), "success")
    return redirect(url_for("staff.erasure_requests"), code=303)


@bp.route("/erasure/<int:request_id>/refuse", methods=["POST"])
@roles_required(Role.desk, Role.admin)
def refuse_erasure_request(request_id: int):
    """Refuse with a reason (for instance, the case is part of a complaint still pending)."""
    erasure = _erasure_or_404(request_id)
    with refused_action(flashed=True) as refusal:
        refuse_erasure(erasure, current_user, request.form.get("reason", "")[:2000])
        db.session.commit()
    if refusal.error is None:
        flash(_("Đã từ chối yêu cầu xoá dữ liệu của phản ánh %(code)s.", code=erasure.case.code), "success")
    return redirect(url_for("staff.erasure_requests"), code=303)
