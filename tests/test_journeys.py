"""Staff pages on a phone in a real browser (Chromium through Playwright),
skipped unless Chromium is there, like tests/test_public_browser.py.

On a 390 px wide phone, the lists staff work from (the inbox, the desk's
queue, the dashboard's case lists) show each case as a card whose deadline
and status are on screen, with no sideways scrolling.
"""
from __future__ import annotations

import re

import pytest

from .browser_support import PHONE, launched_chromium, no_sideways_scroll, served_demo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app with the demo data and demo cases, on 127.0.0.1."""
    with served_demo(tmp_path_factory.mktemp("journeys"), demo_cases=True) as served:
        yield served


@pytest.fixture(scope="module")
def browser(live):
    with launched_chromium() as browser:
        yield browser


def phone_signed_in_as(browser, base: str, email: str):
    from feedback.demo import DEMO_PASSWORD

    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    page = context.new_page()
    page.goto(f"{base}/auth/login")
    page.get_by_label("Thư điện tử").fill(email)
    page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()
    return context, page


def on_screen(page, locator) -> bool:
    box = locator.bounding_box()
    width = page.evaluate("window.innerWidth")
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


@pytest.mark.parametrize("email, path", [
    ("officer@demo.haiphong.vn", "/staff/"),
    ("desk@demo.haiphong.vn", "/staff/desk"),
    ("supervisor@demo.haiphong.vn", "/dashboard/cases"),
], ids=["inbox", "desk-queue", "dashboard-cases"])
def test_on_a_phone_the_first_cases_deadline_and_status_are_on_screen(live, browser, email, path):
    _app, base = live
    context, page = phone_signed_in_as(browser, base, email)
    try:
        page.goto(f"{base}{path}")
        first = page.locator("table.cards tbody tr").first
        deadline = first.locator("td.deadline")
        assert re.search(r"\d{2}/\d{2}/\d{4}", deadline.inner_text())
        assert on_screen(page, deadline)
        if first.locator("td.status").count():
            assert on_screen(page, first.locator("td.status"))
        assert no_sideways_scroll(page)
    finally:
        context.close()


def test_on_a_phone_chart_text_keeps_a_readable_size(live, browser):
    _app, base = live
    context, page = phone_signed_in_as(browser, base, "supervisor@demo.haiphong.vn")
    try:
        page.goto(f"{base}/dashboard/")
        sizes = page.evaluate(
            """[...document.querySelectorAll('svg.chart text')].map(t => t.getBoundingClientRect().height)""")
        assert sizes and min(sizes) >= 10
        assert no_sideways_scroll(page)
    finally:
        context.close()
