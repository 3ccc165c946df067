"""The supervisor dashboard: figures, by-agency table, charts, lists, report.

Every figure is checked against a small data set whose expected values are
counted by hand in the comments of ``march``. "Now" is frozen at Friday
20 March 2026, 10:00 in Hải Phòng (03:00 UTC); the period is March 2026
(local days 1–31, i.e. 28 Feb 17:00 UTC to 31 Mar 17:00 UTC).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape

import pytest

from feedback.extensions import db
from feedback.models import Agency, Case, CaseEvent, Procedure, Rating, User
from feedback.reporting import stats
from feedback.reporting.periods import Period, half_year

from .helpers import FROZEN_NOW

NOW = FROZEN_NOW  # Friday 10:00 local, also the pages' "now" under the frozen_now fixture
MARCH = Period("custom", datetime(2026, 3, 1).date(), datetime(2026, 3, 31).date())
MARCH_ARGS = "period=custom&from=2026-03-01&to=2026-03-31"


def utc(month: int, day: int, hour: int = 3, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class March:
    """The known data set and the people who look at it."""

    justice: Agency
    health: Agency
    desk_agency: Agency
    construction: Agency
    supervisor: User
    lead: User
    officer: User
    desk: User
    admin: User
    p1: Procedure
    p2: Procedure
    cases: dict[str, Case] = field(default_factory=dict)


def build_march(make) -> March:
    """Four agencies, fifteen cases, five ratings, three review events.

    Sở Tư pháp (justice), agency A:
      a1 recv 02/03, closed,  answered 10/03 on time, 6 working days, explained, P1
      a2 recv 03/03, responded, answered 12/03 on time, 7 days, amend_rule, P1
      a3 recv 04/03, review_requested (review due 26/03), answered 16/03 LATE, 12 days,
         not_accepted, P2; asked for review 19/03 and again 20/03 (one case)
      a4 recv 05/03, in_progress, due 18/03             -> overdue
      a5 recv 06/03, assigned, due 23/03 10:00 UTC      -> due soon (limit Tue 24/03 17:00 local)
      a6 recv 09/03, needs_info, due 10/03              -> open, but the citizen's deadline: not overdue
      a7 recv 10/02 (February), closed, answered 03/03 on time, 9 days, recommendation_forwarded, P2
      a8 recv 31/03 23:50 local (16:50 UTC), assigned, due 15/04 -> received in March
      a9 recv 01/04 00:30 local (31/03 17:30 UTC), in_progress, due 20/04 -> received in April
    Sở Y tế (health), agency B:
      b1 recv 02/03, closed, answered 09/03 on time, 5 days, explained, P1
      b2 recv 10/03, in_progress, due 13/03             -> overdue
      b3 recv 11/03, awaiting_approval, due 19/03       -> overdue
      b4 recv 12/03, assigned, due 20/03 10:00 UTC      -> due soon (7 hours from now)
    Văn phòng UBND (the desk), agency C:
      c1 recv 18/03, submitted, classify due 19/03      -> overdue (the desk's own deadline)
      c2 recv 19/03, rejected                           -> received, not open
    Sở Xây dựng, agency D: nothing.
    Ratings: a1 level 5 (12/03), a2 level 4 (14/03), a3 level 2 (18/03), a7 level 1 (02/04,
    outside March), b1 level 5 (11/03).
    """
    desk_agency = make.desk_agency()
    justice = make.agency(code="SO-TP", name="Sở Tư pháp")
    health = make.agency(code="SO-YT", name="Sở Y tế")
    construction = make.agency(code="SO-XD", name="Sở Xây dựng")
    p1 = Procedure(code="TTHC-001", title="Cấp phiếu lý lịch tư pháp", kind="procedure")
    p2 = Procedure(code="QĐ-15/2025", title="Quyết định 15/2025/QĐ-UBND về phí, lệ phí", kind="legal_document")
    db.session.add_all([p1, p2])
    db.session.commit()
    categories = {a.id: make.category(agency=a, name=f"Lĩnh vực của {a.name}")
                  for a in (justice, health, desk_agency)}
    data = March(
        justice=justice, health=health, desk_agency=desk_agency, construction=construction,
        supervisor=make.user("supervisor", full_name="Giám sát viên"),
        lead=make.user("lead", agency=justice, full_name="Lãnh đạo Sở Tư pháp"),
        officer=make.user("officer", agency=justice, full_name="Trần Thị Xử Lý"),
        desk=make.user("desk", agency=desk_agency), admin=make.user("admin"), p1=p1, p2=p2,
    )

    def case(name, agency, status, received, **fields):
        data.cases[name] = make.case(
            agency=agency, status=status, received_at=received, category=categories[agency.id],
            code=f"PAKN.TEST.{name.upper()}", title=fields.pop("title", f"Phản ánh {name} về thủ tục đất đai"),
            **fields)

    answered = dict(answered_by_id=None)
    case("a1", justice, "closed", utc(3, 2), answered_at=utc(3, 10), answer_on_time=True, answer_working_days=6,
         answer_lateness_days=-4, outcome="explained", procedure_id=p1.id, officer_id=data.officer.id, **answered)
    case("a2", justice, "responded", utc(3, 3), answered_at=utc(3, 12), answer_on_time=True, answer_working_days=7,
         answer_lateness_days=-3, outcome="amend_rule", procedure_id=p1.id, next_due=utc(3, 26, 10))
    case("a3", justice, "review_requested", utc(3, 4), answered_at=utc(3, 16), answer_on_time=False,
         answer_working_days=12, answer_lateness_days=2, outcome="not_accepted", procedure_id=p2.id,
         next_due=utc(3, 26, 10))
    case("a4", justice, "in_progress", utc(3, 5), next_due=utc(3, 18, 10), procedure_id=p1.id,
         officer_id=data.officer.id, title="Chậm cấp giấy khai sinh cho trẻ")
    case("a5", justice, "assigned", utc(3, 6), next_due=utc(3, 23, 10))
    case("a6", justice, "needs_info", utc(3, 9), next_due=utc(3, 10, 10))
    case("a7", justice, "closed", utc(2, 10), answered_at=utc(3, 3), answer_on_time=True, answer_working_days=9,
         answer_lateness_days=-1, outcome="recommendation_forwarded", procedure_id=p2.id)
    case("a8", justice, "assigned", utc(3, 31, 16, 50), next_due=utc(4, 15, 10))
    case("a9", justice, "in_progress", utc(3, 31, 17, 30), next_due=utc(4, 20, 10))
    case("b1", health, "closed", utc(3, 2), answered_at=utc(3, 9), answer_on_time=True, answer_working_days=5,
         answer_lateness_days=-5, outcome="explained", procedure_id=p1.id)
    case("b2", health, "in_progress", utc(3, 10), next_due=utc(3, 13, 10), title="Bệnh viện thu phí sai quy định")
    case("b3", health, "awaiting_approval", utc(3, 11), next_due=utc(3, 19, 10))
    case("b4", health, "assigned", utc(3, 12), next_due=utc(3, 20, 10))
    case("c1", desk_agency, "submitted", utc(3, 18), next_due=utc(3, 19, 10))
    case("c2", desk_agency, "rejected", utc(3, 19))

    c = data.cases
    for name, level, created, agency in (("a1", 5, utc(3, 12), justice), ("a2", 4, utc(3, 14), justice),
                                         ("a3", 2, utc(3, 18), justice), ("a7", 1, utc(4, 2), justice),
                                         ("b1", 5, utc(3, 11), health)):
        db.session.add(Rating(case_id=c[name].id, level=level, resolved="yes", agency_id=agency.id,
                              category_id=c[name].category_id, procedure_id=c[name].procedure_id,
                              created_at=created))
    for name, at in (("a3", utc(3, 19)), ("a3", utc(3, 20, 1)), ("a2", utc(4, 3))):
        db.session.add(CaseEvent(case_id=c[name].id, at=at, actor_kind="citizen", action="review_requested",
                                 from_status="responded", to_status="review_requested"))
    db.session.commit()
    return data


@pytest.fixture
def march(make) -> March:
    return build_march(make)


# The figures -----------------------------------------------------------------------


def test_headline_figures_for_march_match_the_hand_count(march):
    figures = stats.headline(march.supervisor, MARCH.start, MARCH.end, now=NOW)
    assert figures == {
        "received": 13,  # A: a1–a6, a8 (7) + B: b1–b4 (4) + C: c1, c2 (2); a7 is February's, a9 April's
        "open": 10,  # A: a3 a4 a5 a6 a8 a9 (6) + B: b2 b3 b4 (3) + C: c1 (1)
        "overdue": 4,  # a4, b2, b3, c1 (a6 waits for the citizen)
        "due_soon": 2,  # a5 (Mon 23/03), b4 (today 17:00)
        "answered": 5,  # a1 a2 a3 a7 b1
        "on_time": 4,  # all but a3
        "late": 1,  # a3
        "on_time_rate": 0.8,  # 4 / 5
        "median_working_days_to_answer": 7.0,  # 5 6 [7] 9 12
        "ratings": 4,  # a1 a2 a3 b1 (a7's is April's)
        "satisfied": 3,  # levels 5, 4, 5
        "satisfaction_rate": 0.75,  # 3 / 4
        "review_requests": 1,  # a3 asked twice, counted once; a2's request is April's
        "on_time_target": 0.95,
    }


def test_by_agency_figures_match_the_hand_count_worst_on_time_first(march):
    rows = stats.by_agency(march.supervisor, MARCH.start, MARCH.end, now=NOW)
    # On-time: justice 3/4 = 75% before health 1/1; then agencies with nothing
    # answered, the one with an overdue case (the desk) first.
    assert [r["agency_code"] for r in rows] == ["SO-TP", "SO-YT", "VP-UBND", "SO-XD"]
    justice, health, desk, construction = rows
    assert justice == {
        "agency_id": march.justice.id, "agency_code": "SO-TP", "agency_name": "Sở Tư pháp",
        "received": 7, "open": 6, "overdue": 1, "due_soon": 1,
        "answered": 4, "on_time": 3, "late": 1, "on_time_rate": 0.75,
        "median_working_days_to_answer": 8.0,  # 6 7 9 12 -> (7 + 9) / 2
        "ratings": 3, "satisfied": 2, "satisfaction_rate": pytest.approx(2 / 3),  # levels 5, 4, 2
        "review_requests": 1,
    }
    assert {k: health[k] for k in stats.FIGURE_KEYS} == {
        "received": 4, "open": 3, "overdue": 2, "due_soon": 1, "answered": 1, "on_time": 1, "late": 0,
        "on_time_rate": 1.0, "median_working_days_to_answer": 5.0, "ratings": 1, "satisfied": 1,
        "satisfaction_rate": 1.0, "review_requests": 0,
    }
    assert {k: desk[k] for k in stats.FIGURE_KEYS} == {
        "received": 2, "open": 1, "overdue": 1, "due_soon": 0, "answered": 0, "on_time": 0, "late": 0,
        "on_time_rate": None, "median_working_days_to_answer": None, "ratings": 0, "satisfied": 0,
        "satisfaction_rate": None, "review_requests": 0,
    }
    assert all(construction[k] in (0, None) for k in stats.FIGURE_KEYS)


def test_a_lead_gets_only_their_agencys_figures(march):
    figures = stats.headline(march.lead, MARCH.start, MARCH.end, now=NOW)
    assert (figures["received"], figures["open"], figures["overdue"], figures["due_soon"]) == (7, 6, 1, 1)
    assert (figures["answered"], figures["on_time_rate"], figures["median_working_days_to_answer"]) == (4, 0.75, 8.0)
    assert (figures["ratings"], figures["review_requests"]) == (3, 1)
    rows = stats.by_agency(march.lead, MARCH.start, MARCH.end, now=NOW)
    assert [r["agency_code"] for r in rows] == ["SO-TP"]
    # Asking for another agency gives nothing, not that agency's figures.
    other = stats.headline(march.lead, MARCH.start, MARCH.end, march.health.id, now=NOW)
    assert other["received"] == 0 and other["ratings"] == 0


def test_headline_for_one_agency_equals_its_row(march):
    figures = stats.headline(march.supervisor, MARCH.start, MARCH.end, march.health.id, now=NOW)
    row = next(r for r in stats.by_agency(march.supervisor, MARCH.start, MARCH.end, now=NOW)
               if r["agency_code"] == "SO-YT")
    assert {k: figures[k] for k in stats.FIGURE_KEYS} == {k: row[k] for k in stats.FIGURE_KEYS}


def test_monthly_counts_received_answered_and_answered_late(march):
    months = stats.monthly(march.supervisor, MARCH.months())
    assert len(months) == 12 and months[0]["month"].isoformat() == "2025-04-01"
    by_month = {m["month"].strftime("%Y-%m"): (m["received"], m["answered"], m["late"]) for m in months}
    assert by_month["2026-03"] == (13, 5, 1)  # as the headline; a3 was late
    assert by_month["2026-02"] == (1, 0, 0)  # a7 received in February, answered in March
    assert sum(m["received"] for m in months) == 14  # a9 (April) is outside the chart


def test_satisfaction_distribution_counts_each_level(march):
    assert stats.rating_levels(march.supervisor, MARCH.start, MARCH.end) == {1: 0, 2: 1, 3: 0, 4: 1, 5: 2}


def test_rules_that_hurt_most_with_outcomes_and_trend(march):
    rules = stats.rules_that_hurt(march.supervisor, MARCH.start, MARCH.end)
    assert [(r["code"], r["cases"], r["previous"], r["change"]) for r in rules] == [
        ("TTHC-001", 4, 0, 4),  # a1 a2 a4 b1 in March, none in the 31 days before
        ("QĐ-15/2025", 1, 1, 0),  # a3 in March; a7 received 10/02, in the previous 31 days
    ]
    p1 = rules[0]
    assert (p1["explained"], p1["amend_rule"], p1["recommendation_forwarded"], p1["not_accepted"]) == (2, 1, 0, 0)
    assert rules[1]["not_accepted"] == 1


def test_rules_amended_in_the_half_year_list_both_outcomes_with_their_procedure(march):
    h1 = half_year(2026, 1)
    rows, truncated = stats.rules_amended(march.supervisor, h1.start, h1.end)
    assert not truncated
    assert [(r["code"], r["outcome"], r["procedure_code"]) for r in rows] == [
        ("PAKN.TEST.A7", "recommendation_forwarded", "QĐ-15/2025"),
        ("PAKN.TEST.A2", "amend_rule", "TTHC-001"),
    ]


# Periods ------------------------------------------------------------------------------


def test_a_period_is_local_days_with_utc_bounds_and_a_previous_period_of_equal_length():
    assert MARCH.start == utc(2, 28, 17) and MARCH.end == utc(3, 31, 17)  # Hải Phòng is UTC+7
    previous = MARCH.previous()
    assert (previous.first.isoformat(), previous.last.isoformat()) == ("2026-01-29", "2026-02-28")
    year = half_year(2026, 2)
    assert (year.first.isoformat(), year.last.isoformat()) == ("2026-07-01", "2026-12-31")
    assert [m.first.month for m in year.months(at_least=6)] == [7, 8, 9, 10, 11, 12]


def test_typed_dates_may_be_iso_or_vietnamese_order():
    from werkzeug.datastructures import MultiDict

    from feedback.reporting.periods import parse_period

    today = NOW.date()
    period, error = parse_period(MultiDict({"period": "custom", "from": "01/03/2026", "to": "2026-03-31"}), today)
    assert error is None and period == Period("custom", MARCH.first, MARCH.last)
    period, error = parse_period(MultiDict({"period": "decade"}), today)
    assert "Kỳ báo cáo không hợp lệ" in error and period.first.isoformat() == "2026-03-01"


# The dashboard page ------------------------------------------------------------------


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def agency_row(html: str, name: str) -> str:
    match = re.search(r'<tr>\s*<th scope="row">' + re.escape(name) + r"</th>(.*?)</tr>", html, re.S)
    assert match, f"no row for {name}"
    return match.group(1)


def test_the_dashboard_shows_the_headline_and_the_agency_table(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    html = client.get(f"/dashboard/?{MARCH_ARGS}").get_data(as_text=True)
    page = text_of(html)
    assert "Kỳ báo cáo: 01/03/2026 – 31/03/2026" in page
    assert "Tiếp nhận trong kỳ 13" in page and "Quá hạn (hiện nay) 4" in page
    assert "Tỷ lệ trả lời đúng hạn 80,0%" in page and "Chưa đạt mục tiêu trả lời đúng hạn 95,0%" in page
    assert "Số ngày làm việc để trả lời (trung vị) 7" in page and "Tỷ lệ hài lòng 75,0%" in page
    assert html.index("Sở Tư pháp</th>") < html.index("Sở Y tế</th>") < html.index("Sở Xây dựng</th>")
    justice = text_of(agency_row(html, "Sở Tư pháp")).split()
    # received open overdue due-soon answered late on-time median satisfied ratings reviews
    assert justice == ["7", "6", "1", "1", "4", "1", "75,0%", "8", "66,7%", "3", "1"]


def test_every_number_in_the_agency_table_links_to_that_many_cases(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    html = client.get(f"/dashboard/?{MARCH_ARGS}").get_data(as_text=True)
    rows = {r["agency_name"]: r for r in stats.by_agency(march.supervisor, MARCH.start, MARCH.end, now=NOW)}
    for name in ("Sở Tư pháp", "Sở Y tế", "Văn phòng UBND thành phố"):
        links = {figure: unescape(href) for href, figure in
                 re.findall(r'<a href="([^"]+)" data-figure="(\w+)">', agency_row(html, name))}

        def listed(figure, links=links):
            page = text_of(client.get(links[figure]).get_data(as_text=True))
            return int(re.search(r"(\d+) hồ sơ", page).group(1))

        row = rows[name]
        for figure in ("received", "open", "overdue", "due_soon", "answered", "late", "ratings", "review_requests"):
            assert listed(figure) == row[figure], (name, figure, links[figure])
        if row["on_time_rate"] is not None:
            assert listed("on_time_rate") == row["on_time"]  # the rate's numerator
            assert links["median_working_days_to_answer"] == links["answered"]
        if row["satisfaction_rate"] is not None:
            assert listed("satisfaction_rate") == row["satisfied"]


def test_the_agency_table_sorts_on_any_column(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    html = client.get(f"/dashboard/?{MARCH_ARGS}&sort=overdue&order=desc").get_data(as_text=True)
    # overdue: health 2, then justice 1 and the desk 1 (worst first), construction 0
    order = [html.index(f"{n}</th>") for n in ("Sở Y tế", "Sở Tư pháp", "Sở Xây dựng")]
    assert order == sorted(order)
    html = client.get(f"/dashboard/?{MARCH_ARGS}&sort=agency&order=asc").get_data(as_text=True)
    assert html.index("Sở Tư pháp</th>") < html.index("Sở Xây dựng</th>") < html.index("Sở Y tế</th>")
    assert 'aria-sort="ascending"' in html


def test_bad_dates_show_a_clear_message_and_fall_back_to_this_month(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    response = client.get("/dashboard/?period=custom&from=2026-02-30&to=2026-03-31")
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Từ ngày không hợp lệ: “2026-02-30”" in page and "Đang hiển thị tháng này" in page
    assert "Kỳ báo cáo: 01/03/2026 – 31/03/2026" in page  # this month, at the frozen "now"
    reversed_page = text_of(
        client.get("/dashboard/?period=custom&from=2026-03-31&to=2026-03-01").get_data(as_text=True)
    )
    assert "“Từ ngày” phải trước hoặc bằng “Đến ngày”" in reversed_page


@pytest.mark.parametrize("kind, label", [("quarter", "01/01/2026 – 31/03/2026"), ("half", "01/01/2026 – 30/06/2026"),
                                         ("year", "01/01/2026 – 31/12/2026"), ("month", "01/03/2026 – 31/03/2026")])
def test_the_named_periods_are_the_current_ones(client, auth, march, frozen_now, kind, label):
    auth.login(march.supervisor)
    assert f"Kỳ báo cáo: {label}" in text_of(client.get(f"/dashboard/?period={kind}").get_data(as_text=True))


def test_charts_are_inline_svg_with_a_table_alternative_and_no_inline_styles(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    response = client.get(f"/dashboard/?{MARCH_ARGS}")
    html = response.get_data(as_text=True)
    assert html.count("<svg") == 3 and html.count('role="img"') == 3
    assert "Tiếp nhận, trả lời và trả lời trễ hạn theo tháng" in html
    assert "Mục tiêu 95%" in html  # the target line on the on-time chart
    assert html.count("Xem số liệu dạng bảng") == 3
    assert "style=" not in html and "<script" not in html
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_the_dashboard_lists_the_rules_that_hurt_most(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    page = text_of(client.get(f"/dashboard/?{MARCH_ARGS}").get_data(as_text=True))
    assert "TTHC-001 Cấp phiếu lý lịch tư pháp" in page and "▲ +4" in page


def test_a_lead_sees_only_their_agency_on_the_dashboard(client, auth, march, frozen_now):
    auth.login(march.lead)
    html = client.get(f"/dashboard/?{MARCH_ARGS}&agency={march.health.id}").get_data(as_text=True)
    page = text_of(html)
    assert "Sở Tư pháp" in page and "Sở Y tế</th>" not in html
    assert "Tiếp nhận trong kỳ 7" in page and 'name="agency"' not in html


def test_the_dashboard_runs_a_fixed_number_of_queries(client, auth, make, march, frozen_now, count_queries):
    auth.login(march.supervisor)
    client.get(f"/dashboard/?{MARCH_ARGS}")
    with count_queries() as few:
        client.get(f"/dashboard/?{MARCH_ARGS}")
    for n in range(6):
        agency = make.agency(code=f"XA-{n}", name=f"UBND xã số {n}")
        for day in (3, 4, 5):
            make.case(agency=agency, status="closed", received_at=utc(3, day), answered_at=utc(3, day + 5),
                      answer_on_time=bool(n % 2), answer_working_days=n, procedure_id=march.p2.id)
    client.get(f"/dashboard/?{MARCH_ARGS}")
    with count_queries() as many:
        html = client.get(f"/dashboard/?{MARCH_ARGS}").get_data(as_text=True)
    assert "UBND xã số 5" in html
    assert len(many) == len(few) and len(many) <= 25, "\n".join(many)


# Lists ---------------------------------------------------------------------------------


def test_the_overdue_list_shows_cases_past_a_staff_deadline_most_overdue_first(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    html = client.get("/dashboard/overdue").get_data(as_text=True)
    codes = re.findall(r'href="/staff/cases/(PAKN\.TEST\.\w+)"', html)
    assert codes == ["PAKN.TEST.B2", "PAKN.TEST.A4", "PAKN.TEST.B3", "PAKN.TEST.C1"]
    assert "PAKN.TEST.A6" not in html  # waiting for the citizen
    # b2 was due Fri 13/03 17:00 local: Mon 16 … Fri 20 are five working days late.
    assert '<span class="badge overdue">5</span>' in html


def test_the_overdue_list_filters_by_agency_and_minimum_days_overdue(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    html = client.get(f"/dashboard/overdue?agency={march.health.id}").get_data(as_text=True)
    assert re.findall(r'href="/staff/cases/(PAKN\.TEST\.\w+)"', html) == ["PAKN.TEST.B2", "PAKN.TEST.B3"]
    # a4 due Wed 18/03 (2 days late), b3 Thu 19/03 (1), c1 Thu 19/03 (1), b2 (5)
    html = client.get("/dashboard/overdue?min_days_overdue=2").get_data(as_text=True)
    assert re.findall(r'href="/staff/cases/(PAKN\.TEST\.\w+)"', html) == ["PAKN.TEST.B2", "PAKN.TEST.A4"]
    html = client.get(f"/dashboard/overdue?officer={march.officer.id}").get_data(as_text=True)
    assert re.findall(r'href="/staff/cases/(PAKN\.TEST\.\w+)"', html) == ["PAKN.TEST.A4"]
    html = client.get("/dashboard/overdue?min_days_overdue=abc").get_data(as_text=True)
    assert "Số ngày quá hạn tối thiểu phải là số nguyên không âm." in html


def test_the_due_soon_list_has_the_next_two_working_days(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    html = client.get("/dashboard/due-soon").get_data(as_text=True)
    assert re.findall(r'href="/staff/cases/(PAKN\.TEST\.\w+)"', html) == ["PAKN.TEST.B4", "PAKN.TEST.A5"]


def test_lists_are_paginated(client, auth, make, march, frozen_now):
    for n in range(25):
        make.case(agency=march.health, status="in_progress", received_at=utc(3, 2), next_due=utc(3, 2 + n % 10, 10),
                  code=f"PAKN.MORE.{n:03d}")
    auth.login(march.supervisor)
    first = client.get("/dashboard/overdue").get_data(as_text=True)
    assert "29 hồ sơ" in text_of(first) and "Trang 1 / 2" in first
    second = client.get("/dashboard/overdue?page=2").get_data(as_text=True)
    assert len(re.findall(r'href="/staff/cases/', second)) == 9


def test_a_lead_lists_only_their_agencys_cases(client, auth, march, frozen_now):
    auth.login(march.lead)
    html = client.get(f"/dashboard/overdue?agency={march.health.id}").get_data(as_text=True)
    assert re.findall(r'href="/staff/cases/(PAKN\.TEST\.\w+)"', html) == ["PAKN.TEST.A4"]
    html = client.get("/dashboard/cases?status=open").get_data(as_text=True)
    codes = set(re.findall(r'href="/staff/cases/(PAKN\.TEST\.\w+)"', html))
    assert codes == {"PAKN.TEST.A3", "PAKN.TEST.A4", "PAKN.TEST.A5", "PAKN.TEST.A6", "PAKN.TEST.A8", "PAKN.TEST.A9"}


def test_the_case_list_explains_a_filter_it_cannot_use(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    html = client.get("/dashboard/cases?received_from=2026-02-31").get_data(as_text=True)
    assert "Ngày “2026-02-31” không hợp lệ, đã bỏ qua bộ lọc này." in unescape(html)


# The six-monthly report ----------------------------------------------------------------


def test_the_six_monthly_report_lists_the_rules_amended_or_proposed(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    html = client.get("/dashboard/report?year=2026&half=1").get_data(as_text=True)
    page = text_of(html)
    assert "6 tháng đầu năm 2026" in page and "Kỳ báo cáo: 01/01/2026 – 30/06/2026" in page
    assert "PAKN.TEST.A2" in page and "PAKN.TEST.A7" in page and "PAKN.TEST.A1" not in page
    assert "Sửa đổi, bãi bỏ quy định" in page and "Kiến nghị cơ quan có thẩm quyền" in page
    assert "Tiếp nhận trong kỳ 15" in page  # March's 13 + a7 (February) + a9 (1 April)
    assert "Sở Y tế</th>" in html  # the by-agency table for the whole city


def test_the_report_for_one_agency_and_a_bad_half(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    page = text_of(client.get(f"/dashboard/report?year=2026&half=1&agency={march.health.id}").get_data(as_text=True))
    assert "Tiếp nhận trong kỳ 4" in page and "PAKN.TEST.A2" not in page
    page = text_of(client.get("/dashboard/report?year=2026&half=3").get_data(as_text=True))
    assert "Năm hoặc kỳ báo cáo không hợp lệ" in page and "01/01/2026 – 30/06/2026" in page
    page = text_of(client.get("/dashboard/report?year=2025&half=2").get_data(as_text=True))
    assert "6 tháng cuối năm 2025" in page and "Tiếp nhận trong kỳ 0" in page


# Who may look --------------------------------------------------------------------------

PAGES = ["/dashboard/", "/dashboard/cases", "/dashboard/overdue", "/dashboard/due-soon", "/dashboard/report",
         "/dashboard/export/overdue.csv", "/dashboard/export/agencies.xlsx"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["officer", "citizen"])
def test_officers_and_citizens_are_refused(client, auth, make, role):
    auth.login(make.user(role))
    for path in PAGES:
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize("role", ["supervisor", "lead", "desk", "admin"])
def test_supervisors_leads_desk_and_admins_get_in(client, auth, make, role):
    auth.login(make.user(role))
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    assert "Theo dõi, báo cáo" in client.get("/dashboard/").get_data(as_text=True)


def test_the_navigation_shows_the_dashboard_only_to_those_who_may_open_it(client, auth, make):
    auth.login(make.user("officer"))
    assert "/dashboard/" not in client.get("/staff/").get_data(as_text=True)
