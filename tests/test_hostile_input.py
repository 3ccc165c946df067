"""Hostile input: every text field of every form and every string of every
JSON endpoint, fed XSS, SQL fragments, CR/LF, NUL, lone surrogates, a
right-to-left override, 100 000 characters and (JSON) the wrong types.

Whatever is sent, the answer is never a 5xx; what is refused is refused
clearly and changes nothing (cases, events, notifications, audit rows);
what is accepted comes back escaped. The suite runs on SQLite and on
PostgreSQL, which refuses NUL in text.
"""
from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from feedback import workflow as wf
from feedback.extensions import db
from feedback.models import AuditLog, Case, CaseEvent, Notification

from .api_support import bearer, case_token, issue_token, submission
from .helpers import PDF_BYTES, online_form
from .pages import page_form, page_forms

PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "attribute": '"><img src=x onerror=alert(1)>',
    "sql": "' OR 1=1 --",
    "crlf": "dòng một\r\nSet-Cookie: x=1",
    "nul": "a\x00b",
    "surrogate": "a\ud800b",
    "rtl": "abc\u202edef",
    "overlong": "x" * 100_000,
}
# Characters no field accepts: refused before any view runs. A form body
# cannot carry a lone surrogate (its bytes are invalid UTF-8 and arrive as
# U+FFFD), so forms refuse NUL; JSON can, with a \ud800 escape.
REFUSED = {"nul"}
REFUSED_JSON = {"nul", "surrogate"}
UNESCAPED = ("<script>alert(1)</script>", "<img src=x onerror")
WRONG_TYPES = [12345, 1.5, True, ["a"], {"a": "b"}, None]
TEXT_INPUTS = {"text", "email", "tel", "search", "url", "password", ""}
FAST = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
# Any character, with the troublesome ones (controls, lone surrogates, RTL override) drawn often.
hostile_text = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(
    ["\x00", "\x07", "\x0b", "\r", "\n", "\ud800", "\udfff", "\u202e", "<", "'"])), max_size=300)


def row_counts() -> tuple[int, ...]:
    db.session.expire_all()
    return tuple(db.session.execute(select(func.count()).select_from(table)).scalar_one()
                 for table in (Case, CaseEvent, Notification, AuditLog))


def encoded(data: dict) -> bytes:
    """A form body as a browser would send it, lone surrogates passed through
    as their (invalid) UTF-8 bytes: the server must cope with what arrives."""
    pairs = [(name, value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value)
             for name, value in data.items()]
    return urlencode(pairs, doseq=True).encode("ascii")


def post_form(client, url: str, data: dict):
    return client.post(url, data=encoded(data), content_type="application/x-www-form-urlencoded")


def page_after(client, response) -> str:
    """The page the person sees: the answer, or where it redirects."""
    if response.status_code in (301, 302, 303) and response.location.startswith(("/", "http://localhost")):
        return client.get(response.location).get_data(as_text=True)
    return response.get_data(as_text=True)


def assert_safe(client, response, kind: str, before: tuple[int, ...], what: str) -> None:
    """No 5xx; refused characters get a clear 400 and change nothing; any page
    escapes the payload."""
    assert response.status_code < 500, (what, kind, response.status_code)
    if kind in REFUSED:
        assert response.status_code == 400, (what, kind, response.status_code)
        assert row_counts() == before, (what, kind)
    elif response.status_code >= 400:
        assert row_counts() == before, (what, kind)
    if response.mimetype == "text/html" or response.status_code in (302, 303):
        page = page_after(client, response)
        for raw in UNESCAPED:
            assert raw not in page, (what, kind)
    if kind in REFUSED and response.mimetype == "text/html":
        assert "ký tự không được phép" in response.get_data(as_text=True)


def text_fields(form) -> list[str]:
    names = [i["name"] for i in form.inputs
             if i.get("name") and (i.get("type") or "text").lower() in TEXT_INPUTS and i["name"] != "csrf_token"]
    return names + list(form.textareas)


