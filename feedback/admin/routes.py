"""Administration home and the holiday calendar's overrides."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..access import roles_required
from ..calendar_changes import DEADLINE_NAMES
from ..deadlines import OFFICE_TZ, load_calendar
from ..extensions import db
from ..models import CalendarOverride, Role, utcnow
from . import bp
from . import operations as ops
from .forms import ConfirmForm, OverrideForm
from .pages import form_status, refuse


@bp.route("/")
@roles_required(Role.admin)
def index():
    return redirect(url_for("admin.users"))


@bp.route("/calendar", methods=["GET", "POST"])
@roles_required(Role.admin)
def calendar():
    """Overrides and the days off they produce. Adding one first shows which
    open deadlines it moves; a second post with ``confirm`` records it."""
    form = OverrideForm()
    if form.validate_on_submit():
        confirmed = request.form.get("confirm") == "1"
        try:
            plan = ops.add_calendar_override(form.day.data, form.is_working.data, form.name.data,
                                             dry_run=not confirmed, actor=current_user._get_current_object())
        except ops.AdminError as error:
            refuse(form, error)
        else:
            if not confirmed:
                return render_template("admin/calendar_preview.html", form=form, plan=plan, plan_names=DEADLINE_NAMES,
                                       action_url=url_for("admin.calendar"), cancel_url=url_for("admin.calendar"))
            db.session.commit()
            flash(_("Đã lưu điều chỉnh lịch làm việc.") + " " + _moved_message(plan), "success")
            return redirect(url_for("admin.calendar"))
    overrides = db.session.execute(select(CalendarOverride).order_by(CalendarOverride.day.desc())).scalars().all()
    this_year = utcnow().astimezone(OFFICE_TZ).year
    working_calendar = load_calendar()
    years = [(year, working_calendar.days_off(year, include_weekends=False)) for year in (this_year, this_year + 1)]
    return render_template("admin/calendar.html", form=form, overrides=overrides, years=years,
                           override_days={o.day for o in overrides}), form_status(form)


@bp.route("/calendar/<int:override_id>/delete", methods=["GET", "POST"])
@roles_required(Role.admin)
def delete_override(override_id: int):
    override = db.get_or_404(CalendarOverride, override_id)
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        plan = ops.delete_calendar_override(override, actor=current_user._get_current_object())
        db.session.commit()
        flash(_("Đã xoá điều chỉnh.") + " " + _moved_message(plan), "success")
        return redirect(url_for("admin.calendar"))
    plan = ops.delete_calendar_override(override, dry_run=True)
    return render_template("admin/calendar_preview.html", form=ConfirmForm(), plan=plan, override=override,
                           plan_names=DEADLINE_NAMES,
                           action_url=url_for("admin.delete_override", override_id=override_id),
                           cancel_url=url_for("admin.calendar"))


def _moved_message(plan) -> str:
    if not plan.cases:
        return _("Không có hạn xử lý nào thay đổi.")
    return _("%(n)d phản ánh đã được điều chỉnh hạn: %(later)d lùi một ngày làm việc, %(earlier)d sớm hơn một "
             "ngày làm việc.", n=len(plan.cases), later=plan.later, earlier=plan.earlier)
