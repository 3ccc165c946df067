"""The journeys of the people who use the system, end to end in a real
browser (Chromium through Playwright), against the app served on 127.0.0.1
with the demo data, CSRF on and the in-memory mailbox standing in for the
citizens' inboxes. Skipped unless Chromium is there (a failure in strict
mode), like tests/test_public_browser.py.

- A citizen on a phone, in Vietnamese, sends a report with a file; the
  staff classify, assign, ask for information, answer (with JavaScript off),
  approve and publish; the citizen adds the information and reads and rates
  the answer through the links in the mails, then asks for a review; the
  published answer is found without diacritics; the supervisor finds the
  case and exports the overdue list.
- A business on a desktop, in English, sends a recommendation.
- An admin declares a day off and an open case's deadline moves.
- The form is sent with the keyboard alone.

Every page visited is checked with axe: no serious or critical violation.
``FEEDBACK_SCREENSHOTS=1`` writes the staff pages' screenshots to
``docs/screenshots/`` (the public pages' come from tests/test_public_browser.py).
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from feedback.extensions import db

from .browser_support import PHONE, SCREENSHOTS, expect, launched_chromium, no_sideways_scroll, served_demo
from .helpers import PDF_BYTES

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
WAIT_MS = 10_000
PASSWORD_ENV = "demo"
TITLE = "Bộ phận một cửa yêu cầu nộp lại giấy tờ đã nộp khi đăng ký biến động đất đai"
CONTENT = ("Khi đăng ký biến động đất đai tại bộ phận một cửa, tôi được yêu cầu nộp lại bản sao giấy tờ "
           "đã nộp ở lần trước, làm hồ sơ kéo dài thêm hai tuần.")
ANSWER = ("Sở đã chấn chỉnh bộ phận một cửa: giấy tờ đã nộp được lưu trên hệ thống và không yêu cầu "
          "người dân nộp lại khi bổ sung hồ sơ.")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app with the demo data and cases on 127.0.0.1; mail goes to the in-memory mailbox."""
    with served_demo(tmp_path_factory.mktemp("e2e"), demo_cases=True, MAIL_BACKEND="memory") as served:
        yield served


@pytest.fixture(scope="module")
def browser(live):
    with launched_chromium() as browser:
        yield browser


class Audit:
    """axe on each page visited; serious and critical violations by URL and rule."""

    def __init__(self) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.found: list[str] = []
        self.pages = 0

    def __call__(self, page) -> None:
        started = time.monotonic()
        results = self.axe.run(page)
        self.pages += 1
        if os.environ.get("FEEDBACK_E2E_TRACE"):
            print(f"axe {page.url} {time.monotonic() - started:.1f}s", flush=True)
        path = re.sub(r"^https?://[^/]+", "", page.url)
        for violation in results.response.get("violations", []):
            if violation.get("impact") in ("serious", "critical"):
                targets = [", ".join(map(str, node.get("target", []))) for node in violation.get("nodes", [])][:5]
                self.found.append(f"{path}: {violation['id']} ({violation['impact']}) on {targets}")

    def assert_clean(self) -> None:
        found, self.found = self.found, []
        assert not found, "axe found serious or critical violations:\n" + "\n".join(found)


