"""Open311 GeoReport v2 at /open311/v2: services from categories, requests
from cases, JSON and XML, api_key for creating, no personal data in what
anyone can read, and an existing Open311 client reading it all unchanged."""
from __future__ import annotations

from datetime import timedelta, timezone
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from feedback import workflow as wf
from feedback.extensions import db
from feedback.models import ApiToken, AuditLog, Case, utcnow

from .api_support import issue_token, live_server, rate_limited_client
from .conftest import require_service

ROOT = "/open311/v2"


@pytest.fixture
def city(make):
    desk = make.desk_agency()
    land = make.agency(code="SO-NNMT", name="Sở Nông nghiệp và Môi trường")
    parent = make.category(agency=land, code="TN-MT", name="Tài nguyên và môi trường")
    land_category = make.category(agency=land, code="DAT-DAI", name="Đất đai", name_en="Land", parent_id=parent.id)
    integration = make.user("desk", agency=desk)
    return {"desk": desk, "land": land, "parent": parent, "category": land_category,
            "officer": make.user("officer", agency=land), "desk_user": integration,
            "api_key": issue_token(integration, name="city app")}


def form(city, **overrides) -> dict:
    """What an Open311 client POSTs for an individual's report."""
    data = {
        "api_key": city["api_key"], "service_code": "DAT-DAI", "first_name": "Văn An", "last_name": "Nguyễn",
        "email": "an.nguyen@example.vn", "phone": "+84 912 345 678",
        "address_string": "12 Lạch Tray, Ngô Quyền, Hải Phòng", "lat": "20.8449", "long": "106.6881",
        "description": "Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả.",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def create(client, city, fmt="json", **overrides):
    return client.post(f"{ROOT}/requests.{fmt}", data=form(city, **overrides))


def created_case(client, city, **overrides) -> Case:
    response = create(client, city, **overrides)
    assert response.status_code == 201, response.get_data(as_text=True)
    code = response.get_json()[0]["service_request_id"]
    return db.session.execute(select(Case).where(Case.code == code)).scalar_one()


def xml(response) -> ElementTree.Element:
    assert response.mimetype == "text/xml"
    return ElementTree.fromstring(response.data)


PERSONAL = ("Nguyễn", "Văn An", "0912345678", "912 345 678", "an.nguyen@example.vn", "Lạch Tray", "30 ngày")


# Discovery and services --------------------------------------------------------------------------


def test_discovery_names_the_endpoint_and_both_formats(client, city):
    body = client.get(f"{ROOT}/discovery.json").get_json()
    endpoint = body["endpoints"][0]
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    assert xml(client.get(f"{ROOT}/discovery.xml")).find("endpoints/endpoint/specification").text.endswith("v2")


def test_categories_are_blackbox_services_grouped_by_their_parent(client, city):
    services = {s["service_code"]: s for s in client.get(f"{ROOT}/services.json").get_json()}
    land = services["DAT-DAI"]
    assert land == {"service_code": "DAT-DAI", "service_name": "Đất đai", "description": "Land", "metadata": True,
                    "type": "blackbox", "keywords": "", "group": "Tài nguyên và môi trường"}
    assert services["TN-MT"]["group"] == ""


def test_services_in_xml_carry_the_same_fields(client, city):
    root = xml(client.get(f"{ROOT}/services.xml"))
    assert root.tag == "services"
    land = next(s for s in root.findall("service") if s.findtext("service_code") == "DAT-DAI")
    assert (land.findtext("service_name"), land.findtext("metadata"), land.findtext("type"), land.findtext("group")) \
        == ("Đất đai", "true", "blackbox", "Tài nguyên và môi trường")


def test_a_service_definition_lists_our_optional_attributes(client, city):
    body = client.get(f"{ROOT}/services/DAT-DAI.json").get_json()
    attributes = {a["code"]: a for a in body["attributes"]}
    assert body["service_code"] == "DAT-DAI"
    assert {"type", "sender_kind", "title"} <= set(attributes)
    assert [v["key"] for v in attributes["type"]["values"]] == ["report", "recommendation"]
    assert [v["key"] for v in attributes["sender_kind"]["values"]] == ["individual", "business"]
    assert all(a["variable"] is True and a["required"] is False for a in attributes.values())
    root = xml(client.get(f"{ROOT}/services/DAT-DAI.xml"))
    assert root.tag == "service_definition" and len(root.findall("attributes/attribute")) == len(attributes)


def test_an_unknown_service_is_a_404_in_the_specs_error_list(client, city):
    response = client.get(f"{ROOT}/services/NOPE.json")
    assert response.status_code == 404
    assert response.get_json() == [{"code": 404, "description": "service_code NOPE not found"}]
    error = xml(client.get(f"{ROOT}/services/NOPE.xml")).find("error")
    assert error.findtext("code") == "404"


# Creating requests ----------------------------------------------------------------------------------


def test_a_request_becomes_a_case_from_the_open311_channel(client, city):
    response = create(client, city)
    assert response.status_code == 201
    [answer] = response.get_json()
    case = db.session.execute(select(Case).where(Case.code == answer["service_request_id"])).scalar_one()
    assert (case.channel, case.type, case.sender_kind, case.status) == ("open311", "report", "individual", "submitted")
    assert (case.sender_name, case.sender_phone, case.sender_address) == \
        ("Văn An Nguyễn", "0912345678", "12 Lạch Tray, Ngô Quyền, Hải Phòng")
    assert case.title == "Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả."
    assert case.agency_id == city["desk"].id and case.proposed_agency_id == city["land"].id
    assert wf.case_for_token(answer["token"]).id == case.id and case.code in answer["service_notice"]
    audit = db.session.execute(select(AuditLog).where(AuditLog.case_id == case.id)).scalar_one()
    assert (audit.action, audit.user_id) == ("case.submitted_by_integration", city["desk_user"].id)


def test_attributes_set_the_type_the_business_sender_and_the_title(client, city):
    case = created_case(client, city, **{
        "attribute[type]": "recommendation", "attribute[sender_kind]": "business",
        "attribute[business_name]": "Công ty TNHH An Phát", "attribute[tax_code]": "0201234567",
        "attribute[title]": "Đề nghị rút ngắn thời gian", "attribute[publish_consent]": "true"})
    assert (case.type, case.sender_kind, case.sender_name, case.sender_tax_code, case.sender_representative) == \
        ("recommendation", "business", "Công ty TNHH An Phát", "0201234567", "Văn An Nguyễn")
    assert case.title == "Đề nghị rút ngắn thời gian" and case.publish_consent is True


def test_creating_needs_a_valid_unrevoked_api_key(client, city):
    assert create(client, city, api_key=None).status_code == 403
    assert create(client, city, api_key="wrong").get_json() == [
        {"code": 403, "description": "api_key is missing, invalid or revoked"}]
    db.session.execute(select(ApiToken)).scalar_one().revoked_at = utcnow()
    db.session.commit()
    assert create(client, city, fmt="xml").status_code == 403
    assert db.session.execute(select(Case)).first() is None


def test_each_missing_or_invalid_parameter_is_named_in_the_error_list(client, city):
    response = create(client, city, phone="123", email="", address_string=None, first_name=None, last_name=None,
                      description="ngắn")
    assert response.status_code == 400
    described = {error["description"].split(":")[0] for error in response.get_json()}
    assert described == {"phone", "email", "address_string", "first_name", "description"}
    root = xml(create(client, city, fmt="xml", service_code="NOPE"))
    assert [e.findtext("description").split(":")[0] for e in root.findall("error")] == ["service_code"]
    assert db.session.execute(select(Case)).first() is None


def test_a_business_without_its_name_and_tax_code_is_refused(client, city):
    response = create(client, city, **{"attribute[sender_kind]": "business"})
    described = {error["description"].split(":")[0] for error in response.get_json()}
    assert response.status_code == 400 and described == {"attribute[business_name]", "attribute[tax_code]"}


# Reading requests -------------------------------------------------------------------------------------


def test_requests_show_status_agency_and_times_but_no_personal_data(client, city):
    case = created_case(client, city)
    response = client.get(f"{ROOT}/requests.json")
    [request] = response.get_json()
    assert request["service_request_id"] == case.code and request["status"] == "open"
    assert request["service_code"] == "DAT-DAI" and request["agency_responsible"] == city["desk"].name
    assert request["requested_datetime"].endswith("+07:00") and request["updated_datetime"].endswith("+07:00")
    assert request["expected_datetime"] is None and request["description"] == "" and request["lat"] is None
    for private in PERSONAL:
        assert private not in response.get_data(as_text=True)
        assert private not in client.get(f"{ROOT}/requests.xml").get_data(as_text=True)


def test_the_answer_deadline_is_expected_once_assigned_and_answered_cases_are_closed(client, city):
    case = created_case(client, city)
    wf.assign_case(case, wf.Actor(city["desk_user"]), "SO-NNMT")
    db.session.commit()
    [request] = client.get(f"{ROOT}/requests/{case.code}.json").get_json()
    assert request["expected_datetime"] == case.answer_due.astimezone(timezone(timedelta(hours=7))).isoformat()
    assert request["agency_responsible"] == "Sở Nông nghiệp và Môi trường" and request["status"] == "open"
    officer = wf.Actor(city["officer"])
    wf.accept_case(case, officer)
    wf.submit_answer(case, officer, "explained", "Đã hướng dẫn.")
    db.session.commit()
    root = xml(client.get(f"{ROOT}/requests/{case.code}.xml"))
    assert root.tag == "service_requests" and root.find("request/status").text == "closed"
    assert root.find("request/status_notes").text == "Đã trả lời"


def test_requests_are_filtered_by_id_service_status_and_dates(client, city, make):
    first, second = created_case(client, city), created_case(client, city)
    other = make.category(agency=city["land"], code="XD", name="Xây dựng")
    third = created_case(client, city, service_code="XD")
    wf.withdraw_case(second, wf.Actor.citizen())
    db.session.commit()

    def ids(query):
        response = client.get(f"{ROOT}/requests.json?{query}")
        assert response.status_code == 200, response.get_json()
        return sorted(r["service_request_id"] for r in response.get_json())

    assert ids(f"service_request_id={first.code},{third.code}") == sorted([first.code, third.code])
    assert ids("service_code=XD") == [third.code]
    assert ids("status=closed") == [second.code]
    assert ids("status=open") == sorted([first.code, third.code])
    assert ids("start_date=2000-01-01T00:00:00Z&end_date=2000-02-01T00:00:00Z") == []
    assert other.code == "XD"


def test_the_date_window_is_the_last_90_days_and_never_longer(client, city):
    old = created_case(client, city)
    old.received_at = utcnow() - timedelta(days=120)
    db.session.commit()
    assert client.get(f"{ROOT}/requests.json").get_json() == []
    start = (utcnow() - timedelta(days=130)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [r["service_request_id"] for r in client.get(f"{ROOT}/requests.json?start_date={start}").get_json()] \
        == [old.code]
    response = client.get(f"{ROOT}/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z")
    assert response.status_code == 400 and "90 days" in response.get_json()[0]["description"]
    assert client.get(f"{ROOT}/requests.json?start_date=yesterday").status_code == 400
    assert client.get(f"{ROOT}/requests.json?status=lost").status_code == 400


def test_a_published_case_shows_its_anonymised_text(client, city, make):
    from .helpers import published_case

    case = published_case(make, "Thời gian cấp phép", content="Hồ sơ cấp phép chậm.", category=city["category"])
    [request] = client.get(f"{ROOT}/requests/{case.code}.json").get_json()
    assert request["description"] == "Hồ sơ cấp phép chậm." and request["status"] == "closed"


def test_an_unknown_request_is_a_404(client, city):
    response = client.get(f"{ROOT}/requests/PAKN.20990101.0001.xml")
    assert response.status_code == 404 and xml(response).findtext("error/code") == "404"


def test_a_token_from_a_post_names_its_request(client, city):
    [answer] = create(client, city).get_json()
    body = client.get(f"{ROOT}/tokens/{answer['token']}.json").get_json()
    assert body == [{"service_request_id": answer["service_request_id"], "token": answer["token"]}]
    assert client.get(f"{ROOT}/tokens/not-a-token.json").status_code == 404


def test_too_many_requests_get_a_429_in_the_specs_error_list(app, city):
    with rate_limited_client(app) as limited:
        statuses = [limited.get(f"{ROOT}/tokens/guess-{n}.xml").status_code for n in range(31)]
        assert statuses[:30] == [404] * 30 and statuses[30] == 429
        response = limited.get(f"{ROOT}/tokens/guess.json")
    assert response.status_code == 429 and response.get_json()[0]["code"] == 429


def test_a_server_error_is_the_specs_error_list_without_internals(client, city, monkeypatch):
    from feedback.open311 import routes

    def broken(category):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes, "service", broken)
    response = client.get(f"{ROOT}/services.xml")
    assert response.status_code == 500 and xml(response).findtext("error/code") == "500"
    assert "secret internals" not in response.get_data(as_text=True)


def test_a_wrong_method_is_a_405_with_allow(client, city):
    response = client.delete(f"{ROOT}/services.json")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]


