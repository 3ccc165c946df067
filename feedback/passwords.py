"""The password policy and the forgotten-password link.

The policy applies wherever a password is set: the registration and
change-password forms, the reset link, accounts an admin creates or resets,
and ``flask users create``.  A reset link is signed with the secret key,
expires after :data:`RESET_MAX_AGE` seconds and carries a fingerprint of the
password hash it was issued for, so it stops working once the password has
changed: used once, it is spent.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash
from wtforms.validators import ValidationError

from .audit import record_audit
from .extensions import db
from .models import User, utcnow
from .notifications import notify_user

PASSWORD_MIN = 10
RESET_MAX_AGE = 3600  # seconds a forgotten-password link stays valid
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


class PasswordRefused(ValueError):
    """The password breaks the policy; ``message`` says which rule and
    ``field`` which form field it belongs to."""

    def __init__(self, message: Any, field: str = "new_password"):
        super().__init__(str(message))
        self.message = message
        self.field = field


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of passwords refused whatever their length."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problem(password: str, email: str = "") -> Any | None:
    """Why ``password`` is refused for the account ``email``, or None if it is fine."""
    password = password or ""
    if len(password) < PASSWORD_MIN:
        return _l("Mật khẩu cần ít nhất %(n)d ký tự.", n=PASSWORD_MIN)
    lowered = password.strip().lower()
    if lowered in common_passwords():
        return _l("Mật khẩu này quá phổ biến, dễ bị đoán; vui lòng chọn mật khẩu khác.")
    email = (email or "").strip().lower()
    if email and (lowered == email or lowered == email.split("@")[0]):
        return _l("Mật khẩu không được trùng với địa chỉ thư điện tử.")
    return None


def check_password_policy(password: str, email: str = "") -> None:
    """Raise :class:`PasswordRefused` when ``password`` breaks the policy."""
    problem = password_problem(password, email)
    if problem is not None:
        raise PasswordRefused(problem)


class PasswordPolicy:
    """WTForms validator for the policy; ``email_field`` names the form's
    e-mail field, or ``email`` gives a function returning the account's address."""

    def __init__(self, email_field: str | None = None, email=None):
        self.email_field = email_field
        self.email = email

    def __call__(self, form, field) -> None:
        email = ""
        if self.email_field and self.email_field in form:
            email = form[self.email_field].data or ""
        elif self.email is not None:
            email = self.email() or ""
        problem = password_problem(field.data or "", email)
        if problem is not None:
            raise ValidationError(str(problem))


@lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash("no account has this password", method=method)


def hash_dummy_password(password: str) -> None:
    """Spend the time a real password check takes (same hash method), for
    answers that must not reveal whether an account exists."""
    check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password or "")


def verify_login_password(user: User | None, password: str) -> bool:
    """Whether ``password`` is ``user``'s; without an account a dummy hash is
    checked, so an unknown address takes as long as a wrong password."""
    if user is None:
        hash_dummy_password(password)
        return False
    return user.check_password(password or "")


def change_password(user: User, current: str, new: str) -> None:
    """The account holder replaces their password (required after an admin set it)."""
    if not user.check_password(current or ""):
        raise PasswordRefused(_l("Mật khẩu hiện tại không đúng."), "current_password")
    if current == new:
        raise PasswordRefused(_l("Mật khẩu mới phải khác mật khẩu hiện tại."))
    check_password_policy(new, user.email)
    user.set_password(new)
    user.must_change_password = False
    user.end_sessions()
    record_audit("user.password_change", detail={"user_id": user.id}, user=user)
    db.session.flush()


# Forgotten password ---------------------------------------------------------


def _fingerprint(user: User) -> str:
    """Changes whenever the password does (each hash has its own salt)."""
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:16]


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="feedback.reset-password")


def _now() -> datetime:
    return utcnow()


def request_password_reset(email: str) -> None:
    """Queue a reset e-mail if an active account has this address; do nothing
    otherwise (the page says the same either way). The outbox row holds what
    the link is made of, not the link: it is signed when the mail is rendered."""
    email = (email or "").strip().lower()
    user = db.session.execute(select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
    if user is None or not user.active:
        return
    notify_user(None, user, "password_reset", {
        "reset": {"user": user.id, "fp": _fingerprint(user), "issued": int(_now().timestamp())},
        "valid_minutes": RESET_MAX_AGE // 60})
    record_audit("user.password_reset_requested", detail={"user_id": user.id}, user=user)


def reset_url(reset: dict[str, Any]) -> str:
    """The link for an outbox row's ``reset`` payload, signed at delivery."""
    token = _serializer().dumps({"u": reset["user"], "f": reset["fp"], "t": reset["issued"]})
    return f"{current_app.config['BASE_URL'].rstrip('/')}/auth/reset/{token}"


def user_for_reset(token: str) -> User:
    """The account a reset link is for; :class:`PasswordRefused` when the link
    is forged, expired or already used."""
    try:
        data = _serializer().loads(token)
        user_id, fingerprint, issued = int(data["u"]), str(data["f"]), int(data["t"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise PasswordRefused(_l("Đường dẫn đặt lại mật khẩu không hợp lệ.")) from None
    if _now().timestamp() - issued > RESET_MAX_AGE:
        raise PasswordRefused(_l("Đường dẫn đặt lại mật khẩu đã hết hạn; vui lòng yêu cầu đường dẫn mới."))
    user = db.session.get(User, user_id)
    if user is None or not user.active or _fingerprint(user) != fingerprint:
        raise PasswordRefused(_l("Đường dẫn đặt lại mật khẩu đã được dùng hoặc không còn hiệu lực; "
                                 "vui lòng yêu cầu đường dẫn mới."))
    return user


def reset_password(token: str, new: str) -> User:
    """Set a new password through a reset link, which is spent by it."""
    user = user_for_reset(token)
    check_password_policy(new, user.email)
    user.set_password(new)
    user.must_change_password = False
    user.end_sessions()  # whoever used the old password is out, on every device
    record_audit("user.password_reset", detail={"user_id": user.id}, user=user)
    db.session.flush()
    return user