def attack_form(client, url: str, key: str, fields: list[str] | None = None, fresh=None) -> int:
    """Post the form ``key`` of the page at ``url`` once per text field and
    payload, every other field as the page holds it. ``fresh`` gives a new
    (url, key) before each post when an accepted post changes the page."""
    attacks = 0
    form = page_form(client.get(url).get_data(as_text=True), key)
    for name in fields or text_fields(form):
        for kind, payload in PAYLOADS.items():
            if fresh is not None:
                url, key = fresh()
                form = page_form(client.get(url).get_data(as_text=True), key)
            before = row_counts()
            response = post_form(client, form.action or url, {**form.data(), name: payload})
            assert_safe(client, response, kind, before, f"{url} {name}")
            attacks += 1
    return attacks


@pytest.fixture
def land(make):
    desk = make.desk_agency()
    department = make.agency(code="SO-NNMT", name="Sở Nông nghiệp và Môi trường")
    return desk, department, make.category(agency=department, code="DAT-DAI", name="Đất đai")


def sent_case(land):
    case, token = wf.submit_case(wf.Submission(
        type="report", sender_kind="individual", sender_name="Nguyễn Văn An", sender_address="Lê Chân",
        sender_phone="0912345678", sender_email="an@example.vn", title="Đất đai chậm",
        content="Hồ sơ đăng ký biến động đất đai nộp đã lâu.", category_id=land[2].id))
    db.session.commit()
    return case, token


# Requests refused at the door -----------------------------------------------------------

@pytest.mark.parametrize("url", ["/lang/en?next=/%0d%0aSet-Cookie:x=1", "/auth/login?next=/%0d%0aSet-Cookie:x=1",
                                 "/lang/en?next=/%00", "/lang/en?next=/%c2%85x"])
def test_a_return_address_with_control_characters_is_a_clear_400_that_sets_nothing(client, url):
    response = client.get(url)
    assert response.status_code == 400 and "Set-Cookie" not in response.headers.get("Location", "")
    assert "ký tự không được phép" in response.get_data(as_text=True)
    assert "lang" not in (client.get_cookie("session").value if client.get_cookie("session") else "")


def test_login_with_a_crlf_return_address_is_refused_without_signing_in(client, make):
    officer = make.user("officer")
    response = client.post("/auth/login?next=/%0d%0aSet-Cookie:x=1",
                           data={"email": officer.email, "password": make.PASSWORD})
    assert response.status_code == 400
    assert client.get("/staff/").status_code in (302, 401, 403)


def test_a_backslash_return_address_goes_home_not_off_site(client):
    assert client.get("/lang/en?next=/%5cevil.example").headers["Location"] == "/"


@pytest.mark.parametrize("path", ["/c/abc%00def", "/published/PAKN%00", "/api/v1/cases/PAKN%00",
                                  "/open311/v2/services/DAT%00.json", "/lookup?code=%00", "/published?q=a%00"])
def test_nul_in_a_path_or_query_is_a_clear_400(client, land, path):
    response = client.get(path)
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert response.get_json()["error"]["reason"] == "invalid_characters"
    elif path.startswith("/open311/"):
        assert response.get_json()[0]["code"] == 400


def test_deeply_nested_json_is_a_400_not_a_crash(client, land):
    before = row_counts()
    response = client.post("/api/v1/cases", data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]["reason"] == "malformed_json"
    assert row_counts() == before


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\u0000", "\\u0007"])
def test_a_json_string_with_a_lone_surrogate_or_control_character_is_a_422_naming_the_field(client, land, escape):
    body = json.dumps(submission(land[2], title="x")).replace('"title": "x"', f'"title": "a{escape}b"')
    before = row_counts()
    response = client.post("/api/v1/cases", data=body, content_type="application/json")
    assert response.status_code == 422
    assert "title" in response.get_json()["error"]["fields"]
    assert row_counts() == before


