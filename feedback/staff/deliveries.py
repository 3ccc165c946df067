"""The desk's list of failed deliveries, with a "retry now" action.

A notification that could not be delivered (a refused address, five failed
attempts, or an outcome the system cannot know) waits here for a person.
An uncertain one may have reached its recipient: "retry now" first shows
what is known and asks the person to confirm that a duplicate is acceptable.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..access import roles_required
from ..audit import record_audit
from ..extensions import db
from ..jobs import is_uncertain, problem_label, retry_now, uncertain_detail
from ..mail import TEMPLATE_TITLES
from ..models import Notification, Role
from ..pagination import paginate
from . import bp

# The desk owns failed deliveries; supervisors and admins may look and act too.
DELIVERY_ROLES = (Role.desk, Role.supervisor, Role.admin)


@bp.route("/deliveries")
@roles_required(*DELIVERY_ROLES)
def deliveries():
    """Failed deliveries, newest first."""
    query = (select(Notification).where(Notification.status == "failed")
             .options(selectinload(Notification.case))
             .order_by(Notification.created_at.desc(), Notification.id.desc()))
    return render_template("staff/deliveries.html", page=paginate(query), problem_label=problem_label,
                           is_uncertain=is_uncertain, uncertain_detail=uncertain_detail,
                           template_titles=TEMPLATE_TITLES)


@bp.route("/deliveries/<int:notification_id>/retry", methods=["POST"])
@roles_required(*DELIVERY_ROLES)
def retry_delivery(notification_id: int):
    """Give a failed notification a fresh set of attempts, starting now.
    An uncertain one is only retried once the person has ticked the
    confirmation box; until then this answers with the confirmation page."""
    notification = db.get_or_404(Notification, notification_id)
    uncertain = notification.status == "failed" and is_uncertain(notification)
    if uncertain and not request.form.get("confirm_duplicate"):
        error = (_("Hãy đánh dấu ô xác nhận nếu vẫn muốn gửi lại.")
                 if request.form.get("step") == "confirm" else None)
        return render_template("staff/delivery_confirm.html", n=notification, problem_label=problem_label,
                               detail=uncertain_detail(notification), error=error,
                               template_titles=TEMPLATE_TITLES), 422 if error else 200
    if retry_now(notification.id):
        detail = {"notification": notification.id, "template": notification.template}
        if uncertain:
            detail["uncertain_confirmed"] = True
        record_audit("notification.retry", case_id=notification.case_id, detail=detail, user=current_user)
        db.session.commit()  # delivery starts once this commits
        flash(_("Đã gửi lại thông báo tới %(to)s.", to=notification.recipient), "success")
    else:
        flash(_("Thông báo này không còn ở trạng thái gửi lỗi."), "error")
    return redirect(url_for("staff.deliveries"))
