"""The foundation: roles reach only their pages, scoping, passwords, CSRF, probes."""
import pytest
from sqlalchemy import select

from config import TestConfig
from feedback import create_app
from feedback.access import scoped_cases
from feedback.extensions import db
from feedback.models import User

STAFF_PAGES = ["/staff/"]
ADMIN_PAGES = ["/admin/users", "/admin/calendar"]


@pytest.mark.parametrize("path", STAFF_PAGES + ADMIN_PAGES + ["/my-cases"])
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["desk", "officer", "lead", "supervisor"])
def test_staff_reach_the_inbox_but_not_admin(client, make, auth, role):
    user = make.user(role=role)
    auth.login(user)
    assert client.get("/staff/").status_code == 200
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 403


def test_citizen_gets_403_on_staff_and_admin_pages(client, make, auth):
    auth.login(make.user(role="citizen"))
    assert client.get("/my-cases").status_code == 200
    for path in STAFF_PAGES + ADMIN_PAGES:
        assert client.get(path).status_code == 403


def test_admin_reaches_admin_pages(client, make, auth):
    auth.login(make.user(role="admin"))
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 200


def test_officer_case_list_never_contains_another_agencys_case(client, make, auth):
    mine, other = make.agency(name="Sở Tư pháp"), make.agency(name="Sở Y tế")
    officer = make.user(role="officer", agency=mine)
    own = make.case(agency=mine, status="in_progress", title="Hồ sơ của Sở Tư pháp")
    foreign = make.case(agency=other, status="in_progress", title="Hồ sơ của Sở Y tế")

    visible = db.session.execute(scoped_cases(officer)).scalars().all()
    assert [c.id for c in visible] == [own.id]

    auth.login(officer)
    page = client.get("/staff/").get_data(as_text=True)
    assert own.code in page and "Hồ sơ của Sở Tư pháp" in page
    assert foreign.code not in page
    assert client.get(f"/staff/cases/{foreign.code}").status_code == 404
    assert client.get(f"/staff/cases/{own.code}").status_code == 200


def test_desk_and_supervisor_see_every_agency(make):
    a, b = make.agency(), make.agency()
    make.case(agency=a), make.case(agency=b)
    for role in ("desk", "supervisor"):
        user = make.user(role=role)
        assert len(db.session.execute(scoped_cases(user)).scalars().all()) == 2


def test_passwords_are_stored_hashed(make):
    user = make.user(role="officer")
    stored = db.session.execute(select(User.password_hash).where(User.id == user.id)).scalar_one()
    assert make.PASSWORD not in stored
    assert stored.startswith(("scrypt:", "pbkdf2:")) and len(stored) > 60
    assert user.check_password(make.PASSWORD) and not user.check_password("wrong")


def test_bad_login_gets_a_clear_vietnamese_error(client, make):
    user = make.user(role="officer")
    response = client.post("/auth/login", data={"email": user.email, "password": "sai-mat-khau"})
    assert response.status_code == 401
    assert "Thư điện tử hoặc mật khẩu không đúng." in response.get_data(as_text=True)


def test_bad_login_in_english_when_chosen(client, make):
    user = make.user(role="officer")
    client.get("/lang/en")
    response = client.post("/auth/login", data={"email": user.email, "password": "wrong"})
    assert "Incorrect e-mail or password." in response.get_data(as_text=True)


def test_login_and_logout(client, make, auth):
    user = make.user(role="lead")
    response = auth.login(user)
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/")
    assert auth.logout().status_code == 302
    assert client.get("/staff/").status_code == 302


def test_login_ignores_an_offsite_next(client, make):
    user = make.user(role="desk")
    response = client.post(
        "/auth/login?next=https://evil.example/", data={"email": user.email, "password": make.PASSWORD}
    )
    assert response.headers["Location"] == "/staff/"


def test_missing_csrf_token_gets_400_with_a_clear_page(_app_and_schema):
    class CsrfConfig(TestConfig):
        WTF_CSRF_ENABLED = True
        SQLALCHEMY_DATABASE_URI = _app_and_schema.config["SQLALCHEMY_DATABASE_URI"]

    app = create_app(CsrfConfig)
    response = app.test_client().post("/auth/login", data={"email": "a@b.vn", "password": "x"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Vui lòng tải lại trang" in text and "Reload the page" in text


@pytest.mark.parametrize("code", [403, 404])
def test_error_pages_speak_both_languages(client, make, auth, code):
    if code == 403:
        auth.login(make.user(role="citizen"))
        response = client.get("/admin/users")
    else:
        response = client.get("/khong-co-trang-nay")
    assert response.status_code == code
    text = response.get_data(as_text=True)
    assert ("Không có quyền truy cập" in text and "Access denied" in text) or (
        "Không tìm thấy trang" in text and "Page not found" in text)


def test_healthz_answers_without_the_database(client, monkeypatch):
    def broken(*a, **k):
        raise AssertionError("healthz touched the database")

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["database"] == "ok"


def test_pages_carry_no_external_assets(client):
    html = client.get("/").get_data(as_text=True)
    assert "http://" not in html.split("<body")[0] and "https://" not in html.split("<body")[0]
    assert client.get("/static/site.css").status_code == 200


def test_home_page_is_vietnamese_by_default_and_english_on_request(client):
    assert "Gửi phản ánh" in client.get("/").get_data(as_text=True)
    client.get("/lang/en")
    assert "Submit feedback" in client.get("/").get_data(as_text=True)


def test_a_deactivated_account_loses_its_open_session(client, make, auth):
    user = make.user(role="desk")
    auth.login(user)
    assert client.get("/staff/").status_code == 200
    user.active = False
    db.session.commit()
    assert client.get("/staff/").status_code == 302


def test_a_new_process_loads_compiled_templates_instead_of_compiling_them(_app_and_schema, tmp_path, monkeypatch):
    class Cached(TestConfig):
        JINJA_CACHE_DIR = str(tmp_path / "jinja")

    create_app(Cached).jinja_env.get_template("public/index.html")
    later = create_app(Cached)

    def compile_again(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(later.jinja_env, "compile", compile_again)
    assert later.jinja_env.get_template("public/index.html") is not None
