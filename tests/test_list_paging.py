"""Long lists: the staff API list by page and by cursor in deadline order
(earliest first, none last), capped totals in the API and on the pages."""
from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from feedback.models import Status

from .api_support import bearer, issue_token

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def cases(world, make):
    """Seven justice cases: two share a deadline, two have none, in an order
    their ids do not give."""
    dues = [START + timedelta(days=3), None, START + timedelta(days=1), START + timedelta(days=2),
            START + timedelta(days=1), None, START]
    return [make.case(agency=world.justice, category=world.category, status=Status.in_progress.value,
                      next_due=due, answer_due=due) for due in dues]


def deadline_order(cases) -> list[str]:
    """Earliest deadline first, cases without a deadline last, ties by id."""
    far = datetime.max.replace(tzinfo=UTC)
    return [c.code for c in sorted(cases, key=lambda c: (c.next_due is None, c.next_due or far, c.id))]


def api_list(client, token, query=""):
    response = client.get(f"/api/v1/cases?{query}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_api_list_puts_the_earliest_deadline_first_and_undated_cases_last(client, world, cases):
    body = api_list(client, issue_token(world.supervisor), "per_page=50")
    assert [i["code"] for i in body["items"]] == deadline_order(cases)
    assert (body["total"], body["total_exact"], body["next_cursor"]) == (7, True, None)


@pytest.mark.parametrize("per_page", [1, 2, 3, 7])
def test_following_next_cursor_walks_the_same_order_as_pages(client, world, cases, per_page):
    token, seen, query = issue_token(world.officer), [], f"per_page={per_page}"
    for _ in range(len(cases) + 1):
        body = api_list(client, token, query)
        seen += [i["code"] for i in body["items"]]
        if body["next_cursor"] is None:
            break
        assert body["page"] in (1, None) and len(body["items"]) == per_page
        query = f"per_page={per_page}&cursor={body['next_cursor']}"
    assert seen == deadline_order(cases)


def test_page_numbers_still_work_and_give_a_cursor_to_continue(client, world, cases):
    token = issue_token(world.officer)
    second = api_list(client, token, "per_page=2&page=2")
    assert [i["code"] for i in second["items"]] == deadline_order(cases)[2:4] and second["page"] == 2
    rest = api_list(client, token, f"per_page=10&cursor={second['next_cursor']}")
    assert [i["code"] for i in rest["items"]] == deadline_order(cases)[4:] and rest["page"] is None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "not a cursor", "%%%", _b64("[]"), _b64('{"a": 1}'), _b64('["2026-03-02T01:00:00", 5]'),
    _b64('["tomorrow", 5]'), _b64('[null, "5"]'), _b64("[null, 0]"), _b64(f"[null, {2**64}]"),
    _b64("[null, true]"), base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    _b64('["9999-12-31T23:00:00-05:00", 1]'), _b64('["0001-01-01T00:00:00+05:00", 1]'),  # past the calendar in UTC
])
def test_a_cursor_the_api_did_not_give_is_a_400_naming_it(client, world, cases, cursor):
    response = client.get("/api/v1/cases", query_string={"cursor": cursor}, headers=bearer(issue_token(world.desk)))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "cursor" in error["fields"] and "cursor" in error["message"]


def test_the_api_total_stops_at_the_cap_and_says_so(app, client, world, cases, monkeypatch):
    monkeypatch.setitem(app.config, "COUNT_CAP", 5)
    body = api_list(client, issue_token(world.supervisor), "per_page=2")
    assert (body["total"], body["total_exact"]) == (5, False) and body["next_cursor"]
    monkeypatch.setitem(app.config, "COUNT_CAP", 7)
    assert api_list(client, issue_token(world.supervisor))["total_exact"] is True


def test_the_inbox_says_more_than_the_cap_in_vietnamese_and_english(app, client, auth, world, cases, monkeypatch):
    monkeypatch.setitem(app.config, "COUNT_CAP", 5)
    auth.login(world.officer)
    page = client.get("/staff/?per_page=2").get_data(as_text=True)
    assert "hơn 5 hồ sơ" in page and "Trang 1, tổng cộng hơn 5 mục" in page and 'rel="next"' in page
    client.get("/lang/en")
    page = client.get("/staff/?per_page=2&page=2").get_data(as_text=True)
    assert "Cases: more than 5" in page and "Page 2 (more than 5 items in all)" in page and 'rel="next"' in page
    # The last page knows the total exactly: the six rows before it and its own.
    page = client.get("/staff/?per_page=2&page=4").get_data(as_text=True)
    assert "Cases: 7" in page and "Page 4 of 4" in page and "more than" not in page and 'rel="next"' not in page


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_due_before_past_the_calendar_is_a_400_not_a_500(client, world, moment):
    response = client.get("/api/v1/cases", query_string={"due_before": moment}, headers=bearer(issue_token(world.desk)))
    assert response.status_code == 400
    assert "due_before" in response.get_json()["error"]["fields"]