# Body size --------------------------------------------------------------------------------

def test_a_form_body_over_the_small_limit_is_a_413_page_in_both_languages(client):
    response = client.post("/resend", data={"email": "a" * 300_000 + "@example.vn"})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Nội dung gửi lên quá lớn" in page and "Request too large" in page


def test_a_json_body_over_the_small_limit_is_a_413_in_the_apis_shape(client, land):
    response = client.post("/api/v1/cases", json=submission(land[2], content="x" * 300_000))
    assert response.status_code == 413 and response.get_json()["error"]["reason"] == "too_large"


def test_the_attachment_steps_still_take_megabytes(client, land):
    pdf = PDF_BYTES + b"%" + b"0" * 2_000_000
    response = client.post("/submit", data={**online_form(land[2]), "step": "send",
                                            "attachments": [(io.BytesIO(pdf), "hoso.pdf")]},
                           content_type="multipart/form-data")
    assert response.status_code == 303


def test_a_multipart_form_with_too_many_parts_is_a_413(client):
    response = client.post("/resend", data={f"f{n}": "x" for n in range(500)}, content_type="multipart/form-data")
    assert response.status_code == 413


# Public forms -----------------------------------------------------------------------------

SUBMISSION_TEXT = ["full_name", "id_number", "address", "phone", "email", "title", "content"]


@pytest.mark.parametrize("step", ["details", "send"])
def test_every_submission_field_survives_hostile_text(client, land, step):
    for name in SUBMISSION_TEXT:
        for kind, payload in PAYLOADS.items():
            before = row_counts()
            response = post_form(client, "/submit", {**online_form(land[2]), name: payload, "step": step})
            assert_safe(client, response, kind, before, f"submit {step} {name}")


def test_lookup_resend_login_and_register_survive_hostile_text(client, land):
    case, _token = sent_case(land)
    assert attack_form(client, "/resend", "") > 0
    assert attack_form(client, "/auth/login", "") > 0
    assert attack_form(client, "/auth/register", "") > 0
    for kind, payload in PAYLOADS.items():
        for url, params in (("/lookup", {"code": payload, "email": "an@example.vn"}),
                            ("/lookup", {"code": case.code, "email": payload}), ("/published", {"q": payload})):
            before = row_counts()
            response = client.get(url, query_string={k: v.encode("utf-8", "surrogatepass") for k, v in params.items()})
            assert_safe(client, response, kind, before, f"{url} {params.keys()}")


def test_adding_information_and_withdrawing_survive_hostile_text(client, land, make):
    desk_user = make.user("desk", agency=land[0])

    def waiting_case():
        case, token = sent_case(land)
        wf.assign_case(case, wf.Actor(desk_user), land[1].code)
        lead = make.user("lead", agency=land[1])
        wf.accept_case(case, wf.Actor(lead))
        wf.request_information(case, wf.Actor(lead), "Xin bổ sung bản sao sổ đỏ.")
        db.session.commit()
        return f"/c/{token}", "/info"

    assert attack_form(client, *waiting_case(), fresh=waiting_case) > 0

    def open_case():
        _case, token = sent_case(land)
        return f"/c/{token}/withdraw", ""

    assert attack_form(client, *open_case(), fresh=open_case) > 0


# Staff and admin forms --------------------------------------------------------------------

