"""The sender's contact details reach only those who need them, the same on
the staff page, the API, the CSV and XLSX exports and Open311; every view and
export of them is logged, and a supervisor opens one case with a reason."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from feedback import access
from feedback import workflow as wf
from feedback.extensions import db
from feedback.models import AuditLog, Case, utcnow
from feedback.workflow import Actor

from .api_support import bearer, issue_token

PHONE, EMAIL, ADDRESS, ID_NUMBER = "0912345678", "an.nguyen@example.vn", "12 Lạch Tray, Ngô Quyền, Hải Phòng", \
    "031204001234"
CONTACTS = (PHONE, EMAIL, ADDRESS, ID_NUMBER)
REASON = "Cần gọi lại người gửi để xác minh địa điểm phản ánh"


@pytest.fixture
def case(world, make) -> Case:
    """A case the desk sent to justice, which the justice lead took into work."""
    case = make.case(sender_id_number=ID_NUMBER, category=world.category, code="PAKN.20260105.0042")
    wf.assign_case(case, Actor(world.desk), world.justice)
    wf.accept_case(case, Actor(world.lead), officer=world.officer)
    wf.commit()
    return case


@pytest.fixture
def admin(make):
    return make.user("admin", email="admin@hp.vn")


def transfer_to_health(world, case: Case) -> None:
    wf.transfer_case(case, Actor(world.lead), world.health, "Thuộc thẩm quyền của Sở Y tế.")
    wf.commit()


def shows_contacts(text: str) -> bool:
    found = [value in text for value in CONTACTS]
    assert all(found) or not any(found), "contacts shown in part"
    return all(found)


def page_of(client, auth, user, case: Case) -> str:
    auth.logout()
    auth.login(user)
    response = client.get(f"/staff/cases/{case.code}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def api_detail(client, user, case: Case) -> dict:
    response = client.get(f"/api/v1/cases/{case.code}", headers=bearer(issue_token(user)))
    assert response.status_code == 200
    return response.get_json()


def export_rows(client, auth, user, fmt: str) -> list[list]:
    auth.logout()
    auth.login(user)
    response = client.get(f"/dashboard/export/cases.{fmt}?contacts=1")
    assert response.status_code == 200
    if fmt == "csv":
        return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def logged(action: str) -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action)
                                   .order_by(AuditLog.id)).scalars())


# Who sees them --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["desk", "officer", "lead"])
def test_the_desk_and_the_holding_agencys_officer_and_lead_see_contacts_on_the_case_page(
        client, auth, world, case, who):
    page = page_of(client, auth, getattr(world, who), case)
    assert shows_contacts(page) and "Nguyễn Văn An" in page
    assert 'id="reveal-contacts"' not in page


def test_an_admin_sees_contacts_on_the_case_page(client, auth, world, case, admin):
    assert shows_contacts(page_of(client, auth, admin, case))


def test_a_supervisor_sees_the_case_and_the_senders_name_but_no_contacts(client, auth, world, case):
    page = page_of(client, auth, world.supervisor, case)
    assert not shows_contacts(page)
    assert "Nguyễn Văn An" in page and 'id="contacts-hidden"' in page and 'id="reveal-contacts"' in page
    assert logged("contacts.viewed") == []


def test_after_a_transfer_the_old_agency_no_longer_sees_contacts_the_new_one_does(client, auth, world, case):
    transfer_to_health(world, case)
    page = page_of(client, auth, world.lead, case)  # still readable: the lead handled it
    assert "Nguyễn Văn An" in page and not shows_contacts(page)
    assert 'id="reveal-contacts"' not in page
    assert shows_contacts(page_of(client, auth, world.other_officer, case))


# API -------------------------------------------------------------------------------------


def test_a_supervisors_api_list_and_detail_carry_no_contacts(client, world, case):
    token = issue_token(world.supervisor)
    listing = client.get("/api/v1/cases", headers=bearer(token)).get_data(as_text=True)
    assert case.code in listing and not shows_contacts(listing)
    body = api_detail(client, world.supervisor, case)
    sender = body["sender"]
    assert sender["name"] == "Nguyễn Văn An" and sender["contacts_hidden"] is True
    assert (sender["phone"], sender["email"], sender["address"], sender["id_number"], sender["tax_code"]) == \
        (None, None, None, None, None)
    assert not shows_contacts(str(body))


@pytest.mark.parametrize("who", ["desk", "officer", "lead"])
def test_the_api_detail_gives_contacts_to_the_desk_and_the_holding_agency_and_logs_the_view(client, world, case,
                                                                                         who):
    user = getattr(world, who)
    sender = api_detail(client, user, case)["sender"]
    assert sender["contacts_hidden"] is False
    assert (sender["phone"], sender["email"], sender["address"], sender["id_number"]) == CONTACTS
    (view,) = logged("contacts.viewed")
    assert (view.user_id, view.case_id, view.detail) == (user.id, case.id, {"channel": "api"})


def test_an_admins_api_detail_carries_contacts(client, admin, case):
    assert api_detail(client, admin, case)["sender"]["phone"] == PHONE


def test_after_a_transfer_the_old_agencys_api_view_hides_contacts(client, world, case):
    transfer_to_health(world, case)
    assert api_detail(client, world.lead, case)["sender"]["contacts_hidden"] is True
    assert api_detail(client, world.other_lead, case)["sender"]["phone"] == PHONE


def test_the_api_list_never_carries_contacts_even_for_the_desk(client, world, case):
    listing = client.get("/api/v1/cases", headers=bearer(issue_token(world.desk))).get_data(as_text=True)
    assert case.code in listing and not shows_contacts(listing)


# Exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_supervisors_export_carries_no_contacts_even_when_asked(client, auth, world, case, fmt):
    rows = export_rows(client, auth, world.supervisor, fmt)
    assert case.code in str(rows) and not shows_contacts(str(rows))
    assert logged("export.contacts") == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_desks_and_the_holding_leads_exports_carry_contacts_and_are_logged(client, auth, world, case, admin,
                                                                               fmt):
    for user in (world.desk, admin, world.lead):
        rows = export_rows(client, auth, user, fmt)
        assert shows_contacts(str(rows)), user.email
    entries = logged("export.contacts")
    assert [e.user_id for e in entries] == [world.desk.id, admin.id, world.lead.id]
    assert all(e.detail["rows_with_contacts"] == 1 and e.detail["format"] == fmt for e in entries)
    assert "filters" in entries[0].detail


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_after_a_transfer_the_old_leads_export_carries_no_contacts_the_new_leads_does(client, auth, world, case,
                                                                                     fmt):
    transfer_to_health(world, case)
    old = export_rows(client, auth, world.lead, fmt)
    assert not shows_contacts(str(old))
    assert logged("export.contacts")[0].detail["rows_with_contacts"] == 0
    assert shows_contacts(str(export_rows(client, auth, world.other_lead, fmt)))


# Open311 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["desk", "supervisor"])
def test_open311_shows_no_contacts_whatever_key_is_used(client, world, case, who):
    key = issue_token(getattr(world, who))
    one = client.get(f"/open311/v2/requests/{case.code}.json?api_key={key}")
    listing = client.get(f"/open311/v2/requests.json?api_key={key}")
    assert one.status_code == 200 and case.code in one.get_data(as_text=True)
    for response in (one, listing):
        text = response.get_data(as_text=True)
        assert not shows_contacts(text) and "Nguyễn Văn An" not in text


# The supervisor's reveal ---------------------------------------------------------------------


def test_a_supervisor_opens_one_cases_contacts_with_a_reason_which_is_logged(client, auth, world, case, make):
    other = make.case(category=world.category, code="PAKN.20260105.0043", sender_phone="0987654321")
    page_of(client, auth, world.supervisor, case)
    response = client.post(f"/staff/cases/{case.code}/contacts", data={"reason": REASON})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert shows_contacts(page) and 'id="reveal-contacts"' not in page
    (reveal,) = logged("contacts.revealed")
    assert (reveal.user_id, reveal.case_id, reveal.detail) == (world.supervisor.id, case.id, {"reason": REASON})
    assert [(v.user_id, v.case_id) for v in logged("contacts.viewed")] == [(world.supervisor.id, case.id)]
    # That case only: the next case stays hidden, on the page and in the API.
    assert "0987654321" not in client.get(f"/staff/cases/{other.code}").get_data(as_text=True)
    assert api_detail(client, world.supervisor, other)["sender"]["contacts_hidden"] is True
    # The same reveal opens the case in the API for that user, and not for another supervisor.
    assert api_detail(client, world.supervisor, case)["sender"]["phone"] == PHONE
    second = make.user("supervisor", email="supervisor2@hp.vn")
    assert api_detail(client, second, case)["sender"]["contacts_hidden"] is True


def test_a_reveal_needs_a_reason_of_some_length(client, auth, world, case):
    page_of(client, auth, world.supervisor, case)
    response = client.post(f"/staff/cases/{case.code}/contacts", data={"reason": "  xem  "})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="err-reveal"' in page and not shows_contacts(page)
    assert logged("contacts.revealed") == []


def test_a_reveal_lasts_an_hour(client, auth, world, case, monkeypatch):
    page_of(client, auth, world.supervisor, case)
    client.post(f"/staff/cases/{case.code}/contacts", data={"reason": REASON})
    assert access.may_see_contacts(world.supervisor, case)
    later = utcnow() + access.CONTACT_REVEAL_DURATION + timedelta(minutes=1)
    monkeypatch.setattr(access, "utcnow", lambda: later)
    assert not access.may_see_contacts(world.supervisor, case)


def test_only_a_supervisor_reveals_and_not_a_former_handler(client, auth, world, case):
    transfer_to_health(world, case)
    page_of(client, auth, world.lead, case)
    client.post(f"/staff/cases/{case.code}/contacts", data={"reason": REASON})
    assert logged("contacts.revealed") == []
    assert not shows_contacts(client.get(f"/staff/cases/{case.code}").get_data(as_text=True))


def test_every_page_view_with_contacts_is_logged(client, auth, world, case):
    page_of(client, auth, world.officer, case)
    page_of(client, auth, world.desk, case)
    views = logged("contacts.viewed")
    assert [(v.user_id, v.case_id, v.detail["channel"]) for v in views] == [
        (world.officer.id, case.id, "page"), (world.desk.id, case.id, "page")]
