"""Login, logout, optional citizen registration, and passwords: change,
forgotten, and the change an admin-chosen password requires first."""

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import func, select

from .. import login_guard, passwords
from ..extensions import db, limiter
from ..input_guard import safe_next
from ..mail_links import verification_data
from ..models import Role, User
from ..notifications import notify_user
from . import bp
from .forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    NewPasswordForm,
    RegisterForm,
)

# Where an account that must replace its password may still go. Machine
# clients (API, Open311) authenticate with tokens, not with this session.
ALLOWED_BEFORE_PASSWORD_CHANGE = {"auth.change_password", "auth.logout", "static"}
TOKEN_BLUEPRINTS = {"api", "open311"}


def home_for(user: User) -> str:
    if user.role_enum == Role.admin:
        return url_for("admin.index")
    if user.is_staff:
        return url_for("staff.inbox")
    return url_for("public.my_cases")


def _safe_next(target: str | None) -> str | None:
    return safe_next(target)  # one rule for every return address (input_guard)


def start_session(user: User, remember: bool = False) -> None:
    """Log ``user`` in on a new session: whatever the old cookie held (a CSRF
    token, a planted value) is dropped, so a session fixed before login is
    useless after it. Only the language choice is carried over."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    login_user(user, remember=remember)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_guard.ADDRESS_LIMIT, methods=["POST"], deduct_when=login_guard.failed_login)
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.execute(select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
        login_guard.refuse_if_locked(email)
        # Always one password hash check, so the time taken does not tell
        # whether the address has an (active) account.
        if not passwords.verify_login_password(user, form.password.data) or not user.active:
            login_guard.record_failure(email)
            flash(_("Thư điện tử hoặc mật khẩu không đúng."), "error")
            return render_template("auth/login.html", form=form), 401
        login_guard.record_success(email)
        start_session(user, remember=form.remember.data)
        return redirect(_safe_next(request.args.get("next")) or home_for(user))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Ends every session of the account, on every device, and its remember-me cookies."""
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    flash(_("Bạn đã đăng xuất. Mọi phiên đăng nhập của tài khoản này, trên mọi thiết bị, đã kết thúc."), "info")
    return redirect(url_for("public.index"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"])
def register():
    """The same answer whether or not the address already has an account, so
    the page does not tell who has one: a new address gets its account and
    the verification mail; an existing one gets a notice instead."""
    form = RegisterForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        owner = db.session.execute(select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
        if owner is not None:
            passwords.hash_dummy_password(form.password.data)  # as long as creating an account
            notify_user(None, owner, "account_exists", {"login_url": _absolute(url_for("auth.login")),
                                                        "forgot_url": _absolute(url_for("auth.forgot_password"))})
        else:
            user = User(email=email, full_name=form.full_name.data.strip(), role=Role.citizen.value)
            user.set_password(form.password.data)
            db.session.add(user)
            db.session.flush()
            send_verification(user)
        db.session.commit()
        flash(_("Chúng tôi đã gửi thư tới %(email)s. Vui lòng mở thư để hoàn tất; "
                "nếu thư điện tử này đã có tài khoản, thư sẽ hướng dẫn đăng nhập.", email=email), "success")
        return redirect(url_for("auth.login")), 303
    return render_template("auth/register.html", form=form), 422 if form.is_submitted() else 200


def _absolute(path: str) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + path


# E-mail verification: cases sent with a verified address join "my cases".
def send_verification(user: User) -> None:
    """Queue the verification e-mail (in the caller's transaction); the link
    is signed when the mail is rendered (``feedback.mail_links``)."""
    notify_user(None, user, "verify_email", {"verify": {"user": user.id, "email": user.email}})


@bp.route("/verify/<token>")
@limiter.limit("20 per hour")
def verify_email(token: str):
    """Opening the e-mailed link proves the address belongs to the account holder."""
    try:
        data = verification_data(token)
    except SignatureExpired:
        flash(_("Đường dẫn xác minh đã hết hạn. Đăng nhập để nhận đường dẫn mới."), "error")
        return redirect(url_for("auth.login")), 303
    except BadSignature:
        abort(404)
    user = db.session.get(User, data.get("user"))
    if user is None or user.email != data.get("email"):
        abort(404)
    if not user.email_verified:
        user.email_verified = True
        db.session.commit()
    flash(_("Đã xác minh thư điện tử %(email)s.", email=user.email), "success")
    return redirect(url_for("public.my_cases") if current_user.is_authenticated else url_for("auth.login")), 303


@bp.route("/verify/resend", methods=["POST"])
@login_required
@limiter.limit("3 per hour")
def resend_verification():
    if not current_user.email_verified:
        send_verification(current_user)
        db.session.commit()
    flash(_("Đã gửi lại thư xác minh tới %(email)s.", email=current_user.email), "success")
    return redirect(url_for("public.my_cases")), 303


# Passwords ------------------------------------------------------------------

@bp.before_app_request
def require_password_change():
    """An account whose password an admin chose reaches no page but the
    change-password page (and logout) until it has chosen its own."""
    if (not current_user.is_authenticated or not getattr(current_user, "must_change_password", False)
            or request.endpoint in ALLOWED_BEFORE_PASSWORD_CHANGE or request.blueprint in TOKEN_BLUEPRINTS
            or request.endpoint is None):
        return None
    flash(_("Vui lòng đổi mật khẩu do quản trị viên đặt trước khi tiếp tục."), "info")
    return redirect(url_for("auth.change_password")), 303


@bp.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"])
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            passwords.change_password(current_user, form.current_password.data, form.new_password.data)
        except passwords.PasswordRefused as refused:
            db.session.rollback()
            form[refused.field].errors.append(str(refused.message))
        else:
            db.session.commit()  # change_password ended every session of the account
            user = current_user._get_current_object()
            logout_user()  # also clears a remember-me cookie issued for the old password
            start_session(user)  # this browser stays in, on a new session
            flash(_("Đã đổi mật khẩu. Các phiên đăng nhập khác của tài khoản đã kết thúc."), "success")
            return redirect(home_for(user)), 303
    return (render_template("auth/change_password.html", form=form, forced=current_user.must_change_password),
            422 if form.is_submitted() else 200)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"])
def forgot_password():
    """Always the same answer, so the page does not reveal who has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        passwords.request_password_reset(form.email.data)
        db.session.commit()
        flash(_("Nếu thư điện tử này có tài khoản, chúng tôi đã gửi đường dẫn đặt lại mật khẩu tới đó. "
                "Đường dẫn có hiệu lực trong 60 phút."), "info")
        return redirect(url_for("auth.login")), 303
    return render_template("auth/forgot_password.html", form=form), 422 if form.is_submitted() else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def reset_password(token: str):
    try:
        passwords.user_for_reset(token)
    except passwords.PasswordRefused as refused:
        flash(str(refused.message), "error")
        return redirect(url_for("auth.forgot_password")), 303
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            passwords.reset_password(token, form.new_password.data)
        except passwords.PasswordRefused as refused:
            db.session.rollback()
            form.new_password.errors.append(str(refused.message))
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            flash(_("Đã đặt mật khẩu mới. Vui lòng đăng nhập."), "success")
            return redirect(url_for("auth.login")), 303
    response = make_response(render_template("auth/reset_password.html", form=form),
                             422 if form.is_submitted() else 200)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response
