"""Security hardening: API tokens that die with their owner's staff role,
scopes and expiry, addresses behind a proxy, limits a junk header cannot
dodge, and login throttling per account and per address."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.labels import localdatetime
from feedback.models import ApiToken, AuditLog, LoginAttempt, User, utcnow

from .api_support import bearer, issue_token, rate_limited_client, submission
from .helpers import Factory
from .pages import page_form


@pytest.fixture
def city(make):
    desk = make.desk_agency()
    land = make.agency(code="SO-NNMT", name="Sở Nông nghiệp và Môi trường")
    health = make.agency(code="SO-YT", name="Sở Y tế")
    desk_user = make.user("desk", agency=desk)
    return SimpleNamespace(
        desk=desk, land=land, health=health, desk_user=desk_user, lead=make.user("lead", agency=land),
        land_category=make.category(agency=land, code="DAT-DAI", name="Đất đai"),
        health_category=make.category(agency=health, code="BHYT", name="Bảo hiểm y tế"),
        desk_token=issue_token(desk_user, name="desk app"),
    )


def submitted(client, city, category) -> dict:
    response = client.post("/api/v1/cases", json=submission(category))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def assigned(client, city, category) -> dict:
    body = submitted(client, city, category)
    action = {"action": "assign", "version": body["version"], "agency": category.default_agency.code}
    response = client.post(f"/api/v1/cases/{body['code']}/transitions", headers=bearer(city.desk_token), json=action)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def open311_request(client, api_key: str):
    return client.post("/open311/v2/requests.json", data={
        "api_key": api_key, "service_code": "DAT-DAI", "first_name": "Văn An", "last_name": "Nguyễn",
        "email": "an.nguyen@example.vn", "description": "Hồ sơ đất đai nộp đã 30 ngày vẫn chưa có kết quả."})


def every_endpoint_family(client, token: str, code: str, version: int) -> dict[str, int]:
    """What a token gets from the list, one case, an action, the figures and an Open311 submission."""
    return {
        "list": client.get("/api/v1/cases", headers=bearer(token)).status_code,
        "detail": client.get(f"/api/v1/cases/{code}", headers=bearer(token)).status_code,
        "action": client.post(f"/api/v1/cases/{code}/transitions", headers=bearer(token),
                              json={"action": "accept", "version": version}).status_code,
        "stats": client.get("/api/v1/stats", headers=bearer(token)).status_code,
        "open311": open311_request(client, token).status_code,
    }


# Tokens die with their owner's staff role ------------------------------------------------------


@pytest.mark.parametrize("change", [{"role": "citizen", "agency_id": ""}, {"active": None}])
def test_a_token_of_a_demoted_or_deactivated_user_fails_everywhere(client, make, auth, city, change):
    case = assigned(client, city, city.land_category)
    token = issue_token(city.lead, name="agency system")
    assert every_endpoint_family(client, token, case["code"], case["version"])["list"] == 200

    auth.login(make.user("admin"))
    form = {"full_name": city.lead.full_name, "role": "lead", "agency_id": str(city.land.id), "active": "y", **change}
    response = client.post(f"/admin/users/{city.lead.id}", data={k: v for k, v in form.items() if v is not None})
    assert response.status_code == 302

    assert every_endpoint_family(client, token, case["code"], case["version"]) == {
        "list": 401, "detail": 401, "action": 401, "stats": 401, "open311": 403}
    row = db.session.execute(select(ApiToken).where(ApiToken.user_id == city.lead.id)).scalars().first()
    assert row.revoked_at is not None
    revocations = db.session.execute(select(AuditLog).where(AuditLog.action == "api_token.revoke")).scalars().all()
    assert [log.detail["token_id"] for log in revocations] == [row.id]


def test_a_read_only_token_reads_but_cannot_act_or_submit(client, runner, city):
    case = assigned(client, city, city.land_category)
    result = runner.invoke(args=["tokens", "create", "--email", city.lead.email, "--scope", "read"])
    token = result.output.strip().splitlines()[-1]
    assert client.get(f"/api/v1/cases/{case['code']}", headers=bearer(token)).status_code == 200
    assert every_endpoint_family(client, token, case["code"], case["version"]) == {
        "list": 200, "detail": 200, "action": 403, "stats": 200, "open311": 403}
    assert client.post("/api/v1/cases", json=submission(city.land_category), headers=bearer(token)).status_code == 403


def test_an_agency_limited_token_does_not_see_another_agencys_case(client, runner, city):
    land_case = assigned(client, city, city.land_category)
    health_case = assigned(client, city, city.health_category)
    result = runner.invoke(args=["tokens", "create", "--email", city.desk_user.email, "--agency", "SO-YT"])
    token = result.output.strip().splitlines()[-1]
    listed = client.get("/api/v1/cases", headers=bearer(token)).get_json()["items"]
    assert [item["code"] for item in listed] == [health_case["code"]]
    assert client.get(f"/api/v1/cases/{land_case['code']}", headers=bearer(token)).status_code == 404
    assert client.get(f"/api/v1/cases/{health_case['code']}", headers=bearer(token)).status_code == 200
    # The desk's own unlimited token still sees both.
    assert len(client.get("/api/v1/cases", headers=bearer(city.desk_token)).get_json()["items"]) == 2


def test_an_expired_token_is_refused_saying_so(client, city):
    token = issue_token(city.lead, expires_at=utcnow() - timedelta(seconds=1))
    response = client.get("/api/v1/cases", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "The bearer token has expired."
    assert open311_request(client, token).status_code == 403


def test_flask_tokens_create_sets_an_expiry_and_the_admin_page_shows_it_with_the_last_use(app, client, runner, make,
                                                                                         auth, city):
    result = runner.invoke(args=["tokens", "create", "--email", city.lead.email, "--expires-in-days", "30"])
    token = result.output.strip().splitlines()[-1]
    row = db.session.execute(select(ApiToken).where(ApiToken.user_id == city.lead.id)).scalar_one()
    assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
    client.get("/api/v1/cases", headers=bearer(token))
    auth.login(make.user("admin"))
    page = client.get(f"/admin/users/{city.lead.id}/tokens").get_data(as_text=True)
    db.session.refresh(row)
    with app.test_request_context():
        last_used, expires = localdatetime(row.last_used_at), localdatetime(row.expires_at)
    assert "Đọc và ghi" in page and last_used in page and expires in page


def test_the_admin_form_issues_a_read_only_agency_limited_expiring_token(client, make, auth, city):
    auth.login(make.user("admin"))
    response = client.post(f"/admin/users/{city.desk_user.id}/tokens", data={
        "name": "Cổng tỉnh", "scope": "read", "agency_id": str(city.health.id), "expires_in_days": "7"})
    assert response.status_code == 200
    row = db.session.execute(select(ApiToken).where(ApiToken.name == "Cổng tỉnh")).scalar_one()
    assert (row.scope, row.agency_id) == ("read", city.health.id) and row.expires_at is not None


# Proxies and limits ------------------------------------------------------------------------------


def test_a_junk_bearer_gets_the_anonymous_limit(app, city):
    with rate_limited_client(app) as client:
        statuses = [client.get("/api/v1/cases/NOPE", headers=bearer("xyz")).status_code for _ in range(61)]
    assert set(statuses[:60]) == {401} and statuses[60] == 429


def test_a_valid_token_is_not_held_to_the_anonymous_limit(app, city):
    with rate_limited_client(app) as client:
        statuses = {client.get("/api/v1/cases/NOPE", headers=bearer(city.desk_token)).status_code for _ in range(61)}
    assert statuses == {404}


@pytest.mark.parametrize("proxies, limited_by_forged_header", [(1, True), (0, False)])
def test_the_forwarded_address_counts_only_behind_trusted_proxies(app, city, proxies, limited_by_forged_header):
    with rate_limited_client(app, TRUSTED_PROXIES=proxies) as client:
        for _ in range(60):
            client.get("/api/v1/cases/NOPE", headers={"X-Forwarded-For": "203.0.113.7"})
        other_client = client.get("/api/v1/cases/NOPE", headers={"X-Forwarded-For": "198.51.100.9"}).status_code
        client.post("/api/v1/cases", json=submission(city.land_category),
                    headers={**bearer(city.desk_token), "X-Forwarded-For": "198.51.100.9"})
    assert other_client == (404 if limited_by_forged_header else 429)
    log = db.session.execute(select(AuditLog).where(AuditLog.action == "case.submitted_by_integration")).scalar_one()
    assert log.ip == ("198.51.100.9" if proxies else "127.0.0.1")


# Login throttling --------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """The login guard's "now", moved by hand."""
    from feedback import login_guard

    state = SimpleNamespace(now=utcnow())
    monkeypatch.setattr(login_guard, "utcnow", lambda: state.now)
    return state


