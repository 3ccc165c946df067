"""The OpenAPI document matches the code: every route is documented with its
methods, every schema is valid JSON Schema, and real answers of the API
validate against the schemas the document gives for them."""
from __future__ import annotations

import re

import jsonschema_rs
import pytest
from sqlalchemy import select

from feedback.actions import ACTIONS
from feedback.api.openapi import document
from feedback.extensions import db
from feedback.models import Case

from .api_support import bearer, case_token, issue_token, submission
from .helpers import submit


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def documented_operations(spec) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in spec["paths"].items() for method in item}


def routed_operations(app) -> set[tuple[str, str]]:
    prefix = "/api/v1"
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix + "/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(prefix):])
            operations |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return operations


def validator(spec, schema):
    """A validator for ``schema`` whose $refs resolve inside the document."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]})


def assert_matches(spec, path, method, response):
    """The response validates against what the document says for its status."""
    documented = spec["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, f"{method} {path} answered an undocumented {response.status_code}"
    schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
    errors = [error.message for error in validator(spec, schema).iter_errors(response.get_json())]
    assert errors == [], f"{method} {path} {response.status_code}: {errors[:3]}"


def test_the_document_is_openapi_3_1_served_as_json(spec):
    assert spec["openapi"] == "3.1.0" and spec["servers"] == [{"url": "/api/v1"}]
    assert spec == document()


def test_every_api_route_is_documented_and_every_documented_operation_exists(app, spec):
    assert documented_operations(spec) == routed_operations(app)


def test_every_schema_in_the_document_is_valid_json_schema(spec):
    for name, schema in spec["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name
        validator(spec, schema)  # every $ref resolves


def test_every_workflow_action_is_a_documented_transition(spec):
    documented = {alternative["properties"]["action"]["const"]
                  for alternative in spec["components"]["schemas"]["Transition"]["oneOf"]}
    assert documented == set(ACTIONS)


def test_schemathesis_can_load_the_document(spec):
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.path, op.method.upper()) for op in operations} == documented_operations(spec)


def test_real_answers_validate_against_their_documented_schemas(client, spec, world):
    tokens = {name: issue_token(getattr(world, name)) for name in ("desk", "officer", "supervisor")}
    check = lambda path, method, response: assert_matches(spec, path, method, response)  # noqa: E731
    check("/agencies", "get", client.get("/api/v1/agencies"))
    check("/categories", "get", client.get("/api/v1/categories"))
    check("/procedures", "get", client.get("/api/v1/procedures?q=dat"))
    check("/procedures", "get", client.get("/api/v1/procedures?page=0"))

    created = client.post("/api/v1/cases", json=submission(world.category))
    check("/cases", "post", created)
    check("/cases", "post", client.post("/api/v1/cases", json={"type": "report"}))
    check("/cases", "post", client.post("/api/v1/cases", data="{", content_type="application/json"))
    code, token = created.get_json()["code"], created.get_json()["access_token"]

    check("/cases/{code}", "get", client.get(f"/api/v1/cases/{code}"))
    check("/cases/{code}", "get", client.get(f"/api/v1/cases/{code}", headers=case_token(token)))
    check("/cases/{code}", "get", client.get(f"/api/v1/cases/{code}", headers=bearer(tokens["desk"])))
    check("/cases/{code}", "get", client.get(f"/api/v1/cases/{code}", headers=case_token("wrong")))
    check("/cases/{code}", "get", client.get("/api/v1/cases/PAKN.X"))
    check("/cases", "get", client.get("/api/v1/cases", headers=bearer(tokens["supervisor"])))
    check("/cases", "get", client.get("/api/v1/cases"))

    transitions = f"/api/v1/cases/{code}/transitions"
    assigned = client.post(transitions, json={"action": "assign", "version": 1, "agency": world.justice.code},
                           headers=bearer(tokens["desk"]))
    check("/cases/{code}/transitions", "post", assigned)
    check("/cases/{code}/transitions", "post", client.post(
        transitions, json={"action": "assign", "version": 1, "agency": world.justice.code},
        headers=bearer(tokens["desk"])))
    check("/cases/{code}/transitions", "post", client.post(
        transitions, json={"action": "reject", "version": 2}, headers=bearer(tokens["desk"])))
    accepted = client.post(transitions, json={"action": "accept", "version": 2}, headers=bearer(tokens["officer"]))
    check("/cases/{code}/transitions", "post", accepted)
    answered = client.post(transitions, json={"action": "answer", "version": 3, "outcome": "explained",
                                              "answer": "Đã hướng dẫn."}, headers=bearer(tokens["officer"]))
    check("/cases/{code}/transitions", "post", answered)

    rating = f"/api/v1/cases/{code}/rating"
    check("/cases/{code}/rating", "post", client.post(rating, json={"level": 5, "resolved": "yes"},
                                                      headers=case_token(token)))
    check("/cases/{code}/rating", "post", client.post(rating, json={"level": 4, "resolved": "yes"},
                                                      headers=case_token(token)))
    check("/cases/{code}/rating", "post", client.post(rating, json={"level": 0}, headers=case_token(token)))
    check("/cases/{code}", "get", client.get(f"/api/v1/cases/{code}", headers=bearer(tokens["officer"])))

    check("/stats", "get", client.get("/api/v1/stats", headers=bearer(tokens["supervisor"])))
    check("/stats", "get", client.get("/api/v1/stats", headers=bearer(tokens["officer"])))


def test_the_published_answer_in_the_public_view_validates(client, spec, make):
    from .helpers import published_case

    case = published_case(make, "Thời gian cấp phép")
    assert_matches(spec, "/cases/{code}", "get", client.get(f"/api/v1/cases/{case.code}"))


def test_a_staff_view_with_an_extension_and_a_draft_validates(client, spec, world, make):
    case, _ = submit(world.category, sender_name="Lê Văn Cường", sender_address="Kiến An",
                     sender_email="cuong@example.vn", title="Chậm trả kết quả", content="Hồ sơ đã quá hạn nhiều ngày.")
    desk = issue_token(world.desk)
    body = client.get(f"/api/v1/cases/{case.code}", headers=bearer(desk)).get_json()
    assert body["view"] == "staff"
    case = db.session.execute(select(Case).where(Case.code == case.code)).scalar_one()
    case.extension_status, case.extension_requested_days, case.extension_reason = "requested", 5, "Cần xác minh"
    case.draft_answer, case.draft_outcome = "Dự thảo", "explained"
    db.session.commit()
    assert_matches(spec, "/cases/{code}", "get", client.get(f"/api/v1/cases/{case.code}",
                                                           headers=bearer(desk)))
