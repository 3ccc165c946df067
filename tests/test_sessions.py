"""Sessions and the secret key: no key from the repository signs anything,
sessions end when the account's access changes, pages with personal data are
never cached, and the answers do not tell who has an account."""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
import subprocess
import sys
import threading
from http.client import HTTPConnection
from pathlib import Path

import pytest
from flask import Flask, current_app
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from config import TestConfig
from feedback import create_app, passwords
from feedback.extensions import db
from feedback.models import Notification, User
from feedback.secret_key import KNOWN_DEVELOPMENT_KEYS, SecretKeyError

from .forms_support import submit
from .helpers import Factory, submitted_case
from .test_passwords import link_in, reset_mails, set_new_password
from .test_tracking import attach

ROOT = Path(__file__).resolve().parent.parent
NEW = "mot-mat-khau-moi-dai"


def repository_keys() -> set[str]:
    """Every secret key written in the configuration or the tests, and the known development values."""
    found = set(KNOWN_DEVELOPMENT_KEYS)
    pattern = re.compile(r"""SECRET_KEY["']?\s*[:=]\s*["']([^"']+)["']""")
    for path in [ROOT / "config.py", *sorted((ROOT / "tests").glob("*.py"))]:
        found.update(pattern.findall(path.read_text(encoding="utf-8")))
    return found


def config_with(**settings) -> type:
    """The test app's configuration (same database and folders) with ``settings`` changed."""
    same = {name: current_app.config[name] for name in ("UPLOAD_FOLDER", "MAIL_FOLDER")}
    return type("Config", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": db.engine.url.render_as_string(
        hide_password=False), **same, **settings})


def started(config: type):
    """A second app on the test database whose requests, like a server's, each
    get their own app context (the test's shared one would keep the user
    Flask-Login loaded for the previous request)."""
    other = create_app(config)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def generated_key_app(app, tmp_path):
    """The app as started on the embedded default: SQLite, no SECRET_KEY, a key
    generated into the instance folder (on PostgreSQL it would refuse to start)."""
    config = config_with(SECRET_KEY=None, SECRET_KEY_FILE=str(tmp_path / "secret_key"),
                         SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'embedded.db'}")
    for other in started(config):
        with other.app_context():
            db.create_all()
        yield other


@pytest.fixture
def site(app):
    yield from started(config_with())


@pytest.fixture
def browser(site):
    return site.test_client()


def session_of(client, app_: Flask) -> dict:
    cookie = client.get_cookie(app_.config["SESSION_COOKIE_NAME"])
    return dict(SecureCookieSessionInterface().get_signing_serializer(app_).loads(cookie.value))


def signed_session(key: str, data: dict) -> str:
    signer = Flask("forger")
    signer.secret_key = key
    return SecureCookieSessionInterface().get_signing_serializer(signer).dumps(data)


def signed_remember_cookie(key: str, user_id: str) -> str:
    digest = hmac.new(key.encode(), user_id.encode(), hashlib.sha512).hexdigest()
    return f"{user_id}|{digest}"


def opens_staff_page(app_: Flask, **cookies: str) -> bool:
    """Whether a browser holding only these cookies reaches the staff inbox."""
    browser = app_.test_client()
    for name, value in cookies.items():
        browser.set_cookie(name, value)
    return browser.get("/staff/").status_code == 200


# The secret key -------------------------------------------------------------------------


def test_a_session_cookie_signed_with_any_key_in_the_repository_is_refused(generated_key_app):
    with generated_key_app.app_context():
        user = Factory().user(role="desk")
        email, user_id = user.email, user.get_id()
    browser = generated_key_app.test_client()
    assert browser.post("/auth/login", data={"email": email, "password": Factory.PASSWORD}).status_code == 302
    genuine = session_of(browser, generated_key_app)
    real_key = generated_key_app.config["SECRET_KEY"]
    assert opens_staff_page(generated_key_app, session=signed_session(real_key, genuine))  # the forgery is faithful
    assert opens_staff_page(generated_key_app, remember_token=signed_remember_cookie(real_key, user_id))

    keys = repository_keys()
    assert {"dev-only-change-me", "test-secret"} <= keys and real_key not in keys
    for key in keys:
        assert not opens_staff_page(generated_key_app, session=signed_session(key, genuine)), key
        assert not opens_staff_page(generated_key_app, remember_token=signed_remember_cookie(key, user_id)), key


def test_the_generated_key_file_is_readable_by_its_owner_only_and_reused(app, tmp_path):
    key_file = tmp_path / "instance" / "secret_key"
    embedded = config_with(SECRET_KEY=None, SECRET_KEY_FILE=str(key_file), SQLALCHEMY_DATABASE_URI="sqlite://")
    first = create_app(embedded)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    second = create_app(embedded)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 32
    assert list(key_file.parent.iterdir()) == [key_file]  # no temporary file left behind


