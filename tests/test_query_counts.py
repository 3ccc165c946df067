"""SQL statements per request, counted on the engine as a user's request
runs them: a list costs the same whatever its page size and however many
cases there are, and a case page the same however long its timeline."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feedback.extensions import db
from feedback.models import CaseEvent, Status

from .api_support import bearer, issue_token

CASES = 60
LONG_AGO = datetime(2020, 1, 6, 2, 0, tzinfo=UTC)  # every deadline below has passed
# A list page: the user, the count, the page and the relations it shows,
# plus what the page's own filters and menus read.
MOST_PER_LIST = 8
# The staff case page: the case and each relation it shows, loaded up front.
MOST_PER_CASE_PAGE = 12


@pytest.fixture
def many(world, make):
    """Sixty overdue justice cases handled by the officer, and sixty at the desk."""
    working = [make.case(agency=world.justice, category=world.category, status=Status.in_progress.value,
                         officer_id=world.officer.id, next_due=LONG_AGO + timedelta(hours=n),
                         answer_due=LONG_AGO + timedelta(hours=n)) for n in range(CASES)]
    waiting = [make.case(category=world.category, received_at=LONG_AGO + timedelta(hours=n),
                         classify_due=LONG_AGO + timedelta(days=3), next_due=LONG_AGO + timedelta(days=3))
               for n in range(CASES)]
    return working, waiting


def statements(client, count_queries, url: str, **kw) -> int:
    """Statements of the second identical request: the first of a session
    also does once-only work (a token's last use, the calendar cache)."""
    client.get(url, **kw)
    with count_queries() as seen:
        response = client.get(url, **kw)
    assert response.status_code == 200, url
    return len(seen)


def test_the_api_list_costs_the_same_for_5_or_50_cases(client, world, many, count_queries):
    headers = bearer(issue_token(world.supervisor))
    few = statements(client, count_queries, "/api/v1/cases?per_page=5", headers=headers)
    most = statements(client, count_queries, "/api/v1/cases?per_page=50", headers=headers)
    assert few == most <= MOST_PER_LIST


def test_the_api_list_by_cursor_costs_the_same_as_by_page(client, world, many, count_queries):
    headers = bearer(issue_token(world.officer))
    cursor = client.get("/api/v1/cases?per_page=5", headers=headers).get_json()["next_cursor"]
    by_page = statements(client, count_queries, "/api/v1/cases?per_page=50&page=2", headers=headers)
    by_cursor = statements(client, count_queries, f"/api/v1/cases?per_page=50&cursor={cursor}", headers=headers)
    assert by_cursor == by_page <= MOST_PER_LIST


@pytest.mark.parametrize("who, url", [
    ("officer", "/staff/"), ("supervisor", "/staff/"), ("desk", "/staff/desk"),
    ("supervisor", "/dashboard/overdue"), ("lead", "/dashboard/overdue"),
])
def test_a_list_page_costs_the_same_for_5_or_50_cases(client, auth, world, many, count_queries, who, url):
    auth.login(getattr(world, who))
    few = statements(client, count_queries, f"{url}?per_page=5")
    most = statements(client, count_queries, f"{url}?per_page=50")
    assert few == most <= MOST_PER_LIST


def test_the_staff_case_page_costs_the_same_with_1_or_10_events(client, auth, world, many, count_queries):
    short, long = many[0][0], many[0][1]
    for case, events in ((short, 1), (long, 10)):
        db.session.add_all([CaseEvent(case_id=case.id, actor_id=world.officer.id, action="note", note=f"n{n}")
                            for n in range(events)])
    db.session.commit()
    auth.login(world.officer)
    one_event = statements(client, count_queries, f"/staff/cases/{short.code}")
    ten_events = statements(client, count_queries, f"/staff/cases/{long.code}")
    assert one_event == ten_events <= MOST_PER_CASE_PAGE
