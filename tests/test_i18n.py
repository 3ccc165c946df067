"""The English catalog: complete, and the main pages fully in English once chosen.

Vietnamese is the source language; English comes from
feedback/translations/en/LC_MESSAGES/messages.po. The first test keeps that
catalog complete as the code changes: a new ``_("...")`` without an English
entry fails here (run ``pybabel extract`` + ``pybabel update``, then translate).
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from .helpers import submitted_case

TRANSLATIONS = Path(__file__).resolve().parent.parent / "feedback" / "translations"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"

# Letters that only Vietnamese uses among the pages' languages (lower and upper case).
_VI_LETTERS = ("ăâđêôơư"
               "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")
VIETNAMESE = re.compile(f"[{_VI_LETTERS}{_VI_LETTERS.upper()}]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|\{\w+\}")


# The catalog ----------------------------------------------------------------


def _catalog():
    with EN_PO.open("rb") as f:
        return read_po(f)


def test_every_msgid_has_an_english_translation():
    catalog = _catalog()
    messages = [m for m in catalog if m.id]
    assert len(messages) > 100  # the real catalog, not an empty file

    missing, fuzzy = [], []
    for message in messages:
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if not all(s and s.strip() for s in strings):
            missing.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert not missing, f"{len(missing)} msgids without an English translation, e.g. {missing[:5]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy entries, e.g. {fuzzy[:5]}"


def test_translations_keep_their_placeholders_and_are_english():
    for message in _catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, (list, tuple)) else [message.id]
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        for source in ids:
            for text in strings:
                assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(text)), (source, text)
        for text in strings:
            # Vietnamese kept on purpose: legal document numbers and a search example.
            rest = text.replace("NĐ-CP", "").replace("thủ tục đất đai", "")
            assert not VIETNAMESE.search(rest), f"Vietnamese left in the English text: {text!r}"


# Pages in English --------------------------------------------------------------


class _VisibleText(HTMLParser):
    """Text a reader meets in <body>: text nodes and labelling attributes,
    leaving out scripts, styles and anything marked ``lang="vi"`` (the
    "Tiếng Việt" switch, the Vietnamese half of bilingual error pages)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    LABELS = {"aria-label", "placeholder", "title", "alt", "label", "value"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.in_body = False
        self.parts: list[str] = []

    def _hidden(self) -> bool:
        return any(skip for _, skip in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.in_body = True
        skip = (self.in_body and attrs.get("lang") == "vi") or tag in ("script", "style")
        if self.in_body and not skip and not self._hidden():
            for name, value in attrs.items():
                if value and (name in self.LABELS or (name.startswith("data-") and name.endswith("label"))):
                    # Form inputs echo what the user typed: only labels for buttons.
                    if name == "value" and not (tag == "input" and attrs.get("type") in ("submit", "button")):
                        continue
                    self.parts.append(value)
        if tag not in self.VOID:
            self.stack.append((tag, skip))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self.in_body and not self._hidden() and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def english_page(client, url: str, status: int = 200) -> str:
    client.get("/lang/en")
    response = client.get(url)
    assert response.status_code == status, url
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    return html


def assert_all_english(html: str, *, allowed: tuple[str, ...] = ()) -> str:
    """No Vietnamese-diacritic text left in the page, except document numbers
    and ``allowed`` (proper names and data, which are not UI strings)."""
    text = visible_text(html)
    stripped = text
    # Official document numbers keep their Vietnamese abbreviation (Decree 20/2008/NĐ-CP).
    for name in ("NĐ-CP", *allowed):
        stripped = stripped.replace(name, "")
    leftovers = [line for line in stripped.splitlines() if VIETNAMESE.search(line)]
    assert not leftovers, f"Vietnamese text left on an English page: {leftovers[:10]}"
    return text


def test_home_page_in_english(client):
    html = english_page(client, "/")
    text = assert_all_english(html)
    for english in ("Submit feedback", "Track by code", "Feedback on administrative regulations",
                    "Hai Phong City People's Committee", "Skip to main content", "Out of scope",
                    "Decree 20/2008/NĐ-CP"):
        assert english in text
    for vietnamese in ("Gửi phản ánh", "Tra cứu theo mã", "Thời hạn xử lý", "Không thuộc phạm vi"):
        assert vietnamese not in html
    assert "Tiếng Việt" in html  # the way back, in its own language


def test_login_page_in_english(client):
    html = english_page(client, "/auth/login")
    text = assert_all_english(html)
    for english in ("Sign in", "Password", "Remember me", "E-mail", "Citizens do not need an account"):
        assert english in text
    for vietnamese in ("Đăng nhập", "Mật khẩu", "Ghi nhớ đăng nhập"):
        assert vietnamese not in html


def test_submit_pages_in_english(client, make):
    agency = make.agency(code="STP", name="Department of Justice", kind="department")
    make.category(agency=agency, name="Civil status")

    html = english_page(client, "/submit")
    text = assert_all_english(html)
    assert "Is what you want to submit a complaint or a denunciation?" in text
    assert "Complaint" in text and "Denunciation" in text
    assert "Khiếu nại" not in html and "Tố cáo" not in html

    html = english_page(client, "/submit?triage=scope")
    text = assert_all_english(html, allowed=("Department of Justice", "Civil status"))
    for english in ("Submit feedback", "Steps to submit feedback", "Sender", "Individual",
                    "Business or organization", "Full name", "Phone number", "Report", "Recommendation",
                    "— Choose a field —", "Departments and agencies", "Continue", "Guidance"):
        assert english in text, english
    for vietnamese in ("Gửi phản ánh, kiến nghị", "Người gửi", "Họ và tên", "Số điện thoại", "Tiếp tục",
                       "— Chọn lĩnh vực —", "Sở, ban, ngành"):
        assert vietnamese not in html


def test_lookup_page_in_english(client, make):
    make.agency(code="VP", name="City Office", kind="city_office", is_desk=True)
    case, _token = submitted_case(make, category=make.category(name="Land"), title="Land procedure delayed")

    html = english_page(client, "/lookup")
    text = assert_all_english(html)
    assert "Track feedback" in text and "Case code" in text and "Track" in text
    assert "Tra cứu phản ánh, kiến nghị" not in html

    html = english_page(client, "/lookup?code=PAKN.20260105.9999", status=404)
    text = assert_all_english(html)
    assert "Not found" in text and "No feedback found with the code “PAKN.20260105.9999”" in text

    html = english_page(client, f"/lookup?code={case.code}")
    text = assert_all_english(html, allowed=("City Office",))
    for english in ("Status", "Received", "Date received", "Handling agency", "Progress", "Feedback received",
                    "Resend private link"):
        assert english in text, english
    for vietnamese in ("Trạng thái", "Mới tiếp nhận", "Quá trình xử lý", "Đã tiếp nhận phản ánh, kiến nghị"):
        assert vietnamese not in html


def test_error_page_in_english(client):
    html = english_page(client, "/khong-co-trang-nay", status=404)
    text = assert_all_english(html)  # the Vietnamese title is marked lang="vi" and skipped
    assert "Page not found" in text and "Back to home page" in text
    assert "Về trang chủ" not in html


def test_staff_inbox_in_english(client, make, auth):
    agency = make.agency(code="SXD", name="Department of Construction", kind="department")
    officer = make.user("officer", agency=agency, full_name="Tran Van Binh")
    category = make.category(agency=agency, name="Building permits")
    make.case(agency=agency, status="in_progress", category=category, officer_id=officer.id,
              title="Building permit delayed")
    auth.login(officer)

    html = english_page(client, "/staff/")
    text = assert_all_english(html, allowed=("Department of Construction", "Tran Van Binh", "Building permits",
                                             "Building permit delayed"))
    for english in ("Cases", "Needing action", "Filter list", "Overdue only", "Rated low", "Filter",
                    "Code", "Title", "Field", "Status", "Next deadline", "In progress", "Sign out"):
        assert english in text, english
    for vietnamese in ("Hồ sơ xử lý", "Đang cần xử lý", "Chỉ quá hạn", "Hạn tiếp theo", "Đang xử lý", "Đăng xuất"):
        assert vietnamese not in html


@pytest.mark.parametrize("url", ["/", "/auth/login", "/submit", "/lookup"])
def test_vietnamese_stays_the_default(client, url):
    html = client.get(url).get_data(as_text=True)
    assert '<html lang="vi">' in html and VIETNAMESE.search(visible_text(html))


def test_each_request_translates_its_templates_in_its_own_language(client):
    """The catalogue a rendering takes is the request's, not the previous one's."""
    assert "Track by code" in client.get("/?lang=en").get_data(as_text=True)
    assert "Tra cứu theo mã" in client.get("/?lang=vi").get_data(as_text=True)
    assert "Track by code" in client.get("/?lang=en").get_data(as_text=True)


# Names of agencies and fields ----------------------------------------------------


def test_agency_and_field_names_follow_the_page_language_where_an_english_name_was_given(client, make):
    agency = make.agency(code="SO-XD", name="Sở Xây dựng", name_en="Department of Construction")
    make.agency(code="SO-NV", name="Sở Nội vụ")  # no English name given
    category = make.category(agency=agency, name="Quy hoạch, xây dựng", name_en="Planning and construction")
    case, _token = submitted_case(make, category=category)

    form = english_page(client, "/submit?triage=scope")
    assert "Planning and construction" in form and "Department of Construction" in form
    assert "Quy hoạch, xây dựng" not in form and "Sở Xây dựng" not in form
    assert "Sở Nội vụ" in form  # the official name when there is no English one

    client.get("/lang/vi")
    form = client.get("/submit?triage=scope").get_data(as_text=True)
    assert "Quy hoạch, xây dựng" in form and "Sở Xây dựng" in form
    assert "Planning and construction" not in form and "Department of Construction" not in form


def test_staff_lists_name_the_field_in_english_on_english_pages(client, make, auth):
    agency = make.agency(code="SO-XD", name="Sở Xây dựng", name_en="Department of Construction")
    category = make.category(agency=agency, name="Quy hoạch, xây dựng", name_en="Planning and construction")
    submitted_case(make, category=category)
    auth.login(make.user("desk"))

    queue = english_page(client, "/staff/desk")
    assert "Planning and construction" in queue and "Quy hoạch, xây dựng" not in queue