@pytest.fixture(scope="module")
def audit(live):
    return Audit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = SCREENSHOTS if os.environ.get("FEEDBACK_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_page(browser, viewport=DESKTOP, **options):
    context = browser.new_context(viewport=viewport, locale="vi-VN", **options)
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    return context.new_page()


def signed_in(browser, base: str, email: str, **options):
    from feedback.demo import DEMO_PASSWORD

    page = new_page(browser, **options)
    page.goto(f"{base}/auth/login")
    page.get_by_label("Thư điện tử").fill(email)
    page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()
    assert "/auth/login" not in page.url, page.locator("main").inner_text()
    return page


def mailed_link(app, template: str, fragment: str, to: str) -> str:
    """The link containing ``fragment`` in the last mail of ``template`` to ``to``, waiting for it."""
    from feedback.mail import memory_mailbox

    from .pages import links

    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        mails = [m for m in memory_mailbox(app) if m.template == template and to in str(getattr(m, "to", ""))]
        found = [link for m in mails[-1:] for link in links(m.text) if fragment in link]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no {template} mail with {fragment} to {to}"
        time.sleep(0.1)


def act(page, form_id: str, button: str) -> None:
    """Press a case action's button and wait for the case page to come back."""
    with page.expect_navigation():
        page.locator(f"#{form_id}").get_by_role("button", name=button).click()
    expect(page.locator("p.error[role=alert]")).to_have_count(0)


def open_case(page, base: str, list_path: str, code: str) -> None:
    """From a staff list, follow the case's code in its row."""
    page.goto(f"{base}{list_path}")
    page.get_by_role("link", name=code, exact=True).first.click()
    page.wait_for_url(re.compile(r"/staff/cases/"))


def answer_due(page) -> str:
    """The answer deadline on a staff case page."""
    term = page.locator("dt", has_text=re.compile("^Hạn trả lời$"))
    return term.locator("xpath=following-sibling::dd[1]").inner_text()


# 1, 3, 5: the citizen's report from the phone to the published answer ----------------------------

def test_a_report_from_a_phone_to_the_published_answer_and_a_review(live, browser, audit, shots, tmp_path):
    app, base = live
    email = "minh.tran@example.vn"

    # The citizen, on a phone, in Vietnamese.
    citizen = new_page(browser, PHONE, device_scale_factor=2)
    citizen.goto(f"{base}/submit")
    audit(citizen)
    citizen.get_by_role("button", name=re.compile("Không, đây là phản ánh")).click()
    citizen.wait_for_url(re.compile(r"triage=scope"))
    audit(citizen)
    citizen.get_by_label("Họ và tên").fill("Trần Văn Minh")
    citizen.get_by_label("Địa chỉ").fill("12 Lạch Tray, phường Ngô Quyền, Hải Phòng")
    citizen.get_by_label("Số điện thoại").fill("0987 654 321")
    citizen.get_by_label("Thư điện tử").fill(email)
    citizen.get_by_label("Phản ánh", exact=True).check()
    citizen.get_by_label("Lĩnh vực").select_option(label="Đất đai")
    citizen.get_by_label("Tiêu đề").fill(TITLE)
    citizen.get_by_role("textbox", name="Nội dung", exact=True).fill(CONTENT)
    assert no_sideways_scroll(citizen)
    citizen.get_by_role("button", name="Tiếp tục").click()
    expect(citizen.get_by_role("heading", name="Kiểm tra và gửi")).to_be_visible()
    audit(citizen)
    document = tmp_path / "Giấy biên nhận.pdf"
    document.write_bytes(PDF_BYTES)
    citizen.get_by_label("Tài liệu kèm theo").set_input_files(str(document))
    citizen.get_by_label(re.compile("Tôi đồng ý")).check()
    citizen.get_by_role("button", name="Gửi phản ánh, kiến nghị").click()
    citizen.wait_for_url(re.compile(r"/submit/receipt$"))
    audit(citizen)
    code = citizen.locator("#case-code").inner_text()
    assert re.fullmatch(r"PAKN\.\d{8}\.\d{4}", code)
    private_link = citizen.locator("#private-link").get_attribute("href")
    citizen.goto(private_link)
    expect(citizen.locator("h1")).to_contain_text(code)
    expect(citizen.get_by_role("link", name="Giấy biên nhận.pdf")).to_be_visible()
    audit(citizen)
    assert no_sideways_scroll(citizen)

    # The desk classifies (an explicit choice) and assigns, on a desktop.
    desk = signed_in(browser, base, "desk@demo.haiphong.vn")
    open_case(desk, base, "/staff/desk", code)
    audit(desk)
    assert desk.get_by_label("Phân loại", exact=True).input_value() == ""  # nothing chosen for the desk
    desk.get_by_label("Phân loại", exact=True).select_option("within_competence")
    desk.get_by_label("Cơ quan xử lý").select_option(label="Sở Nông nghiệp và Môi trường")
    act(desk, "act-assign", "Phân loại và chuyển xử lý")
    expect(desk.get_by_text("Thuộc thẩm quyền").first).to_be_visible()

    # The officer accepts and asks for information.
    officer = signed_in(browser, base, "officer@demo.haiphong.vn")
    open_case(officer, base, "/staff/", code)
    audit(officer)
    act(officer, "act-accept", "Nhận xử lý")
    officer.get_by_label("Thông tin cần bổ sung (gửi người dân)").fill(
        "Đề nghị gửi bản chụp giấy biên nhận hồ sơ lần trước của bộ phận một cửa.")
    act(officer, "act-request_info", "Đề nghị bổ sung thông tin")
    audit(officer)

    # The citizen adds it through the link in the request mail.
    citizen.goto(mailed_link(app, "info_requested", "/info/", email))
    expect(citizen.get_by_role("heading", name="Cơ quan xử lý đề nghị bạn bổ sung thông tin")).to_be_visible()
    audit(citizen)
    citizen.get_by_label("Thông tin bổ sung").fill("Tôi gửi kèm bản chụp giấy biên nhận hồ sơ lần trước.")
    receipt = tmp_path / "bien-nhan-lan-truoc.png"
    receipt.write_bytes(_png())
    citizen.get_by_label(re.compile("^Tài liệu bổ sung")).set_input_files(str(receipt))
    citizen.get_by_role("button", name="Gửi thông tin bổ sung").click()
    citizen.wait_for_load_state()
    audit(citizen)

    # The officer answers with JavaScript off.
    officer_nojs = signed_in(browser, base, "officer@demo.haiphong.vn", java_script_enabled=False)
    open_case(officer_nojs, base, "/staff/", code)
    expect(officer_nojs.get_by_role("link", name="bien-nhan-lan-truoc.png")).to_be_visible()
    officer_nojs.get_by_label(re.compile("^Kết quả xử lý")).select_option(index=1)
    officer_nojs.get_by_label(re.compile("^Nội dung trả lời")).fill(ANSWER)
    act(officer_nojs, "act-answer", "Trả lời")
    expect(officer_nojs.get_by_role("heading", name="Dự thảo trả lời")).to_be_visible()
    officer_nojs.context.close()  # axe needs JavaScript: the same page is checked with it below

    # The lead of the agency (its approval switch is on) approves.
    lead = signed_in(browser, base, "lead@demo.haiphong.vn")
    open_case(lead, base, "/staff/", code)
    audit(lead)
    act(lead, "act-approve", "Phê duyệt và gửi trả lời")
    expect(lead.get_by_role("heading", name="Trả lời", exact=True)).to_be_visible()

    # The desk publishes: whatever public fields the form has, in plain words.
    desk.reload()
    publish = desk.locator("#act-publish")
    for name, value in (("public_title", "Yêu cầu nộp lại giấy tờ đã nộp khi đăng ký biến động đất đai"),
                        ("public_content", "Người dân phản ánh bộ phận một cửa yêu cầu nộp lại giấy tờ đã nộp."),
                        ("public_answer", ANSWER)):
        field = publish.locator(f"[name={name}]")
        if field.count():
            field.fill(value)
    for box in publish.locator("input[type=checkbox]").all():
        box.check()
    act(desk, "act-publish", "Công khai kết quả trả lời")
    audit(desk)

    # Anyone finds it on the published answers page, typing without diacritics.
    visitor = new_page(browser)
    visitor.goto(f"{base}/published")
    visitor.get_by_label("Từ khoá").fill("nop lai giay to bien dong dat dai")
    visitor.get_by_role("button", name="Tìm").click()
    expect(visitor.get_by_text("Yêu cầu nộp lại giấy tờ đã nộp").first).to_be_visible()
    audit(visitor)
    visitor.context.close()

    # The citizen reads the answer through the answer mail, rates it low and asks for a review.
    citizen.goto(mailed_link(app, "answered", "/rate/", email))
    expect(citizen.get_by_text(ANSWER[:40]).first).to_be_visible()
    audit(citizen)
    citizen.get_by_label("Rất không hài lòng").check()
    citizen.get_by_label("Chưa được giải quyết").check()
    citizen.get_by_label("Ý kiến thêm (không bắt buộc)").fill("Tôi vẫn phải nộp lại giấy tờ ở lần bổ sung sau.")
    citizen.get_by_role("button", name="Gửi đánh giá").click()
    expect(citizen.get_by_text(re.compile("Bạn đã đánh giá: Rất không hài lòng"))).to_be_visible()
    audit(citizen)
    citizen.get_by_label("Lý do").fill("Câu trả lời chưa nói khi nào việc yêu cầu nộp lại chấm dứt.")
    citizen.get_by_role("button", name="Gửi đề nghị xem xét lại").click()
    expect(citizen.get_by_text("Đề nghị xem xét lại của bạn đang được giải quyết.")).to_be_visible()
    audit(citizen)
    citizen.context.close()

    # The supervisor finds the case on the dashboard, the overdue list and exports it.
    supervisor = signed_in(browser, base, "supervisor@demo.haiphong.vn")
    supervisor.goto(f"{base}/dashboard/")
    audit(supervisor)
    supervisor.get_by_role("link", name="Tra cứu hồ sơ").click()
    supervisor.get_by_label("Cơ quan").select_option(label="Sở Nông nghiệp và Môi trường")
    supervisor.get_by_role("button", name=re.compile("^Lọc|^Xem|^Tìm")).first.click()
    expect(supervisor.get_by_text(code).first).to_be_visible()
    audit(supervisor)
    supervisor.get_by_role("link", name="Quá hạn", exact=True).click()
    supervisor.wait_for_url(re.compile(r"/dashboard/overdue"))
    audit(supervisor)
    with supervisor.expect_download() as download:
        supervisor.get_by_role("link", name="Excel (.xlsx)").click()
    saved = tmp_path / "overdue.xlsx"
    download.value.save_as(saved)
    supervisor.context.close()
    _assert_vietnamese_in_the_workbook(saved)

    desk.context.close()
    officer.context.close()
    lead.context.close()
    audit.assert_clean()


def _assert_vietnamese_in_the_workbook(path: Path) -> None:
    from openpyxl import load_workbook

    sheet = load_workbook(path, read_only=True).worksheets[0]
    text = " ".join(str(cell) for row in sheet.iter_rows(values_only=True) for cell in row if cell is not None)
    assert "Sở Nông nghiệp và Môi trường" in text, text[:500]


def _png() -> bytes:
    """A real 2×2 PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# 2: a business, on a desktop, in English -----------------------------------------------------------

def test_a_business_sends_a_recommendation_in_english(live, browser, audit):
    _app, base = live
    page = new_page(browser)
    page.goto(f"{base}/submit")
    page.get_by_role("link", name="English").click()
    page.get_by_role("button", name=re.compile("^No, this is feedback")).click()
    page.wait_for_url(re.compile(r"triage=scope"))
    audit(page)
    page.get_by_label("Business or organization", exact=True).check()
    page.get_by_label("Business or organization name").fill("Công ty TNHH Cảng biển Đình Vũ")
    page.get_by_label("Tax code").fill("0201234567")
    page.get_by_label("Representative").fill("Vũ Thị Lan")
    page.get_by_label("Address").fill("Khu kinh tế Đình Vũ, Hải Phòng")
    page.get_by_label("Phone number").fill("0225 3842 123")
    page.get_by_label("E-mail").fill("phaply@dinhvu.example.vn")
    page.get_by_label("Recommendation", exact=True).check()
    field = page.get_by_label("Field")  # category names in English where the form gives them
    field.select_option(label=next(name for name in field.locator("option").all_inner_texts()
                                   if name in ("Business registration", "Đăng ký kinh doanh")))
    page.get_by_label("Title").fill("Cho phép nộp bản điện tử báo cáo thay đổi người đại diện")
    page.get_by_role("textbox", name="Content", exact=True).fill(
        "Đề nghị cho phép doanh nghiệp nộp bản điện tử có chữ ký số thay cho bản giấy khi thay đổi người đại diện.")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check and submit")).to_be_visible()
    expect(page.get_by_text("0201234567")).to_be_visible()
    audit(page)
    page.get_by_label(re.compile("I agree")).check()
    page.get_by_role("button", name="Submit feedback").click()
    page.wait_for_url(re.compile(r"/submit/receipt$"))
    assert re.fullmatch(r"PAKN\.\d{8}\.\d{4}", page.locator("#case-code").inner_text())
    assert page.locator("html").get_attribute("lang") == "en"
    audit(page)
    page.context.close()
    audit.assert_clean()


# 6: the form with the keyboard alone ----------------------------------------------------------------

def tab_to(page, locator, limit: int = 80) -> None:
    """Press Tab until ``locator`` has the focus (the person's eyes finding it)."""
    for _ in range(limit):
        if locator.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {locator}")


def test_the_form_is_sent_with_the_keyboard_alone(live, browser, audit):
    _app, base = live
    page = new_page(browser)
    page.goto(f"{base}/submit")
    tab_to(page, page.get_by_role("button", name=re.compile("Không, đây là phản ánh")))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"triage=scope"))
    for label, text in (("Họ và tên", "Lê Thị Thu"), ("Địa chỉ", "8 Điện Biên Phủ, phường Hồng Bàng, Hải Phòng"),
                        ("Số điện thoại", "0934 111 222"), ("Thư điện tử", "thu.le@example.vn")):
        tab_to(page, page.get_by_label(label))
        page.keyboard.type(text)
    tab_to(page, page.get_by_label("Phản ánh", exact=True))
    page.keyboard.press("Space")
    category = page.get_by_label("Lĩnh vực")
    tab_to(page, category)
    for _ in range(20):
        if category.evaluate("select => select.selectedOptions[0].text") == "Hộ tịch":
            break
        page.keyboard.press("ArrowDown")
    tab_to(page, page.get_by_label("Tiêu đề"))
    page.keyboard.type("Trích lục hộ tịch cấp lại phải chờ quá lâu")
    tab_to(page, page.get_by_role("textbox", name="Nội dung", exact=True))
    page.keyboard.type("Tôi xin cấp bản sao trích lục khai sinh từ ba tuần trước nhưng vẫn chưa nhận được kết quả.")
    tab_to(page, page.get_by_role("button", name="Tiếp tục"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Kiểm tra và gửi")).to_be_visible()
    expect(page.get_by_text("Hộ tịch").first).to_be_visible()
    tab_to(page, page.get_by_label(re.compile("Tôi đồng ý")))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Gửi phản ánh, kiến nghị"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/submit/receipt$"))
    assert re.fullmatch(r"PAKN\.\d{8}\.\d{4}", page.locator("#case-code").inner_text())
    audit(page)
    page.context.close()
    audit.assert_clean()


