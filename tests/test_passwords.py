"""Passwords: the policy everywhere one is set, the forgotten-password link,
and the change an admin-chosen password requires before anything else."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from feedback import passwords
from feedback.extensions import db
from feedback.mail import render_mail
from feedback.models import AuditLog, Notification, User, utcnow

from .forms_support import post_form, submit
from .helpers import Factory

NEW = "mot-mat-khau-moi-dai"


def reset_mails() -> list[Notification]:
    return db.session.execute(select(Notification).where(Notification.template == "password_reset")).scalars().all()


def link_in(mail: Notification) -> str:
    """The link as the mail the person receives shows it."""
    text = render_mail(mail).text
    url = next(word for word in text.split() if "/auth/reset/" in word)
    return url[url.index("/auth/reset/"):]


def forgot(client, email: str):
    return submit(client, "/auth/forgot", "email", email=email)


def set_new_password(client, link: str, password: str = NEW):
    return submit(client, link, "new_password", new_password=password, confirm=password)


# Forgotten password ---------------------------------------------------------------


def test_the_same_answer_for_a_known_and_an_unknown_address(client, make):
    make.user(role="citizen", email="hoa@example.vn")
    known, unknown = forgot(client, "hoa@example.vn"), forgot(client, "nobody@example.vn")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    known_page = client.get(known.headers["Location"]).get_data(as_text=True)
    assert "Nếu thư điện tử này có tài khoản" in known_page
    forgot(client, "nobody@example.vn")
    unknown_page = client.get("/auth/login").get_data(as_text=True)
    assert "Nếu thư điện tử này có tài khoản" in unknown_page
    assert [m.recipient for m in reset_mails()] == ["hoa@example.vn"]


def test_the_outbox_keeps_no_usable_link(client, make):
    make.user(role="citizen", email="hoa@example.vn")
    forgot(client, "hoa@example.vn")
    [mail] = reset_mails()
    assert "/auth/reset/" not in str(mail.payload)


def test_a_forgotten_password_link_works_once(client, make, auth):
    user = make.user(role="officer", email="cb@example.vn")
    forgot(client, "cb@example.vn")
    link = link_in(reset_mails()[0])
    done = set_new_password(client, link)
    assert done.status_code == 303 and done.headers["Location"].endswith("/auth/login")
    assert auth.login("cb@example.vn", NEW).status_code == 302
    auth.logout()
    again = client.get(link)
    assert again.status_code == 303
    assert "đã được dùng hoặc không còn hiệu lực" in client.get(again.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(NEW)
    assert "user.password_reset" in db.session.execute(select(AuditLog.action)).scalars().all()


def test_a_forgotten_password_link_expires(client, make, monkeypatch):
    make.user(role="citizen", email="hoa@example.vn")
    forgot(client, "hoa@example.vn")
    link = link_in(reset_mails()[0])
    later = utcnow() + timedelta(seconds=passwords.RESET_MAX_AGE + 60)
    monkeypatch.setattr(passwords, "_now", lambda: later)
    response = client.get(link)
    assert response.status_code == 303
    assert "đã hết hạn" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_forged_link_is_refused(client):
    response = client.get("/auth/reset/not-a-token")
    assert response.status_code == 303 and response.headers["Location"].endswith("/auth/forgot")


def test_the_reset_page_applies_the_policy(client, make):
    make.user(role="citizen", email="hoa@example.vn")
    forgot(client, "hoa@example.vn")
    response = set_new_password(client, link_in(reset_mails()[0]), "ngan-qua")
    assert response.status_code == 422 and "Mật khẩu cần ít nhất 10 ký tự." in response.get_data(as_text=True)


# First login ------------------------------------------------------------------------


@pytest.fixture
def first_login_account(client, make, auth):
    """An account an admin just opened through the accounts page, now logged in as its holder."""
    admin = make.user(role="admin")
    agency = make.agency(code="SO-XD")
    auth.login(admin)
    created = submit(client, "/admin/users", "email", email="moi@haiphong.gov.vn", full_name="Trần Văn Mới",
                     password="mat-khau-quan-tri-dat", role="officer", agency_id=str(agency.id))
    assert created.status_code == 302, created.get_data(as_text=True)
    auth.logout()
    assert auth.login("moi@haiphong.gov.vn", "mat-khau-quan-tri-dat").status_code == 302
    return db.session.execute(select(User).where(User.email == "moi@haiphong.gov.vn")).scalar_one()


@pytest.mark.parametrize("page", ["/staff/", "/", "/lookup", "/admin/users", "/dashboard/", "/staff/deliveries"])
def test_a_first_login_account_reaches_no_page_before_changing_its_password(client, first_login_account, page):
    response = client.get(page)
    assert response.status_code == 303 and response.headers["Location"].endswith("/auth/password")


def test_after_changing_its_password_the_account_works(client, first_login_account):
    page = client.get("/auth/password").get_data(as_text=True)
    assert "do quản trị viên đặt" in page
    done = post_form(client, page, "/auth/password", "new_password", current_password="mat-khau-quan-tri-dat",
                     new_password=NEW, confirm=NEW)
    assert done.status_code == 303
    assert client.get("/staff/").status_code == 200
    db.session.expire_all()
    assert not db.session.get(User, first_login_account.id).must_change_password


def test_logout_stays_reachable_before_the_change(client, first_login_account):
    assert client.post("/auth/logout").status_code == 302
    assert client.get("/lookup").status_code == 200


# The policy --------------------------------------------------------------------------


@pytest.mark.parametrize("password, message", [
    ("ngan-qua", "Mật khẩu cần ít nhất 10 ký tự."),
    ("password123", "Mật khẩu này quá phổ biến"),
    ("Haiphong@2026", "Mật khẩu này quá phổ biến"),
    ("cb.tuphap@haiphong.gov.vn", "không được trùng với địa chỉ thư điện tử"),
])
def test_the_change_password_page_refuses_a_weak_password_clearly(client, make, auth, password, message):
    make.user(role="officer", email="cb.tuphap@haiphong.gov.vn")
    auth.login("cb.tuphap@haiphong.gov.vn")
    response = submit(client, "/auth/password", "new_password", current_password=Factory.PASSWORD,
                      new_password=password, confirm=password)
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_a_wrong_current_password_is_refused(client, make, auth):
    make.user(role="officer", email="cb@example.vn")
    auth.login("cb@example.vn")
    response = submit(client, "/auth/password", "new_password", current_password="khong-dung-dau",
                      new_password=NEW, confirm=NEW)
    assert response.status_code == 422 and "Mật khẩu hiện tại không đúng." in response.get_data(as_text=True)


def test_the_admin_accounts_page_refuses_a_common_password(client, make, auth):
    auth.login(make.user(role="admin"))
    response = submit(client, "/admin/users", "email", email="x@haiphong.gov.vn", full_name="X",
                      password="qwerty123456", role="supervisor")
    assert response.status_code == 422 and "Mật khẩu này quá phổ biến" in response.get_data(as_text=True)
    assert db.session.execute(select(User).where(User.email == "x@haiphong.gov.vn")).first() is None


def test_flask_users_create_refuses_a_common_password(runner):
    result = runner.invoke(args=["users", "create", "--email", "a@hp.vn", "--password", "matkhau12345",
                                 "--role", "admin"])
    assert result.exit_code != 0 and "password policy" in result.output
    assert db.session.execute(select(User)).first() is None


def test_english_pages_explain_the_policy_in_english(client, make, auth):
    make.user(role="officer", email="cb@example.vn")
    auth.login("cb@example.vn")
    client.get("/lang/en")
    response = submit(client, "/auth/password", "new_password", current_password=Factory.PASSWORD,
                      new_password="short", confirm="short")
    assert "at least 10 characters" in response.get_data(as_text=True)