def test_every_text_field_of_the_staff_case_actions_survives_hostile_text(client, auth, land, make):
    lead = make.user("lead", agency=land[1])
    auth.login(lead)
    desk_user = make.user("desk", agency=land[0])

    def accepted_case():
        case, _token = sent_case(land)
        wf.assign_case(case, wf.Actor(desk_user), land[1].code)
        wf.accept_case(case, wf.Actor(lead))
        db.session.commit()
        return case

    page = client.get(f"/staff/cases/{accepted_case().code}").get_data(as_text=True)
    actions = [(i.get("value"), text_fields(form)) for form in page_forms(page) if form.action.endswith("/act")
               for i in form.inputs if i.get("name") == "action" and text_fields(form)]
    assert len(actions) >= 3, actions
    for action, _fields in actions:
        def fresh(action=action):
            return f"/staff/cases/{accepted_case().code}", next(
                f.action for f in page_forms(client.get(f"/staff/cases/{accepted_case().code}").get_data(as_text=True))
                if f.action.endswith("/act") and any(i.get("value") == action for i in f.inputs))
        code = accepted_case().code
        html = client.get(f"/staff/cases/{code}").get_data(as_text=True)
        form = next(f for f in page_forms(html) if f.action.endswith("/act")
                    and any(i.get("value") == action and i.get("name") == "action" for i in f.inputs))
        for name in text_fields(form):
            for kind, payload in PAYLOADS.items():
                code = accepted_case().code
                html = client.get(f"/staff/cases/{code}").get_data(as_text=True)
                form = next(f for f in page_forms(html) if f.action.endswith("/act")
                            and any(i.get("value") == action and i.get("name") == "action" for i in f.inputs))
                before = row_counts()
                response = post_form(client, form.action, {**form.data(), name: payload})
                assert_safe(client, response, kind, before, f"staff {action} {name}")


@pytest.mark.parametrize("url", ["/admin/agencies/new", "/admin/categories/new", "/admin/procedures/new",
                                 "/admin/users", "/admin/calendar"])
def test_every_admin_form_survives_hostile_text(client, auth, land, make, url):
    auth.login(make.user("admin"))
    html = client.get(url).get_data(as_text=True)
    key = next(f.attrs.get("id") or f.action or "" for f in page_forms(html)
               if f.attrs.get("method", "get").lower() == "post" and text_fields(f))
    assert attack_form(client, url, key) > 0


def test_the_admin_edit_forms_survive_hostile_text(client, auth, land, make):
    auth.login(make.user("admin"))
    for url in (f"/admin/agencies/{land[1].id}", f"/admin/categories/{land[2].id}"):
        assert attack_form(client, url, "") > 0


# JSON endpoints ---------------------------------------------------------------------------

API_TEXT = ["title", "content", "category", "type", "sender.name", "sender.address", "sender.phone", "sender.email"]


def with_value(body: dict, dotted: str, value) -> dict:
    body = json.loads(json.dumps(body))
    *parents, last = dotted.split(".")
    target = body
    for part in parents:
        target = target[part]
    target[last] = value
    return body


def post_json(client, url: str, body, headers=None):
    text = json.dumps(body, ensure_ascii=True)  # lone surrogates travel as \ud800 escapes
    return client.post(url, data=text, content_type="application/json", headers=headers or {})