# 8: screenshots of the staff pages, phone and desktop -----------------------------------------------

def test_screenshots_of_the_staff_pages(live, browser, audit, shots):
    _app, base = live
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        officer = signed_in(browser, base, "officer@demo.haiphong.vn", viewport=viewport, device_scale_factor=2)
        officer.goto(f"{base}/staff/")
        assert no_sideways_scroll(officer)
        officer.screenshot(path=str(shots / f"staff-inbox-{name}.png"))
        officer.locator("table.cards tbody tr td.code a").first.click()
        officer.wait_for_url(re.compile(r"/staff/cases/"))
        assert no_sideways_scroll(officer)
        officer.screenshot(path=str(shots / f"staff-case-{name}.png"))
        audit(officer)
        officer.context.close()
        supervisor = signed_in(browser, base, "supervisor@demo.haiphong.vn", viewport=viewport, device_scale_factor=2)
        supervisor.goto(f"{base}/dashboard/")
        assert no_sideways_scroll(supervisor)
        supervisor.screenshot(path=str(shots / f"dashboard-{name}.png"))
        if name == "phone":
            audit(supervisor)  # the charts scroll sideways there
        assert_readable_charts(supervisor)
        supervisor.context.close()
    for kind in ("staff-inbox", "staff-case", "dashboard"):
        for name in ("phone", "desktop"):
            assert (shots / f"{kind}-{name}.png").stat().st_size > 10_000
    audit.assert_clean()


