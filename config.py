"""Configuration read from the environment.

With nothing set the app runs on its embedded defaults: a SQLite file in
``instance/``, jobs in process, mail written to the console and a folder.
"""
import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'feedback.db'}")
    # Heroku-style URLs and plain postgresql:// both mean psycopg 3 here.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    # Unset: the embedded default generates one into SECRET_KEY_FILE; production
    # (PostgreSQL or FEEDBACK_ENV=production) refuses to start (feedback/secret_key.py).
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SECRET_KEY_FILE = os.environ.get("FEEDBACK_SECRET_KEY_FILE", str(BASE_DIR / "instance" / "secret_key"))
    FEEDBACK_ENV = os.environ.get("FEEDBACK_ENV", "development")
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "")
    RQ_QUEUE = os.environ.get("FEEDBACK_RQ_QUEUE", "feedback")
    # Seconds of the Redis lease that keeps one reminder scan (or digest) at a
    # time; renewed every third of it while the scan runs, so a scan killed
    # with SIGKILL holds back the next one for at most this long.
    SCAN_LOCK_SECONDS = _int("FEEDBACK_SCAN_LOCK_SECONDS", 60)

    # Public base URL used in e-mails (private links, rating links).
    BASE_URL = os.environ.get("FEEDBACK_BASE_URL", "http://127.0.0.1:5000")

    MAIL_BACKEND = os.environ.get("FEEDBACK_MAIL_BACKEND", "console")  # console | smtp
    MAIL_FOLDER = os.environ.get("FEEDBACK_MAIL_FOLDER", str(BASE_DIR / "instance" / "mail"))
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_SENDER = os.environ.get("MAIL_SENDER", "phananh@haiphong.gov.vn")

    # Where attachment files live (feedback/storage.py): "local" keeps them in
    # UPLOAD_FOLDER, a shared volume when there are several web nodes.
    ATTACHMENT_STORAGE = os.environ.get("FEEDBACK_ATTACHMENT_STORAGE", "local")
    UPLOAD_FOLDER = os.environ.get("FEEDBACK_UPLOAD_FOLDER", str(BASE_DIR / "instance" / "uploads"))
    MAX_ATTACHMENTS = 5
    MAX_ATTACHMENT_BYTES = _int("FEEDBACK_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
    MAX_CONTENT_LENGTH = 60 * 1024 * 1024

    OFFICE_OPEN = os.environ.get("FEEDBACK_OFFICE_OPEN", "07:30")
    OFFICE_CLOSE = os.environ.get("FEEDBACK_OFFICE_CLOSE", "17:00")

    # Default deadline policy in working days (docs/design.md §4).
    CLASSIFY_DAYS = _int("FEEDBACK_CLASSIFY_DAYS", 5)
    REPORT_ANSWER_DAYS = _int("FEEDBACK_REPORT_ANSWER_DAYS", 10)
    RECOMMENDATION_ANSWER_DAYS = _int("FEEDBACK_RECOMMENDATION_ANSWER_DAYS", 15)
    EXTENSION_MAX_DAYS = _int("FEEDBACK_EXTENSION_MAX_DAYS", 10)
    INFO_REPLY_DAYS = _int("FEEDBACK_INFO_REPLY_DAYS", 10)
    RATING_WINDOW_DAYS = _int("FEEDBACK_RATING_WINDOW_DAYS", 10)
    # Days after closing before a final case's personal data is removed
    # (``flask privacy anonymise``); five years by default.
    RETENTION_DAYS = _int("FEEDBACK_RETENTION_DAYS", 1826)

    BABEL_DEFAULT_LOCALE = "vi"
    BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
    LANGUAGES = ("vi", "en")

    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL") or "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    # A citizen's submission never depends on Redis: while the limiter's
    # storage is unreachable each process counts in its own memory, and any
    # other limiter error lets the request through instead of answering 500.
    # Short socket timeouts make a dead Redis fail fast rather than hang.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    # How many reverse proxies in front of the app append X-Forwarded-*; 0
    # trusts none, so a client cannot forge its address for limits and audit.
    TRUSTED_PROXIES = _int("FEEDBACK_TRUSTED_PROXIES", 0)

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("FEEDBACK_SECURE_COOKIES", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=_int("FEEDBACK_REMEMBER_DAYS", 14))
    WTF_CSRF_TIME_LIMIT = None
    PER_PAGE = 20
    # Lists count their rows up to this many and then say "more than": an
    # exact count of a million cases scans them all on every page.
    COUNT_CAP = _int("FEEDBACK_COUNT_CAP", 10_000)
    PASSWORD_HASH_METHOD = "scrypt"
    # Compiled templates kept on disk so that a new worker does not compile
    # them again (about 0.85 s for all pages, spread over its first requests);
    # empty turns it off.
    JINJA_CACHE_DIR = os.environ.get("FEEDBACK_JINJA_CACHE_DIR", str(BASE_DIR / "instance" / "jinja_cache"))


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = _database_url() if os.environ.get("DATABASE_URL") else "sqlite://"
    REDIS_URL = ""
    MAIL_BACKEND = "memory"
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    WTF_CSRF_ENABLED = False
    JINJA_CACHE_DIR = ""  # test runs do not write into instance/
    # A cheap hash keeps factories fast; production uses scrypt.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