def test_ten_wrong_passwords_lock_the_account_for_fifteen_minutes(client, make, clock):
    user = make.user("officer", email="canbo@hp.vn")
    statuses = [client.post("/auth/login", data={"email": "canbo@hp.vn", "password": "sai-mat-khau"}).status_code
                for _ in range(10)]
    assert statuses == [401] * 9 + [429]

    clock.now += timedelta(minutes=14)
    right = client.post("/auth/login", data={"email": "canbo@hp.vn", "password": Factory.PASSWORD})
    assert right.status_code == 429 and right.headers["Retry-After"] == "60"
    assert "1 phút" in right.get_data(as_text=True) or "60 giây" in right.get_data(as_text=True)

    clock.now += timedelta(minutes=1, seconds=1)
    assert client.post("/auth/login", data={"email": "canbo@hp.vn", "password": Factory.PASSWORD}).status_code == 302
    assert db.session.get(User, user.id).active
    assert db.session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one() == 0


def test_an_address_without_an_account_locks_exactly_like_one_with_an_account(client, make, clock):
    make.user("officer", email="canbo@hp.vn")
    answers = {}
    form = page_form(client.get("/auth/login").get_data(as_text=True), "")  # the login form as rendered
    for email in ("canbo@hp.vn", "khong-co@hp.vn"):
        responses = [client.post("/auth/login", data={**form.data(), "email": email, "password": "sai-mat-khau"})
                     for _ in range(11)]
        answers[email] = [(r.status_code, r.headers.get("Retry-After")) for r in responses]
        assert "Thư điện tử hoặc mật khẩu không đúng." in responses[0].get_data(as_text=True)
    assert answers["canbo@hp.vn"] == answers["khong-co@hp.vn"] == [(401, None)] * 9 + [(429, "900")] * 2
    # Only keyed hashes are kept, never the addresses tried.
    keys = db.session.execute(select(LoginAttempt.address_key)).scalars().all()
    assert len(keys) == 2 and not any("@" in key for key in keys)