def contrast(one: str, two: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(one), luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def assert_readable_charts(page) -> None:
    """Chart text reaches 4.5:1 on white; a bar reaches 3:1 or has a dark outline."""
    texts = page.evaluate("[...document.querySelectorAll('svg.chart text')]"
                          ".map(t => t.getAttribute('fill') || '#000000')")
    bars = page.evaluate("""[...document.querySelectorAll('svg.chart rect')]
        .map(r => [r.getAttribute('fill') || '', r.getAttribute('stroke') || ''])""")
    assert texts and bars
    faint = [fill for fill in texts if fill.startswith("#") and contrast(fill, "#ffffff") < 4.5]
    faint += [fill for fill, stroke in bars if re.fullmatch(r"#[0-9a-fA-F]{6}", fill) and fill.lower() != "#ffffff"
              and contrast(fill, "#ffffff") < 3 and not (re.fullmatch(r"#[0-9a-fA-F]{6}", stroke)
                                                          and contrast(stroke, "#ffffff") >= 3)]
    assert not faint, f"chart colours below contrast on white: {sorted(set(faint))}"


# 4: a day off moves open deadlines (last: it changes the calendar) --------------------------------

def test_an_admin_declares_a_day_off_and_an_open_deadline_moves(live, browser, audit):
    app, base = live
    from sqlalchemy import select

    from feedback.deadlines import load_calendar
    from feedback.models import Case, utcnow

    with app.app_context():
        calendar = load_calendar()
        code, due = db.session.execute(
            select(Case.code, Case.answer_due).where(Case.status == "in_progress").order_by(Case.answer_due.desc())
        ).first()
        day = calendar.next_working_day(calendar.effective_date(utcnow()))
        assert calendar.effective_date(due) > day, "the chosen case's deadline must be after the new day off"

    admin = signed_in(browser, base, "admin@demo.haiphong.vn")
    admin.goto(f"{base}/staff/cases/{code}")
    before = answer_due(admin)
    admin.goto(f"{base}/admin/calendar")
    audit(admin)
    admin.get_by_label(re.compile(r"^Ngày\b")).fill(day.isoformat())
    admin.get_by_label(re.compile(r"^Ghi chú")).fill("Nghỉ theo thông báo của Chính phủ")
    admin.get_by_role("button", name="Xem trước").click()
    expect(admin.get_by_role("heading", name=re.compile("Lưu điều chỉnh ngày"))).to_be_visible()
    expect(admin.get_by_role("cell", name=code)).to_be_visible()
    audit(admin)
    admin.get_by_role("button", name="Xác nhận lưu").click()
    expect(admin.get_by_text("Đã lưu điều chỉnh lịch làm việc.")).to_be_visible()
    audit(admin)
    admin.goto(f"{base}/staff/cases/{code}")
    after = answer_due(admin)
    assert after != before, before
    audit(admin)
    admin.context.close()
    audit.assert_clean()
