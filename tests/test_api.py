"""The JSON API at /api/v1: tokens, the catalogue, submitting with an
idempotency key, the three views of a case, scoped lists, transitions
through the staff pages' dispatcher, ratings, figures and JSON errors."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from feedback import workflow as wf
from feedback.api import idempotency
from feedback.extensions import db
from feedback.models import ApiToken, AuditLog, Case, Procedure, Rating, SubmissionKey, utcnow
from feedback.text import fold

from .api_support import bearer, case_token, issue_token, rate_limited_client, submission

ISO_WITH_OFFSET = "+07:00"
PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def city(make):
    """The desk, two departments with a category each, their staff and tokens."""
    desk = make.desk_agency()
    land = make.agency(code="SO-NNMT", name="Sở Nông nghiệp và Môi trường")
    health = make.agency(code="SO-YT", name="Sở Y tế")
    users = SimpleNamespace(
        desk=make.user("desk", agency=desk), officer=make.user("officer", agency=land),
        lead=make.user("lead", agency=land), health_officer=make.user("officer", agency=health),
        supervisor=make.user("supervisor"), citizen=make.user("citizen"),
    )
    return SimpleNamespace(
        desk=desk, land=land, health=health, users=users,
        land_category=make.category(agency=land, code="DAT-DAI", name="Đất đai"),
        health_category=make.category(agency=health, code="BHYT", name="Bảo hiểm y tế"),
        tokens=SimpleNamespace(**{name: issue_token(user) for name, user in vars(users).items()}),
    )


def post_case(client, body, headers=None):
    return client.post("/api/v1/cases", json=body, headers=headers or {})


def submit(client, city, category=None, **overrides) -> tuple[dict, Case]:
    """A case submitted through the API: (the 201 body, the case row)."""
    response = post_case(client, submission(category or city.land_category, **overrides))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    return body, db.session.execute(select(Case).where(Case.code == body["code"])).scalar_one()


def act(client, code, headers, action, version, **params):
    return client.post(f"/api/v1/cases/{code}/transitions", json={"action": action, "version": version, **params},
                       headers=headers)


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    return body["error"]


def assigned_case(client, city, category=None) -> Case:
    """A case the desk has sent to the category's agency."""
    body, case = submit(client, city, category)
    category = category or city.land_category
    response = act(client, case.code, bearer(city.tokens.desk), "assign", body["version"],
                   agency=category.default_agency.code)
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    return db.session.get(Case, case.id)


# Tokens --------------------------------------------------------------------------------------


def test_a_staff_token_is_accepted_and_its_last_use_is_recorded(client, city):
    response = client.get("/api/v1/cases", headers=bearer(city.tokens.officer))
    assert response.status_code == 200
    token = db.session.execute(select(ApiToken).where(ApiToken.user_id == city.users.officer.id)).scalar_one()
    assert token.last_used_at is not None and utcnow() - token.last_used_at < timedelta(minutes=1)


def test_a_revoked_token_gets_401_and_nothing_else(client, city):
    token = db.session.execute(select(ApiToken).where(ApiToken.user_id == city.users.supervisor.id)).scalar_one()
    token.revoked_at = utcnow()
    db.session.commit()
    response = client.get("/api/v1/cases", headers=bearer(city.tokens.supervisor))
    assert response.status_code == 401
    assert error_of(response)["code"] == 401 and "revoked" in error_of(response)["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer"])
def test_an_unknown_or_malformed_authorization_gets_401(client, city, header):
    response = client.get("/api/v1/cases", headers={"Authorization": header})
    assert response.status_code == 401 and error_of(response)["reason"] == "unauthenticated"


def test_a_token_from_flask_tokens_create_works_for_its_user(client, runner, city):
    result = runner.invoke(args=["tokens", "create", "--email", city.users.desk.email])
    token = result.output.strip().splitlines()[-1]
    response = client.get("/api/v1/cases", headers=bearer(token))
    assert response.status_code == 200 and response.get_json()["total"] == 0


