"""Login, logout and optional citizen registration."""
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select

from ..extensions import db, limiter
from ..models import Role, User
from . import bp
from .forms import LoginForm, RegisterForm


def home_for(user: User) -> str:
    if user.role_enum == Role.admin:
        return url_for("admin.index")
    if user.is_staff:
        return url_for("staff.inbox")
    return url_for("public.my_cases")


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.execute(select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
        if user is None or not user.check_password(form.password.data) or not user.active:
            flash(_("Thư điện tử hoặc mật khẩu không đúng."), "error")
            return render_template("auth/login.html", form=form), 401
        login_user(user, remember=form.remember.data)
        return redirect(_safe_next(request.args.get("next")) or home_for(user))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("Bạn đã đăng xuất."), "info")
    return redirect(url_for("public.index"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        taken = db.session.execute(select(User.id).where(func.lower(User.email) == email)).first()
        if taken:
            form.email.errors.append(_("Thư điện tử này đã được đăng ký."))
        else:
            user = User(email=email, full_name=form.full_name.data.strip(), role=Role.citizen.value)
            user.set_password(form.password.data)
            db.session.add(user)
            db.session.commit()
            login_user(user)
            flash(_("Đăng ký thành công."), "success")
            return redirect(url_for("public.my_cases"))
    return render_template("auth/register.html", form=form)