# An existing client ------------------------------------------------------------------------------------


@pytest.fixture
def georeport():
    try:
        from georeport import GeoReport
    except ImportError:  # pragma: no cover - requirements.txt installs it
        require_service(False, "the georeport Open311 client is not installed")
    return GeoReport


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_reads_services_and_requests_unchanged(app, client, city, georeport, fmt):
    first = created_case(client, city)
    second = created_case(client, city, **{"attribute[type]": "recommendation"})
    wf.withdraw_case(second, wf.Actor.citizen())
    db.session.commit()
    with live_server(app) as base:
        reader = georeport(f"{base}{ROOT}", output_format=fmt)
        services = reader.get_service_list()
        definition = reader.get_service_definition("DAT-DAI")
        requests_ = reader.get_service_requests()
        one = reader.get_service_request(first.code)
        closed = reader.get_service_requests(status="closed")
    assert {s["service_code"] for s in services} == {"DAT-DAI", "TN-MT"}
    assert definition["service_code"] == "DAT-DAI"
    assert {r["service_request_id"] for r in requests_} == {first.code, second.code}
    assert one["service_request_id"] == first.code and one["status"] == "open"
    assert one["service_name"] == "Đất đai" and one["requested_datetime"].endswith("+07:00")
    assert [r["service_request_id"] for r in as_list(closed)] == [second.code]


def as_list(parsed):
    """xmltodict (the client's XML reader) gives a lone element as a dict."""
    return parsed if isinstance(parsed, list) else [parsed]