def test_wrong_passwords_sent_at_once_are_all_counted(app, make):
    """Ten concurrent wrong passwords lock the account: the count is raised in
    the database, not read and written back by each request."""
    from concurrent.futures import ThreadPoolExecutor

    make.user("officer", email="canbo@hp.vn")

    def wrong_password(_n: int) -> int:
        with app.test_client() as client:
            return client.post("/auth/login", data={"email": "canbo@hp.vn", "password": "sai-mat-khau"}).status_code

    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(wrong_password, range(10)))
    assert sorted(statuses) == [401] * 9 + [429]
    with app.test_client() as client:
        assert client.post("/auth/login", data={"email": "canbo@hp.vn", "password": Factory.PASSWORD}
                           ).status_code == 429


def test_a_success_resets_the_count_of_wrong_passwords(client, make, clock):
    make.user("officer", email="canbo@hp.vn")
    for _ in range(9):
        client.post("/auth/login", data={"email": "canbo@hp.vn", "password": "sai-mat-khau"})
    assert client.post("/auth/login", data={"email": "canbo@hp.vn", "password": Factory.PASSWORD}).status_code == 302
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"email": "canbo@hp.vn", "password": "sai-mat-khau"}).status_code == 401


def test_an_office_behind_one_address_is_not_locked_out_by_its_colleagues_mistakes(app, make):
    make.user("officer", email="canbo@hp.vn")
    with rate_limited_client(app) as client:
        failures = {client.post("/auth/login", data={"email": f"nguoi{n}@hp.vn", "password": "sai-mat-khau"}
                                ).status_code for n in range(60)}
        right = client.post("/auth/login", data={"email": "canbo@hp.vn", "password": Factory.PASSWORD})
    assert failures == {401} and right.status_code == 302


def test_an_address_is_limited_after_a_hundred_failures(app, make):
    with rate_limited_client(app) as client:
        statuses = [client.post("/auth/login", data={"email": f"nguoi{n}@hp.vn", "password": "sai-mat-khau"}
                                ).status_code for n in range(101)]
    assert set(statuses[:100]) == {401} and statuses[100] == 429