def test_an_inactive_users_token_stops_working(client, city):
    city.users.officer.active = False
    db.session.commit()
    assert client.get("/api/v1/cases", headers=bearer(city.tokens.officer)).status_code == 401


# The catalogue ---------------------------------------------------------------------------------


def test_agencies_are_listed_with_code_and_name(client, city):
    items = client.get("/api/v1/agencies").get_json()["items"]
    assert {"code": "SO-YT", "name": "Sở Y tế"}.items() <= next(i for i in items if i["code"] == "SO-YT").items()
    assert [i["code"] for i in items if i["is_desk"]] == [city.desk.code]


def test_categories_carry_their_default_agency(client, city):
    items = client.get("/api/v1/categories").get_json()["items"]
    land = next(i for i in items if i["code"] == "DAT-DAI")
    assert land["name"] == "Đất đai" and land["default_agency"] == "SO-NNMT"


def test_procedures_are_found_without_diacritics(client, city):
    for code, title in [("DD-01", "Đăng ký biến động đất đai"), ("HT-01", "Đăng ký khai sinh")]:
        db.session.add(Procedure(code=code, title=title, search_text=fold(f"{code} {title}"),
                                 category_id=city.land_category.id))
    db.session.commit()
    body = client.get("/api/v1/procedures?q=dat dai").get_json()
    assert [(i["code"], i["name"]) for i in body["items"]] == [("DD-01", "Đăng ký biến động đất đai")]
    assert body["total"] == 1 and body["page"] == 1
    assert client.get("/api/v1/procedures").get_json()["total"] == 2


def test_a_bad_page_number_is_a_400_naming_the_parameter(client, city):
    response = client.get("/api/v1/procedures?page=0&per_page=1000")
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"page", "per_page"}


# Submitting --------------------------------------------------------------------------------------


def test_a_citizen_submits_a_case_and_gets_its_code_token_and_private_url(client, city):
    response = post_case(client, submission(city.land_category))
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "submitted" and body["code"].startswith("PAKN.")
    assert body["private_url"].endswith(f"/c/{body['access_token']}")
    assert response.headers["Location"].endswith(f"/api/v1/cases/{body['code']}")
    case = wf.case_for_token(body["access_token"])
    assert case.code == body["code"] and case.channel == "api"
    assert case.agency_id == city.desk.id and case.proposed_agency_id == city.land.id
    assert case.sender_phone == "0912345678"
    assert body["agency"] == city.desk.code and body["proposed_agency"] == "SO-NNMT"
    assert body["classify_due"].endswith(ISO_WITH_OFFSET) and body["answer_due"] is None


def test_the_senders_pick_of_agency_becomes_the_proposed_agency(client, city):
    body, case = submit(client, city, agency="SO-YT")
    assert case.proposed_agency_id == city.health.id and case.agency_id == city.desk.id
    assert body["proposed_agency"] == "SO-YT"


def test_a_business_is_asked_for_its_tax_code_and_representative(client, city):
    response = post_case(client, submission(city.land_category, sender={"kind": "business", "name": "Công ty TNHH An"}))
    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"sender.tax_code", "sender.representative"}
    body, case = submit(client, city, sender={"kind": "business", "name": "Công ty TNHH An",
                                              "tax_code": "0201234567-001", "representative": "Trần Thị Bình"})
    assert (case.sender_kind, case.sender_tax_code, case.sender_representative) == \
        ("business", "0201234567-001", "Trần Thị Bình")


def test_every_invalid_field_is_named_by_its_dotted_path_and_nothing_is_created(client, city):
    body = submission(city.land_category, category="NO-SUCH", content="Quá ngắn", colour="blue",
                      sender={"phone": "12345", "email": "not-an-email", "id_number": "123"})
    response = post_case(client, body)
    assert response.status_code == 422
    fields = error_of(response)["fields"]
    assert set(fields) == {"category", "content", "colour", "sender.phone", "sender.email", "sender.id_number"}
    assert "phone" in fields["sender.phone"].lower() or "Vietnamese" in fields["sender.phone"]
    assert count(Case) == 0