@pytest.mark.parametrize("settings", [
    {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://feedback@127.0.0.1:1/feedback"},
    {"FEEDBACK_ENV": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://"},
])
def test_production_refuses_to_start_without_a_secret_key(app, tmp_path, settings):
    key_file = tmp_path / "secret_key"
    with pytest.raises(SecretKeyError, match="SECRET_KEY is not set") as refused:
        create_app(config_with(SECRET_KEY=None, SECRET_KEY_FILE=str(key_file), TESTING=False, **settings))
    assert "Chưa đặt SECRET_KEY" in str(refused.value) and "secrets.token_urlsafe" in str(refused.value)
    assert not key_file.exists()


@pytest.mark.parametrize("key, reason", [
    ("dev-only-change-me", "development value"), ("test-secret", "development value"),
    ("short-but-not-known", "too short")])
def test_a_known_or_short_secret_key_is_refused(app, key, reason):
    with pytest.raises(SecretKeyError, match=reason):
        create_app(config_with(SECRET_KEY=key, TESTING=False, FEEDBACK_ENV="production"))


def test_started_from_the_environment_in_production_without_a_key_the_app_says_why_and_exits():
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    environment.update(FEEDBACK_ENV="production", DATABASE_URL="sqlite://", FEEDBACK_INPROCESS_SCHEDULER="0")
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr and "FEEDBACK_ENV=production" in result.stderr


# Sessions end when they should -------------------------------------------------------------


def log_in_remembered(browser, user: User) -> dict[str, str]:
    """Log in with "remember me" ticked; the session and remember-me cookies it got."""
    response = submit(browser, "/auth/login", "email", email=user.email, password=Factory.PASSWORD, remember="y")
    assert response.status_code == 302
    cookies = {"session": browser.get_cookie("session").value,
               "remember_token": browser.get_cookie("remember_token").value}
    assert opens_staff_page(browser.application, session=cookies["session"])
    assert opens_staff_page(browser.application, remember_token=cookies["remember_token"])
    return cookies


def assert_both_cookies_stopped_working(site, cookies: dict[str, str]) -> None:
    assert not opens_staff_page(site, session=cookies["session"])
    assert not opens_staff_page(site, remember_token=cookies["remember_token"])


def test_remember_me_lasts_two_weeks_and_is_not_sent_cross_site(browser, make):
    user = make.user(role="desk")
    submit(browser, "/auth/login", "email", email=user.email, password=Factory.PASSWORD, remember="y")
    cookie = browser.get_cookie("remember_token")
    assert cookie.http_only and cookie.same_site == "Lax"
    assert 13 * 86400 < (cookie.expires.timestamp() - __import__("time").time()) <= 14 * 86400


def test_logging_out_ends_every_session_and_remember_me_cookie_of_the_account(site, browser, make):
    user = make.user(role="desk")
    cookies = log_in_remembered(browser, user)
    elsewhere = site.test_client()
    log_in_remembered(elsewhere, user)

    response = browser.post("/auth/logout", follow_redirects=True)
    assert "trên mọi thiết bị" in response.get_data(as_text=True)
    assert_both_cookies_stopped_working(site, cookies)
    assert elsewhere.get("/staff/").status_code == 302  # the other device is out too


def test_a_password_reset_ends_every_session_and_remember_me_cookie(site, browser, make):
    user = make.user(role="desk", email="desk.reset@example.vn")
    cookies = log_in_remembered(browser, user)

    stranger = site.test_client()
    submit(stranger, "/auth/forgot", "email", email="desk.reset@example.vn")
    [mail] = reset_mails()
    assert set_new_password(stranger, link_in(mail)).status_code == 303

    assert_both_cookies_stopped_working(site, cookies)
    assert browser.get("/staff/").status_code == 302


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(site, browser, make):
    user = make.user(role="desk")
    other_device = log_in_remembered(site.test_client(), user)
    log_in_remembered(browser, user)
    response = submit(browser, "/auth/password", "current_password", current_password=Factory.PASSWORD,
                      new_password=NEW, confirm=NEW)
    assert response.status_code == 303
    assert_both_cookies_stopped_working(site, other_device)
    assert browser.get("/staff/").status_code == 200


def test_a_role_change_ends_every_session_and_remember_me_cookie(site, browser, make):
    user = make.user(role="desk")
    admin = make.user(role="admin")
    cookies = log_in_remembered(browser, user)

    admin_browser = site.test_client()
    admin_browser.post("/auth/login", data={"email": admin.email, "password": Factory.PASSWORD})
    response = submit(admin_browser, f"/admin/users/{user.id}", "role", role="supervisor", agency_id="")
    assert response.status_code in (302, 303)
    db.session.expire_all()
    assert db.session.get(User, user.id).role == "supervisor"

    assert_both_cookies_stopped_working(site, cookies)


def test_deactivating_an_account_ends_its_remember_me_cookie_too(site, browser, make):
    user = make.user(role="desk")
    admin = make.user(role="admin")
    cookies = log_in_remembered(browser, user)
    admin_browser = site.test_client()
    admin_browser.post("/auth/login", data={"email": admin.email, "password": Factory.PASSWORD})
    submit(admin_browser, f"/admin/users/{user.id}", "role", active=None)
    db.session.expire_all()
    assert not db.session.get(User, user.id).active
    assert_both_cookies_stopped_working(site, cookies)


def test_a_session_id_from_before_generations_is_refused(site, make):
    user = make.user(role="desk")
    key = site.config["SECRET_KEY"]
    assert opens_staff_page(site, remember_token=signed_remember_cookie(key, user.get_id()))
    assert not opens_staff_page(site, remember_token=signed_remember_cookie(key, str(user.id)))


def test_logging_in_starts_a_new_session(site, browser, make):
    user = make.user(role="desk")
    with browser.session_transaction() as planted:  # what a fixated cookie would carry
        planted["csrf_token"] = "chosen-by-an-attacker"
        planted["planted"] = "x"
        planted["lang"] = "en"
    before = browser.get_cookie("session").value
    submit(browser, "/auth/login", "email", email=user.email, password=Factory.PASSWORD)
    after = session_of(browser, site)
    assert "planted" not in after and after.get("csrf_token") != "chosen-by-an-attacker"
    assert after["lang"] == "en" and after["_user_id"] == user.get_id()
    assert not opens_staff_page(site, session=before)


# Headers ------------------------------------------------------------------------------------


def assert_private_headers(response) -> None:
    assert response.headers["Cache-Control"] == "no-store"
    policy = response.headers["Content-Security-Policy"]
    if "/files/" in response.request.path:  # a download runs nothing: "default-src 'none'; sandbox"
        assert "sandbox" in policy
        return
    for directive in ("base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"):
        assert directive in policy


def test_staff_pages_private_link_pages_and_downloads_are_never_cached(browser, make):
    desk = make.user(role="desk")
    case, token = submitted_case(make)
    file = attach(case)
    browser.post("/auth/login", data={"email": desk.email, "password": Factory.PASSWORD})
    for url in ("/staff/", f"/staff/cases/{case.code}", f"/staff/cases/{case.code}/files/{file.id}"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert_private_headers(response)
    citizen = browser.application.test_client()
    for url in (f"/c/{token}", f"/c/{token}/files/{file.id}", "/auth/login"):
        response = citizen.get(url)
        assert response.status_code == 200, url
        assert_private_headers(response)


def test_the_public_home_page_may_be_cached(browser):
    assert "no-store" not in browser.get("/").headers.get("Cache-Control", "")


def test_over_https_pages_carry_hsts_and_cookies_are_secure(browser, make):
    user = make.user(role="desk")
    response = browser.post("/auth/login", data={"email": user.email, "password": Factory.PASSWORD, "remember": "y"},
                           base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and all("; Secure" in cookie for cookie in cookies)
    assert "Strict-Transport-Security" not in browser.get("/").headers  # plain HTTP: no HSTS


def test_the_development_server_does_not_reveal_its_versions(site):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        assert response.getheader("Server") == "feedback"
    finally:
        server.shutdown()


# Answers that do not tell who has an account ------------------------------------------------


def test_login_checks_one_password_hash_for_an_unknown_and_a_known_account(browser, make, monkeypatch):
    make.user(role="desk", email="known@example.vn")
    checks: list[str] = []
    real = passwords.check_password_hash

    def counting(hashed, password):
        checks.append(hashed)
        return real(hashed, password)

    monkeypatch.setattr(passwords, "check_password_hash", counting)
    monkeypatch.setattr("feedback.models.check_password_hash", counting)
    unknown = browser.post("/auth/login", data={"email": "nobody@example.vn", "password": "sai-mat-khau-roi"})
    known = browser.post("/auth/login", data={"email": "known@example.vn", "password": "sai-mat-khau-roi"})
    assert unknown.status_code == known.status_code == 401
    assert unknown.get_data(as_text=True) == known.get_data(as_text=True).replace("known@example.vn",
                                                                                  "nobody@example.vn")
    assert len(checks) == 2 and checks[0].split("$")[0] == checks[1].split("$")[0]


def test_registering_an_existing_address_mails_the_owner_a_notice_not_a_new_account(browser, make):
    owner = make.user(role="citizen", email="hoa@example.vn")
    response = browser.post("/auth/register", data={"full_name": "Ai đó", "email": "hoa@example.vn",
                                                   "password": NEW, "confirm": NEW})
    assert response.status_code == 303
    [notice] = db.session.execute(select(Notification)).scalars().all()
    assert notice.template == "account_exists" and notice.recipient_user_id == owner.id
    assert db.session.execute(select(User)).scalars().all() == [owner]
