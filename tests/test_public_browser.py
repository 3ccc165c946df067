"""The public side in a real browser (Chromium through Playwright): a citizen
fills in the form, gets the receipt and opens the private link, with and
without JavaScript. The phone-sized pages must not scroll sideways.

``FEEDBACK_SCREENSHOTS=1`` also writes the README's screenshots to
``docs/screenshots/``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from feedback.extensions import db

from .browser_support import DESKTOP, PHONE, SCREENSHOTS, expect, launched_chromium, no_sideways_scroll, served_demo
from .helpers import PDF_BYTES

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app with demo data, served on 127.0.0.1."""
    with served_demo(tmp_path_factory.mktemp("browser")) as served:
        yield served


@pytest.fixture(scope="module")
def browser(live):
    with launched_chromium() as browser:
        yield browser


def fill_in_the_form(page, base: str, title: str) -> None:
    page.goto(f"{base}/submit")
    page.get_by_role("button", name=re.compile("Không, đây là phản ánh")).click()
    page.get_by_label("Họ và tên").fill("Phạm Thị Hoa")
    page.get_by_label("Địa chỉ").fill("25 Trần Phú, phường Ngô Quyền, Hải Phòng")
    page.get_by_label("Số điện thoại").fill("0912 345 678")
    page.get_by_label("Thư điện tử").fill("hoa.pham@example.vn")
    page.get_by_label("Phản ánh", exact=True).check()
    page.get_by_label("Lĩnh vực").select_option(label="Đất đai")
    page.get_by_label("Tiêu đề").fill(title)
    page.get_by_role("textbox", name="Nội dung", exact=True).fill(
        "Tôi nộp hồ sơ đăng ký biến động đất đai tại bộ phận một cửa từ ngày 02/01 nhưng đến nay chưa có kết quả.")


def send_with_a_file(page, tmp_path: Path) -> None:
    page.get_by_role("button", name="Tiếp tục").click()
    page.wait_for_url(re.compile(r"/submit$"))
    assert page.get_by_role("heading", name="Kiểm tra và gửi").is_visible()
    document = tmp_path / "Biên nhận hồ sơ.pdf"
    document.write_bytes(PDF_BYTES)
    page.get_by_label("Tài liệu kèm theo").set_input_files(str(document))
    page.get_by_label(re.compile("Tôi đồng ý")).check()
    page.get_by_role("button", name="Gửi phản ánh, kiến nghị").click()
    page.wait_for_url(re.compile(r"/submit/receipt$"))


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_a_citizen_submits_gets_a_receipt_and_opens_the_private_link(live, browser, tmp_path, javascript):
    _app, base = live
    context = browser.new_context(viewport=PHONE, java_script_enabled=javascript, locale="vi-VN")
    page = context.new_page()
    title = f"Hồ sơ đất đai chậm trả kết quả ({'js' if javascript else 'no-js'})"
    fill_in_the_form(page, base, title)
    assert page.locator("#tax_code").is_hidden()  # business fields only for businesses
    if javascript:
        page.get_by_label("Tìm thủ tục").fill("bien dong dat")
        expect(page.locator("#procedure_id option")).to_have_count(2)
        page.get_by_label(re.compile("^Thủ tục hành chính")).select_option(index=1)
    assert no_sideways_scroll(page)
    send_with_a_file(page, tmp_path)

    code = page.locator("#case-code").inner_text()
    assert re.fullmatch(r"PAKN\.\d{8}\.\d{4}", code)
    link = page.locator("#private-link").get_attribute("href")
    assert link.startswith(f"{base}/c/")
    assert no_sideways_scroll(page)

    response = page.goto(link)
    assert response.status == 200 and response.headers["cache-control"] == "no-store"
    assert page.locator("h1").inner_text().startswith(code)
    assert page.get_by_text("Mới tiếp nhận").first.is_visible()
    assert page.get_by_role("link", name="Biên nhận hồ sơ.pdf").is_visible()
    if javascript:
        assert page.get_by_text("Đăng ký biến động quyền sử dụng đất").is_visible()
    assert no_sideways_scroll(page)
    context.close()


def test_mistakes_are_shown_next_to_their_fields(live, browser):
    _app, base = live
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    fill_in_the_form(page, base, "Tiêu đề")
    page.get_by_label("Số điện thoại").fill("12345")
    page.get_by_role("button", name="Tiếp tục").click()
    assert page.locator("#phone-err").inner_text().startswith("Số điện thoại không hợp lệ")
    assert page.get_by_role("alert").get_by_role("link", name=re.compile("Số điện thoại")).is_visible()
    context.close()


def test_screenshots_of_the_public_pages(live, browser, tmp_path):
    """Phone and desktop views of the form, receipt and private page, with no
    sideways scrolling; written to docs/screenshots when asked."""
    app, base = live
    folder = SCREENSHOTS if os.environ.get("FEEDBACK_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    desktop = browser.new_context(viewport=DESKTOP, locale="vi-VN").new_page()
    desktop.goto(f"{base}/submit?triage=scope")
    desktop.screenshot(path=str(folder / "submit-desktop.png"))

    phone_context = browser.new_context(viewport=PHONE, locale="vi-VN", device_scale_factor=2)
    phone = phone_context.new_page()
    phone.goto(f"{base}/submit?triage=scope")
    assert no_sideways_scroll(phone)
    phone.screenshot(path=str(folder / "submit-phone.png"))

    fill_in_the_form(phone, base, "Hồ sơ đăng ký biến động đất đai quá hạn")
    send_with_a_file(phone, tmp_path)
    assert no_sideways_scroll(phone)
    phone.screenshot(path=str(folder / "receipt-phone.png"))
    phone.set_viewport_size(DESKTOP)  # the receipt shows its link once: same page, wider
    phone.screenshot(path=str(folder / "receipt-desktop.png"))
    phone.set_viewport_size(PHONE)

    link = phone.locator("#private-link").get_attribute("href")
    _ask_for_information(app, phone.locator("#case-code").inner_text())
    phone.goto(link)
    assert phone.get_by_text("Cơ quan xử lý đề nghị bạn bổ sung thông tin").is_visible()
    assert no_sideways_scroll(phone)
    phone.screenshot(path=str(folder / "case-phone.png"))
    desktop.goto(link)
    desktop.screenshot(path=str(folder / "case-desktop.png"), full_page=True)
    phone_context.close()
    for name in ("submit-phone", "submit-desktop", "receipt-phone", "receipt-desktop", "case-phone", "case-desktop"):
        assert (folder / f"{name}.png").stat().st_size > 10_000


def _ask_for_information(app, code: str) -> None:
    """The desk assigns the case and the officer asks for a document."""
    from sqlalchemy import select

    from feedback.models import Agency, Case, User
    from feedback.workflow import Actor, accept_case, assign_case, request_information

    with app.app_context():
        case = db.session.execute(select(Case).where(Case.code == code)).scalar_one()
        desk = db.session.execute(select(User).where(User.role == "desk")).scalars().first()
        officer = db.session.execute(select(User).where(User.email == "officer@demo.haiphong.vn")).scalar_one()
        department = db.session.execute(select(Agency).where(Agency.code == "SO-NNMT")).scalar_one()
        assign_case(case, Actor(desk), department)
        accept_case(case, Actor(officer))
        request_information(case, Actor(officer), "Đề nghị bổ sung bản sao Giấy chứng nhận quyền sử dụng đất "
                                                  "và giấy biên nhận hồ sơ của bộ phận một cửa.")
        db.session.commit()