@pytest.mark.parametrize("field, value", [
    ("sender.id_number", [None, None]), ("sender.phone", 912345678), ("publish_consent", "yes"),
    ("sender", "Nguyễn Văn An"), ("category", None),
])
def test_a_value_of_the_wrong_type_is_a_422_naming_it_never_a_server_error(client, city, field, value):
    body = submission(city.land_category)
    *parents, name = field.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    target[name] = value
    response = post_case(client, body)
    assert response.status_code == 422 and field in error_of(response)["fields"]


def test_the_receiving_desk_cannot_be_picked_as_the_responsible_agency(client, city):
    response = post_case(client, submission(city.land_category, agency=city.desk.code))
    assert response.status_code == 422 and "agency" in error_of(response)["fields"]


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", ""])
def test_a_body_that_is_not_a_json_object_gets_400(client, city, data):
    response = client.post("/api/v1/cases", data=data, content_type="application/json")
    assert response.status_code == 400 and error_of(response)["reason"] == "malformed_json"


def test_a_submission_by_an_integration_is_audited_under_its_token_user(client, city):
    body = post_case(client, submission(city.land_category), bearer(city.tokens.desk)).get_json()
    case = db.session.execute(select(Case).where(Case.code == body["code"])).scalar_one()
    audit = db.session.execute(select(AuditLog).where(AuditLog.case_id == case.id)).scalar_one()
    assert (audit.action, audit.user_id, case.channel) == ("case.submitted_by_integration", city.users.desk.id, "api")