def assert_json_safe(response, kind, before, what):
    assert response.status_code < 500, (what, kind, response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    if response.status_code >= 400:
        assert row_counts() == before, (what, kind)
        error = body["error"] if isinstance(body, dict) else body[0]
        assert error["code"] == response.status_code
    if kind in REFUSED_JSON:
        assert response.status_code in (400, 422), (what, kind)


def test_every_string_of_an_api_submission_survives_hostile_text_and_wrong_types(client, land):
    for name in API_TEXT:
        for kind, value in [*PAYLOADS.items(), *((f"type:{v!r}", v) for v in WRONG_TYPES)]:
            before = row_counts()
            response = post_json(client, "/api/v1/cases", with_value(submission(land[2]), name, value))
            assert_json_safe(response, kind, before, name)
            if kind in REFUSED_JSON or kind.startswith("type:") and value is not None:
                assert response.status_code in (400, 422) and response.get_json()["error"]["fields"], (name, kind)


@FAST
@given(title=hostile_text, content=hostile_text)
def test_any_text_sent_to_the_api_is_stored_as_sent_or_refused_with_a_422(client, land, title, content):
    before = row_counts()
    response = post_json(client, "/api/v1/cases", submission(land[2], title=title, content=content))
    assert response.status_code in (201, 422), response.get_data(as_text=True)[:300]
    if response.status_code == 422:
        assert row_counts() == before and set(response.get_json()["error"]["fields"]) <= {"title", "content"}
    else:
        stored = db.session.execute(select(Case).where(Case.code == response.get_json()["code"])).scalar_one()
        assert stored.title == title.strip()


@FAST
@given(query=hostile_text)
def test_any_lookup_or_search_query_is_answered_without_a_server_error(client, land, query):
    for url, params in (("/lookup", {"code": query, "email": query}), ("/published", {"q": query}),
                        ("/api/v1/cases", {"q": query}), ("/open311/v2/requests.xml", {"service_request_id": query})):
        response = client.get(url, query_string={k: v.encode("utf-8", "surrogatepass") for k, v in params.items()})
        assert response.status_code < 500, (url, response.status_code)
        for raw in UNESCAPED:
            assert raw not in response.get_data(as_text=True)


def test_transitions_and_ratings_survive_hostile_strings_and_wrong_types(client, land, make):
    lead = make.user("lead", agency=land[1])
    desk_user = make.user("desk", agency=land[0])
    token = issue_token(lead)
    for kind, value in [*PAYLOADS.items(), *((f"type:{v!r}", v) for v in WRONG_TYPES)]:
        case, _ = sent_case(land)
        wf.assign_case(case, wf.Actor(desk_user), land[1].code)
        wf.accept_case(case, wf.Actor(lead))
        db.session.commit()
        for body in ({"action": "note", "version": case.version, "text": value},
                     {"action": value, "version": case.version},
                     {"action": "request_info", "version": case.version, "message": value}):
            before = row_counts()
            response = post_json(client, f"/api/v1/cases/{case.code}/transitions", body, bearer(token))
            assert_json_safe(response, kind, before, f"transition {body}"[:80])
        case, case_tok = sent_case(land)
        wf.assign_case(case, wf.Actor(desk_user), land[1].code)
        wf.accept_case(case, wf.Actor(lead))
        wf.submit_answer(case, wf.Actor(lead), "explained", "Sở đã hướng dẫn thủ tục đăng ký biến động.")
        db.session.commit()
        for body in ({"level": 4, "resolved": "yes", "comment": value}, {"level": value, "resolved": "yes"},
                     {"level": 4, "resolved": value}):
            before = row_counts()
            response = post_json(client, f"/api/v1/cases/{case.code}/rating", body, case_token(case_tok))
            assert_json_safe(response, kind, before, f"rating {body}"[:80])


OPEN311_TEXT = ["service_code", "first_name", "last_name", "email", "phone", "address_string", "description", "lat"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_open311_parameter_survives_hostile_text(client, land, make, fmt):
    api_key = issue_token(make.user("desk", agency=land[0]), name="city app")
    valid = {"api_key": api_key, "service_code": "DAT-DAI", "first_name": "Văn An", "last_name": "Nguyễn",
             "email": "an.nguyen@example.vn", "phone": "+84 912 345 678",
             "address_string": "12 Lạch Tray, Ngô Quyền, Hải Phòng", "lat": "20.8449", "long": "106.6881",
             "description": "Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả."}
    for name in OPEN311_TEXT:
        for kind, payload in PAYLOADS.items():
            before = row_counts()
            response = post_form(client, f"/open311/v2/requests.{fmt}", {**valid, name: payload})
            assert response.status_code < 500, (name, kind, response.status_code)
            if kind in REFUSED:
                assert response.status_code == 400 and row_counts() == before, (name, kind)
            if response.status_code < 300:  # what was accepted reads back as well-formed XML / JSON
                listed = client.get(f"/open311/v2/requests.{fmt}")
                assert listed.status_code == 200
                if fmt == "xml":
                    from xml.etree.ElementTree import fromstring

                    fromstring(listed.data)
