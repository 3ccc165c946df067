"""The key that signs sessions, remember-me cookies, CSRF tokens and every
e-mailed link (verification, password reset, rating, information, private-link
confirmation).

Embedded default (SQLite, nothing set): a random key is generated on the first
start and kept in ``instance/secret_key`` (mode 0600, the owner alone may read
it), then reused, so sessions survive a restart and nobody else knows the key.
Production (a PostgreSQL ``DATABASE_URL`` or ``FEEDBACK_ENV=production``) must
set ``SECRET_KEY`` itself: several web processes and the workers need the same
key, so the app refuses to start without one. Outside tests, a key shorter than
:data:`MIN_LENGTH` characters or one of the development values written in this
repository is refused, since anybody could sign cookies with it.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask

MIN_LENGTH = 32

# Values that appear in the repository (configuration, tests, old defaults):
# public, so never acceptable for a running system.
KNOWN_DEVELOPMENT_KEYS = frozenset({
    "dev-only-change-me", "test-secret", "migration-test", "change-me", "changeme", "secret", "dev", "development",
})


class SecretKeyError(RuntimeError):
    """The app cannot start with this secret key; the message says why and what to do."""


def is_production(app: Flask) -> bool:
    """Several processes share one key in production: PostgreSQL or FEEDBACK_ENV=production."""
    return (str(app.config.get("FEEDBACK_ENV", "")).lower() == "production"
            or str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"))


HOW_TO_SET = ("Đặt biến môi trường SECRET_KEY là một chuỗi ngẫu nhiên dài, ví dụ: "
              "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))'). "
              "/ Set the SECRET_KEY environment variable to a long random value, for example: "
              "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))').")


def weakness(key: str) -> str | None:
    """Why ``key`` may not sign anything, or None when it is acceptable."""
    if key.strip().lower() in KNOWN_DEVELOPMENT_KEYS:
        return ("SECRET_KEY là giá trị phát triển có sẵn trong mã nguồn, ai cũng biết. "
                "/ SECRET_KEY is a development value written in the source code; anyone knows it.")
    if len(key) < MIN_LENGTH:
        return (f"SECRET_KEY quá ngắn (cần ít nhất {MIN_LENGTH} ký tự). "
                f"/ SECRET_KEY is too short (at least {MIN_LENGTH} characters).")
    return None


def load_or_create_key_file(path: Path) -> str:
    """The key kept in ``path``, generated (mode 0600) if the file does not exist yet.

    Written to a private temporary file and linked into place, so two processes
    starting at once end up with the same key and nobody reads a half-written file."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # created 0600
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _read_key(path)


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_LENGTH:
        raise SecretKeyError(f"{path}: tệp khoá bí mật hỏng hoặc quá ngắn; xoá tệp để tạo khoá mới. "
                             f"/ the secret key file is damaged or too short; delete it to generate a new key.")
    return key


def configure_secret_key(app: Flask) -> None:
    """Set ``app.secret_key`` from SECRET_KEY or the instance key file, or refuse to start."""
    key = app.config.get("SECRET_KEY")
    if not key:
        if is_production(app):
            raise SecretKeyError(
                "Chưa đặt SECRET_KEY. Với PostgreSQL hoặc FEEDBACK_ENV=production, mọi tiến trình web và worker "
                "phải dùng chung một khoá do người vận hành đặt. / SECRET_KEY is not set. With PostgreSQL or "
                "FEEDBACK_ENV=production every web and worker process must share one key the operator sets. "
                + HOW_TO_SET)
        app.config["SECRET_KEY"] = load_or_create_key_file(Path(app.config["SECRET_KEY_FILE"]))
        return
    if app.testing:  # tests sign with a fixed, known key on purpose
        return
    problem = weakness(str(key))
    if problem:
        raise SecretKeyError(f"{problem} {HOW_TO_SET}")
