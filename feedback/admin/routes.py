"""Administration: accounts and the holiday calendar's overrides."""
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..access import roles_required
from ..audit import record_audit
from ..extensions import db
from ..models import Agency, CalendarOverride, Role, User
from ..pagination import paginate
from . import bp
from .forms import OverrideForm, UserForm


@bp.route("/")
@roles_required(Role.admin)
def index():
    return redirect(url_for("admin.users"))


@bp.route("/users", methods=["GET", "POST"])
@roles_required(Role.admin)
def users():
    form = UserForm()
    agencies = db.session.execute(select(Agency).order_by(Agency.name)).scalars().all()
    form.agency_id.choices = [(0, _("— Không —"))] + [(a.id, a.name) for a in agencies]
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        needs_agency = form.role.data in (Role.officer.value, Role.lead.value)
        if db.session.execute(select(User.id).where(func.lower(User.email) == email)).first():
            form.email.errors.append(_("Thư điện tử này đã được đăng ký."))
        elif needs_agency and not form.agency_id.data:
            form.agency_id.errors.append(_("Cán bộ xử lý và lãnh đạo cơ quan phải thuộc một cơ quan."))
        else:
            user = User(email=email, full_name=form.full_name.data.strip(), role=form.role.data,
                        agency_id=form.agency_id.data or None, email_verified=True)
            user.set_password(form.password.data)
            db.session.add(user)
            db.session.flush()
            record_audit("user.create", detail={"user_id": user.id, "role": user.role})
            db.session.commit()
            flash(_("Đã tạo tài khoản %(email)s.", email=email), "success")
            return redirect(url_for("admin.users"))
    page = paginate(select(User).order_by(User.role, User.email))
    return render_template("admin/users.html", form=form, page=page)


@bp.route("/calendar", methods=["GET", "POST"])
@roles_required(Role.admin)
def calendar():
    form = OverrideForm()
    if form.validate_on_submit():
        existing = db.session.execute(select(CalendarOverride).where(CalendarOverride.day == form.day.data)).scalar_one_or_none()
        if existing:
            form.day.errors.append(_("Ngày này đã có điều chỉnh; xoá điều chỉnh cũ trước."))
        else:
            db.session.add(CalendarOverride(day=form.day.data, is_working=form.is_working.data, name=form.name.data.strip()))
            record_audit("calendar.override", detail={"day": form.day.data.isoformat(), "working": form.is_working.data})
            db.session.commit()
            flash(_("Đã lưu điều chỉnh lịch làm việc."), "success")
            return redirect(url_for("admin.calendar"))
    overrides = db.session.execute(select(CalendarOverride).order_by(CalendarOverride.day.desc())).scalars().all()
    return render_template("admin/calendar.html", form=form, overrides=overrides)


@bp.route("/calendar/<int:override_id>/delete", methods=["POST"])
@roles_required(Role.admin)
def delete_override(override_id: int):
    override = db.get_or_404(CalendarOverride, override_id)
    record_audit("calendar.override_delete", detail={"day": override.day.isoformat()})
    db.session.delete(override)
    db.session.commit()
    flash(_("Đã xoá điều chỉnh."), "success")
    return redirect(url_for("admin.calendar"))
