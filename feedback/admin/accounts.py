"""Accounts and the API tokens issued to them."""
from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ..access import roles_required
from ..extensions import db
from ..labels import ROLE
from ..models import ApiToken, Role, User
from ..pagination import paginate
from . import bp
from . import operations as ops
from .forms import ApiTokenForm, EditUserForm, UserForm
from .pages import confirm_page, form_status, refuse, save_or_refuse


@bp.route("/users", methods=["GET", "POST"])
@roles_required(Role.admin)
def users():
    form = UserForm()
    saved = save_or_refuse(
        form, lambda: ops.create_user(email=form.email.data, full_name=form.full_name.data, role=form.role.data,
                                      agency_id=form.agency_id.data, password=form.password.data),
        success=lambda user: _("Đã tạo tài khoản %(email)s.", email=user.email), next_url=url_for("admin.users"))
    if saved:
        return saved
    q = request.args.get("q", "").strip()[:200]
    role = request.args.get("role", "")
    query = select(User).options(selectinload(User.agency))
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(User.email).like(pattern), func.lower(User.full_name).like(pattern)))
    if role in ROLE:
        query = query.where(User.role == role)
    else:
        role = ""
    page = paginate(query.order_by(User.role, User.email))
    filters = {k: v for k, v in (("q", q), ("role", role)) if v}
    return (render_template("admin/users.html", form=form, page=page, q=q, role=role, filters=filters),
            form_status(form))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.admin)
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = EditUserForm(user=user)
    saved = save_or_refuse(
        form, lambda: ops.update_user(user, current_user, full_name=form.full_name.data, role=form.role.data,
                                      agency_id=form.agency_id.data, active=form.active.data,
                                      password=form.new_password.data or None),
        success=lambda changed: _("Đã lưu tài khoản %(email)s.", email=user.email) if changed
        else _("Không có gì thay đổi."), next_url=url_for("admin.users"))
    if saved:
        return saved
    return (render_template("admin/user_form.html", form=form, user=user, is_self=user.id == current_user.id),
            form_status(form))


# API tokens -----------------------------------------------------------------


@bp.route("/tokens")
@roles_required(Role.admin)
def tokens():
    page = paginate(select(ApiToken).options(selectinload(ApiToken.user))
                    .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc()))
    return render_template("admin/tokens.html", page=page)


@bp.route("/users/<int:user_id>/tokens", methods=["GET", "POST"])
@roles_required(Role.admin)
def user_tokens(user_id: int):
    """A user's tokens. A new token is shown once, in the answer to the POST
    that made it (never in a URL, never stored in clear)."""
    user = db.get_or_404(User, user_id)
    form = ApiTokenForm()
    new_token = None
    status = 200
    if form.validate_on_submit():
        try:
            _row, new_token = ops.create_api_token(user, form.name.data, scope=form.scope.data,
                                                   agency_id=form.agency_id.data,
                                                   expires_in_days=form.expires_in_days.data)
        except ops.AdminError as error:
            refuse(form, error)
        else:
            db.session.commit()
            form = ApiTokenForm(formdata=None)
    if form.is_submitted() and new_token is None:
        status = 422
    rows = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)
                              .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).scalars().all()
    response = make_response(render_template("admin/user_tokens.html", user=user, form=form, tokens=rows,
                                             new_token=new_token), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@roles_required(Role.admin)
def revoke_token(token_id: int):
    api_token = db.get_or_404(ApiToken, token_id)
    back = url_for("admin.user_tokens", user_id=api_token.user_id)
    if request.method == "POST":
        try:
            ops.revoke_api_token(api_token)
        except ops.AdminError as error:
            refuse(None, error)
        else:
            db.session.commit()
            flash(_("Đã thu hồi khoá API “%(name)s”.", name=api_token.name), "success")
        return redirect(back)
    if api_token.revoked_at is not None:
        flash(_("Khoá API này đã bị thu hồi trước đó."), "info")
        return redirect(back)
    return confirm_page(
        title=_("Thu hồi khoá API “%(name)s” của %(email)s?", name=api_token.name, email=api_token.user.email),
        facts=[_("Hệ thống đang dùng khoá này sẽ bị từ chối ngay lập tức. Không thể khôi phục khoá đã thu hồi; "
                 "nếu cần, hãy cấp khoá mới.")],
        button=_("Thu hồi khoá"), action_url=url_for("admin.revoke_token", token_id=token_id), cancel_url=back)