def test_a_retried_post_with_the_same_idempotency_key_returns_the_first_response(client, city):
    body = submission(city.land_category)
    first = post_case(client, body, {"Idempotency-Key": "retry-1"})
    again = post_case(client, body, {"Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(Case) == 1 and count(SubmissionKey) == 1


def test_the_stored_response_never_holds_the_private_token_in_clear(client, city):
    token = post_case(client, submission(city.land_category), {"Idempotency-Key": "k-1"}).get_json()["access_token"]
    stored = db.session.execute(select(SubmissionKey)).scalar_one()
    assert token not in json.dumps(stored.response_body) and "k-1" not in stored.key
    assert stored.case_id == wf.case_for_token(token).id and stored.response_status == 201


def test_another_caller_reusing_a_key_gets_its_own_case_not_the_first_response(client, city):
    body = submission(city.land_category)
    first = post_case(client, body, {"Idempotency-Key": "shared"}).get_json()
    other = post_case(client, body, {"Idempotency-Key": "shared", **bearer(city.tokens.desk)})
    assert other.status_code == 201 and other.get_json()["code"] != first["code"]
    assert other.get_json()["access_token"] != first["access_token"]


def test_a_concurrent_duplicate_hitting_the_unique_key_returns_the_stored_response(client, city, monkeypatch):
    body = submission(city.land_category)
    first = post_case(client, body, {"Idempotency-Key": "race"}).get_json()
    # The second request looked before the first committed, so it saw no key.
    real_stored = idempotency.IdempotencyKey.stored
    calls = []

    def not_yet_committed(self):
        calls.append(1)
        return None if len(calls) == 1 else real_stored(self)

    monkeypatch.setattr(idempotency.IdempotencyKey, "stored", not_yet_committed)
    second = post_case(client, body, {"Idempotency-Key": "race"})
    assert second.status_code == 201 and second.get_json() == first
    assert count(Case) == 1 and count(SubmissionKey) == 1


def test_a_key_older_than_24_hours_is_forgotten(client, city):
    body = submission(city.land_category)
    first = post_case(client, body, {"Idempotency-Key": "old"}).get_json()
    db.session.execute(select(SubmissionKey)).scalar_one().created_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    second = post_case(client, body, {"Idempotency-Key": "old"})
    assert second.status_code == 201 and second.get_json()["code"] != first["code"]
    assert count(Case) == 2 and count(SubmissionKey) == 1


def test_a_malformed_idempotency_key_gets_400(client, city):
    response = post_case(client, submission(city.land_category), {"Idempotency-Key": "x" * 129})
    assert response.status_code == 400 and "Idempotency-Key" in error_of(response)["fields"]
    assert count(Case) == 0


def test_a_wrong_bearer_token_on_submit_is_refused_before_anything_is_created(client, city):
    response = post_case(client, submission(city.land_category), bearer("wrong"))
    assert response.status_code == 401 and count(Case) == 0


# Rate limits ---------------------------------------------------------------------------------------


@pytest.fixture
def limited_client(app, city):
    with rate_limited_client(app) as limited:
        yield limited


def test_anonymous_submissions_are_rate_limited_with_a_json_429(limited_client, city):
    statuses = [limited_client.post("/api/v1/cases", json={}).status_code for _ in range(21)]
    assert statuses[:20] == [422] * 20 and statuses[20] == 429
    response = limited_client.post("/api/v1/cases", json={})
    assert response.status_code == 429 and error_of(response)["reason"] == "rate_limited"


def test_ratelimit_enabled_false_in_the_environment_switches_limits_off():
    """The production configuration, read from the environment, as a load test runs it."""
    program = ("from config import Config; from feedback import create_app; "
               "client = create_app(Config).test_client(); "
               "print(sorted({client.post('/api/v1/cases', json={}).status_code for _ in range(30)}))")
    environment = {"RATELIMIT_ENABLED": "false", "DATABASE_URL": "sqlite://", "FEEDBACK_INPROCESS_SCHEDULER": "0"}
    result = subprocess.run([sys.executable, "-c", program], env=environment, cwd=PROJECT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[422]"


def test_with_limits_off_many_submissions_are_never_refused(client, city):
    statuses = {post_case(client, {}).status_code for _ in range(25)}
    assert statuses == {422}


# Reading a case ---------------------------------------------------------------------------------------


COMMON = {"code", "status", "type", "category", "agency", "proposed_agency", "classify_due", "answer_due",
          "next_due"}


def test_the_code_alone_shows_the_public_view_without_personal_data(client, city):
    _, case = submit(client, city)
    response = client.get(f"/api/v1/cases/{case.code}")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= COMMON and body["view"] == "public" and "version" not in body
    assert body["status"] == "submitted" and body["published_answer"] is None
    text = response.get_data(as_text=True)
    for private in ("Nguyễn Văn An", "0912345678", "an.nguyen@example.vn", "Lạch Tray", "đất đai kéo dài"):
        assert private not in text


def test_the_public_view_shows_the_answer_once_published(client, city, make):
    from .helpers import published_case

    case = published_case(make, "Thời gian cấp giấy phép", answer="Sở đã rút ngắn thời gian giải quyết.")
    body = client.get(f"/api/v1/cases/{case.code}").get_json()
    assert body["published_answer"]["answer"] == "Sở đã rút ngắn thời gian giải quyết."
    assert body["published_answer"]["title"] == "Thời gian cấp giấy phép"


def test_the_case_token_shows_the_full_case_with_its_timeline_and_version(client, city):
    created, case = submit(client, city)
    body = client.get(f"/api/v1/cases/{case.code}", headers=case_token(created["access_token"])).get_json()
    assert body["view"] == "citizen" and body["version"] == 1
    assert body["sender"]["name"] == "Nguyễn Văn An" and body["content"].startswith("Hồ sơ đăng ký")
    assert [e["action"] for e in body["timeline"]] == ["submitted"]
    assert set(body["actions"]) == {"withdraw"}


def test_a_wrong_or_replaced_case_token_gets_401_and_no_case_data(client, city):
    created, case = submit(client, city)
    wf.new_access_token(case)
    db.session.commit()
    for token in (created["access_token"], "guessed-token"):
        response = client.get(f"/api/v1/cases/{case.code}", headers=case_token(token))
        assert response.status_code == 401
        assert case.code not in response.get_data(as_text=True) and "submitted" not in response.get_data(as_text=True)


def test_a_case_token_opens_only_its_own_case(client, city):
    mine, _ = submit(client, city)
    _, other = submit(client, city)
    response = client.get(f"/api/v1/cases/{other.code}", headers=case_token(mine["access_token"]))
    assert response.status_code == 401


def test_in_scope_staff_see_the_internal_timeline_and_what_they_may_do(client, city):
    case = assigned_case(client, city)
    wf.add_note(case, wf.Actor(city.users.officer), "Gọi điện cho người dân.")
    db.session.commit()
    body = client.get(f"/api/v1/cases/{case.code}", headers=bearer(city.tokens.officer)).get_json()
    assert body["view"] == "staff" and body["version"] == case.version and body["agency"] == "SO-NNMT"
    note = next(e for e in body["timeline"] if e["action"] == "note")
    assert note["public"] is False and note["actor"] == city.users.officer.email
    assert {"accept", "transfer", "return_to_desk"} <= set(body["actions"])
    assert body["answer_due"].endswith(ISO_WITH_OFFSET) and body["next_due"] == body["answer_due"]


def test_a_staff_token_of_agency_a_gets_404_for_agency_bs_case(client, city):
    case = assigned_case(client, city, city.health_category)
    headers = bearer(city.tokens.officer)  # land department
    assert client.get(f"/api/v1/cases/{case.code}", headers=headers).status_code == 404
    response = act(client, case.code, headers, "accept", case.version)
    assert response.status_code == 404 and error_of(response)["code"] == 404
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "assigned"


def test_an_unknown_code_gets_a_json_404(client, city):
    response = client.get("/api/v1/cases/PAKN.20990101.0001")
    assert response.status_code == 404 and error_of(response)["message"]


# Listing ----------------------------------------------------------------------------------------------


def test_staff_lists_are_scoped_to_their_agency(client, city):
    land_case = assigned_case(client, city)
    health_case = assigned_case(client, city, city.health_category)
    officer = client.get("/api/v1/cases", headers=bearer(city.tokens.officer)).get_json()
    assert [i["code"] for i in officer["items"]] == [land_case.code] and officer["total"] == 1
    supervisor = client.get("/api/v1/cases", headers=bearer(city.tokens.supervisor)).get_json()
    assert {i["code"] for i in supervisor["items"]} == {land_case.code, health_case.code}


def test_lists_filter_by_status_agency_category_and_deadline(client, city):
    land_case = assigned_case(client, city)
    _, new_case = submit(client, city, city.health_category)
    headers = bearer(city.tokens.supervisor)

    def codes(query):
        response = client.get(f"/api/v1/cases?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [i["code"] for i in response.get_json()["items"]]

    assert codes("status=assigned") == [land_case.code]
    assert codes("agency=SO-NNMT") == [land_case.code]
    assert codes("category=BHYT") == [new_case.code]
    assert codes("overdue=true") == [] and len(codes("overdue=false")) == 2
    far = (utcnow() + timedelta(days=60)).isoformat()
    assert len(codes(f"due_before={far.replace('+', '%2B')}")) == 2
    assert codes("due_before=2000-01-01T00:00:00Z") == []
    page = client.get("/api/v1/cases?per_page=1&page=2", headers=headers).get_json()
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (2, 2, 1, 1)


def test_overdue_cases_are_found(client, city):
    case = assigned_case(client, city)
    case.answer_due = case.next_due = utcnow() - timedelta(days=1)
    db.session.commit()
    items = client.get("/api/v1/cases?overdue=true", headers=bearer(city.tokens.officer)).get_json()["items"]
    assert [i["code"] for i in items] == [case.code]


def test_lists_need_a_staff_token(client, city):
    assert client.get("/api/v1/cases").status_code == 401
    response = client.get("/api/v1/cases", headers=bearer(city.tokens.citizen))
    assert response.status_code == 403 and error_of(response)["code"] == 403


def test_a_bad_filter_is_a_400_naming_it(client, city):
    response = client.get("/api/v1/cases?status=lost&overdue=maybe&due_before=tomorrow",
                          headers=bearer(city.tokens.supervisor))
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"status", "overdue", "due_before"}


# Transitions ----------------------------------------------------------------------------------------------


def test_the_desk_assigns_through_the_api_and_gets_the_new_version(client, city):
    created, case = submit(client, city)
    response = act(client, case.code, bearer(city.tokens.desk), "assign", created["version"], agency="SO-NNMT",
                   classification="within_competence", note="Thuộc thẩm quyền của Sở.")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "assigned" and body["version"] == created["version"] + 1
    assert body["agency"] == "SO-NNMT" and body["answer_due"].endswith(ISO_WITH_OFFSET)
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert (case.status, case.agency_id, case.version) == ("assigned", city.land.id, body["version"])


def test_a_stale_version_gets_409_and_changes_nothing(client, city):
    case = assigned_case(client, city)
    response = act(client, case.code, bearer(city.tokens.officer), "accept", case.version - 1)
    assert response.status_code == 409
    error = error_of(response)
    assert error["reason"] == "stale_version" and "tải lại" in error["message_vi"]
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "assigned"


def test_an_action_the_status_does_not_allow_gets_409(client, city):
    case = assigned_case(client, city)
    response = act(client, case.code, bearer(city.tokens.desk), "assign", case.version, agency="SO-YT")
    assert response.status_code == 409 and error_of(response)["reason"] == "not_allowed_now"


def test_an_action_the_role_does_not_allow_gets_403(client, city):
    case = assigned_case(client, city)
    response = act(client, case.code, bearer(city.tokens.officer), "reject", case.version, reason="Không đủ")
    assert response.status_code == 403
    assert error_of(response)["message"] == error_of(response)["message_vi"] != ""


@pytest.mark.parametrize("payload, field", [
    ({"action": "reject", "version": 1}, "reason"),
    ({"action": "reject", "version": 1, "reason": "   "}, "reason"),
    ({"action": "fly", "version": 1}, "action"),
    ({"action": "reject", "reason": "Thiếu địa chỉ"}, "version"),
    ({"action": "reject", "version": "one", "reason": "Thiếu địa chỉ"}, "version"),
    ({"action": "reject", "version": 1, "reason": "Thiếu", "colour": "red"}, "colour"),
])
def test_missing_or_wrong_parameters_get_422_naming_the_field(client, city, payload, field):
    _, case = submit(client, city)
    response = client.post(f"/api/v1/cases/{case.code}/transitions", json=payload, headers=bearer(city.tokens.desk))
    assert response.status_code == 422
    assert field in error_of(response)["fields"]


def test_a_workflow_refusal_passes_its_field_errors_through(client, city):
    case = assigned_case(client, city)
    accepted = act(client, case.code, bearer(city.tokens.officer), "accept", case.version).get_json()
    response = act(client, case.code, bearer(city.tokens.officer), "request_extension", accepted["version"],
                   days=99, reason="Cần thêm thời gian xác minh")
    assert response.status_code == 422 and "days" in error_of(response)["fields"]


def test_transitions_need_credentials(client, city):
    _, case = submit(client, city)
    response = act(client, case.code, {}, "assign", 1, agency="SO-NNMT")
    assert response.status_code == 401


def test_the_sender_provides_information_with_the_case_token(client, city):
    case = assigned_case(client, city)
    token = wf.new_access_token(case)
    officer = wf.Actor(city.users.officer)
    wf.accept_case(case, officer)
    wf.request_information(case, officer, "Đề nghị gửi bản chụp giấy tờ đất.")
    db.session.commit()
    response = act(client, case.code, case_token(token), "provide_info", case.version,
                   message="Tôi gửi bổ sung số thửa 123.")
    assert response.status_code == 200
    body = response.get_json()
    assert body["view"] == "citizen" and body["status"] == "in_progress"
    assert body["timeline"][-1]["note"] == "Tôi gửi bổ sung số thửa 123."


def test_the_sender_withdraws_with_the_case_token(client, city):
    created, case = submit(client, city)
    response = act(client, case.code, case_token(created["access_token"]), "withdraw", created["version"],
                   reason="Đã được giải quyết.")
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "withdrawn"


def test_the_sender_cannot_run_staff_actions(client, city):
    created, case = submit(client, city)
    response = act(client, case.code, case_token(created["access_token"]), "assign", created["version"],
                   agency="SO-NNMT")
    assert response.status_code == 403
    assert db.session.get(Case, case.id).status == "submitted"


def test_staff_cannot_run_the_senders_actions(client, city):
    created, case = submit(client, city)
    response = act(client, case.code, bearer(city.tokens.desk), "withdraw", created["version"])
    assert response.status_code == 403 and error_of(response)["reason"] == "forbidden"


# Rating ---------------------------------------------------------------------------------------------------


def answered_case(client, city) -> tuple[Case, str]:
    """A case answered by the land department; returns it with its case token."""
    case = assigned_case(client, city)
    token = wf.new_access_token(case)
    officer = wf.Actor(city.users.officer)
    wf.accept_case(case, officer)
    wf.submit_answer(case, officer, "explained", "Sở đã hướng dẫn thủ tục đăng ký biến động.")
    db.session.commit()
    return case, token


def rate(client, case, token, **body):
    return client.post(f"/api/v1/cases/{case.code}/rating", json=body, headers=case_token(token) if token else {})


def test_the_sender_rates_once_then_updates_the_rating(client, city):
    case, token = answered_case(client, city)
    first = rate(client, case, token, level=4, resolved="yes")
    assert first.status_code == 201 and first.get_json()["rating"]["level"] == 4
    second = rate(client, case, token, level=2, resolved="partly", comment="Chưa rõ thời hạn.")
    assert second.status_code == 200
    assert second.get_json()["rating"] | {"created_at": None, "updated_at": None} == \
        {"level": 2, "resolved": "partly", "comment": "Chưa rõ thời hạn.", "created_at": None, "updated_at": None}
    rating = db.session.execute(select(Rating)).scalar_one()
    assert (rating.case_id, rating.level, rating.resolved, rating.agency_id) == (case.id, 2, "partly", city.land.id)


def test_a_case_cannot_be_rated_before_it_is_answered(client, city):
    created, case = submit(client, city)
    response = rate(client, case, created["access_token"], level=5, resolved="yes")
    assert response.status_code == 409 and count(Rating) == 0


def test_a_case_cannot_be_rated_after_the_rating_window(client, city):
    case, token = answered_case(client, city)
    case.rating_due = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert rate(client, case, token, level=5, resolved="yes").status_code == 409


def test_a_rating_out_of_range_gets_422(client, city):
    case, token = answered_case(client, city)
    response = rate(client, case, token, level=6, resolved="maybe")
    assert response.status_code == 422 and set(error_of(response)["fields"]) == {"level", "resolved"}


def test_only_the_sender_rates(client, city):
    case, _ = answered_case(client, city)
    assert rate(client, case, None, level=5, resolved="yes").status_code == 401
    response = client.post(f"/api/v1/cases/{case.code}/rating", json={"level": 5, "resolved": "yes"},
                           headers=bearer(city.tokens.officer))
    assert response.status_code == 403 and count(Rating) == 0


# Figures ---------------------------------------------------------------------------------------------------


FIGURE_KEYS = {"received", "open", "overdue", "due_soon", "answered", "on_time_rate",
               "median_working_days_to_answer", "satisfaction_rate", "ratings", "review_requests"}


def test_a_supervisor_gets_the_headline_figures_and_one_row_per_agency(client, city):
    assigned_case(client, city)
    submit(client, city, city.health_category)
    response = client.get("/api/v1/stats", headers=bearer(city.tokens.supervisor))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= FIGURE_KEYS and body["received"] == 2 and body["open"] == 2
    rows = {row["agency"]: row for row in body["by_agency"]}
    assert set(rows["SO-NNMT"]) >= FIGURE_KEYS and rows["SO-NNMT"]["received"] == 1


def test_a_supervisor_narrows_the_figures_to_one_agency(client, city):
    assigned_case(client, city)
    submit(client, city, city.health_category)
    body = client.get("/api/v1/stats?agency=SO-NNMT", headers=bearer(city.tokens.supervisor)).get_json()
    assert body["agency"] == "SO-NNMT" and body["received"] == 1
    assert [row["agency"] for row in body["by_agency"]] == ["SO-NNMT"]


def test_a_lead_sees_their_own_agency_only(client, city):
    assigned_case(client, city)
    body = client.get("/api/v1/stats", headers=bearer(city.tokens.lead)).get_json()
    assert body["agency"] == "SO-NNMT" and body["received"] == 1
    response = client.get("/api/v1/stats?agency=SO-YT", headers=bearer(city.tokens.lead))
    assert response.status_code == 403


def test_officers_and_anonymous_callers_get_no_figures(client, city):
    assert client.get("/api/v1/stats").status_code == 401
    assert client.get("/api/v1/stats", headers=bearer(city.tokens.officer)).status_code == 403


def test_a_period_running_backwards_or_a_bad_date_is_a_400(client, city):
    headers = bearer(city.tokens.supervisor)
    assert client.get("/api/v1/stats?from=2026-03-01&to=2026-02-01", headers=headers).status_code == 400
    response = client.get("/api/v1/stats?from=2026-02-30", headers=headers)
    assert response.status_code == 400 and "from" in error_of(response)["fields"]
    assert client.get("/api/v1/stats?agency=NOPE", headers=headers).status_code == 400


# The whole life of a case ---------------------------------------------------------------------------------


def test_a_case_lives_its_whole_life_through_the_api_only(client, city):
    """Submit, assign, accept, answer, rate, and see it in the figures."""
    created = post_case(client, submission(city.land_category), {"Idempotency-Key": "life-1"}).get_json()
    code, citizen = created["code"], case_token(created["access_token"])
    desk, officer = bearer(city.tokens.desk), bearer(city.tokens.officer)

    assigned = act(client, code, desk, "assign", created["version"], agency="SO-NNMT").get_json()
    assert assigned["status"] == "assigned"
    accepted = act(client, code, officer, "accept", assigned["version"]).get_json()
    assert accepted["status"] == "in_progress" and accepted["officer"] == city.users.officer.email
    answered = act(client, code, officer, "answer", accepted["version"], outcome="explained",
                   answer="Hồ sơ của ông đã được giải quyết ngày 10/3.").get_json()
    assert answered["status"] == "responded" and answered["answer"]["outcome"] == "explained"

    seen = client.get(f"/api/v1/cases/{code}", headers=citizen).get_json()
    assert seen["answer"]["text"] == "Hồ sơ của ông đã được giải quyết ngày 10/3." and "rate" in seen["actions"]
    assert client.post(f"/api/v1/cases/{code}/rating", json={"level": 5, "resolved": "yes"},
                       headers=citizen).status_code == 201

    figures = client.get("/api/v1/stats", headers=bearer(city.tokens.supervisor)).get_json()
    assert (figures["received"], figures["answered"], figures["ratings"]) == (1, 1, 1)
    assert figures["satisfaction_rate"] == 1.0 and figures["on_time_rate"] == 1.0
    timeline = [e["action"] for e in client.get(f"/api/v1/cases/{code}", headers=desk).get_json()["timeline"]]
    assert timeline == ["submitted", "assigned", "accepted", "answered", "rated"]
    case = db.session.execute(select(Case).where(Case.code == code)).scalar_one()
    assert (case.status, case.channel, case.answer_on_time) == ("responded", "api", True)


# Errors ------------------------------------------------------------------------------------------------------


def test_an_unknown_api_url_and_a_wrong_method_get_json_errors(client, city):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and error_of(missing)["code"] == 404
    wrong = client.delete("/api/v1/cases")
    assert wrong.status_code == 405 and error_of(wrong)["code"] == 405 and "GET" in wrong.headers["Allow"]


def test_a_server_error_is_json_without_a_stack_trace(client, city, monkeypatch):
    from feedback.api import routes

    def broken(case):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes, "public_case", broken)
    _, case = submit(client, city)
    response = client.get(f"/api/v1/cases/{case.code}")
    assert response.status_code == 500 and response.is_json
    assert error_of(response)["message"] == "Internal server error."
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_api_answers_are_never_cached(client, city):
    assert client.get("/api/v1/agencies").headers["Cache-Control"] == "no-store"
