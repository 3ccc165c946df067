"""Administration home and the holiday calendar's overrides."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..access import roles_required
from ..extensions import db
from ..models import CalendarOverride, Role
from . import bp
from . import operations as ops
from .forms import OverrideForm
from .pages import confirm_page, refuse


@bp.route("/")
@roles_required(Role.admin)
def index():
    return redirect(url_for("admin.users"))


@bp.route("/calendar", methods=["GET", "POST"])
@roles_required(Role.admin)
def calendar():
    form = OverrideForm()
    if form.validate_on_submit():
        try:
            ops.add_calendar_override(form.day.data, form.is_working.data, form.name.data)
        except ops.AdminError as error:
            refuse(form, error)
        else:
            db.session.commit()
            flash(_("Đã lưu điều chỉnh lịch làm việc."), "success")
            return redirect(url_for("admin.calendar"))
    overrides = db.session.execute(select(CalendarOverride).order_by(CalendarOverride.day.desc())).scalars().all()
    return render_template("admin/calendar.html", form=form, overrides=overrides), 422 if form.is_submitted() else 200


@bp.route("/calendar/<int:override_id>/delete", methods=["GET", "POST"])
@roles_required(Role.admin)
def delete_override(override_id: int):
    override = db.get_or_404(CalendarOverride, override_id)
    if request.method == "POST":
        ops.delete_calendar_override(override)
        db.session.commit()
        flash(_("Đã xoá điều chỉnh."), "success")
        return redirect(url_for("admin.calendar"))
    day = override.day.strftime("%d/%m/%Y")
    kind = _("ngày làm việc") if override.is_working else _("ngày nghỉ")
    return confirm_page(
        title=_("Xoá điều chỉnh ngày %(day)s?", day=day),
        facts=[_("Ngày %(day)s đang được tính là %(kind)s (%(name)s). Sau khi xoá, ngày này theo lịch mặc định; "
                 "hạn xử lý tính từ nay sẽ theo lịch mới, hạn đã tính không đổi.",
                 day=day, kind=kind, name=override.name)],
        button=_("Xoá điều chỉnh"), action_url=url_for("admin.delete_override", override_id=override_id),
        cancel_url=url_for("admin.calendar"))
