"""Security review: each test proves one privacy or security bug stays fixed."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from .helpers import published_case

SENDER = "Nguyễn Văn An"
PHONE = "0912345678"
EMAIL = "an.nguyen@example.vn"


# Open redirects ---------------------------------------------------------------

# Browsers read "/\evil.example" (and "/\t/evil.example") as "//evil.example",
# a link to another site, although urlsplit sees only a path.
OFFSITE = ["/\\evil.example", "/\\/evil.example", "/\t/evil.example", "//evil.example", "https://evil.example"]


def _stays_on_site(location: str) -> bool:
    from urllib.parse import urlsplit

    cleaned = location.replace("\\", "/").replace("\t", "").replace("\n", "").replace("\r", "")
    parts = urlsplit(cleaned)
    return not parts.scheme and not parts.netloc and cleaned.startswith("/") and not cleaned.startswith("//")


@pytest.mark.parametrize("target", OFFSITE)
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    if "\t" in target:  # a control character in a return address is refused outright
        assert response.status_code == 400
        return
    assert response.status_code == 302
    assert _stays_on_site(response.headers["Location"]), response.headers["Location"]


@pytest.mark.parametrize("target", OFFSITE)
def test_login_never_redirects_off_site(client, make, target):
    officer = make.user(role="officer")
    response = client.post("/auth/login", query_string={"next": target},
                           data={"email": officer.email, "password": make.PASSWORD})
    if "\t" in target:  # a control character in a return address is refused outright
        assert response.status_code == 400
        return
    assert response.status_code == 302
    assert _stays_on_site(response.headers["Location"]), response.headers["Location"]


def test_safe_local_next_still_works(client, make):
    officer = make.user(role="officer")
    response = client.post("/auth/login", query_string={"next": "/staff/?status=assigned"},
                           data={"email": officer.email, "password": make.PASSWORD})
    assert response.headers["Location"].endswith("/staff/?status=assigned")
    assert client.get("/lang/en?next=/published").headers["Location"].endswith("/published")


# Published answers ------------------------------------------------------------

def _answer_naming_the_sender(make):
    answer = (f"Kính gửi ông {SENDER}, số điện thoại {PHONE}, thư {EMAIL}: "
              "Sở Xây dựng đã chỉ đạo rút ngắn thời gian cấp phép.")
    return published_case(make, "Cấp phép xây dựng chậm", content="Người gửi phản ánh việc cấp phép chậm.",
                          answer=answer, sender_name=SENDER, sender_phone=PHONE, sender_email=EMAIL)


def test_published_answer_pages_never_show_the_senders_personal_data(client, make):
    case = _answer_naming_the_sender(make)
    for path in ("/published", f"/published/{case.code}"):
        page = client.get(path).get_data(as_text=True)
        assert "Sở Xây dựng đã chỉ đạo" in page or path == "/published"
        for personal in (SENDER, PHONE, EMAIL):
            assert personal not in page, (path, personal)


def test_public_api_view_never_shows_the_senders_personal_data(client, make):
    case = _answer_naming_the_sender(make)
    response = client.get(f"/api/v1/cases/{case.code}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Sở Xây dựng đã chỉ đạo" in response.get_json()["published_answer"]["answer"]
    for personal in (SENDER, PHONE, EMAIL):
        assert personal not in body and personal.encode("unicode_escape").decode() not in body


def test_publishing_does_not_make_the_sender_searchable(client, make, auth):
    """Publishing through the workflow must not index the sender's name
    (a search for a person's name would tell who sent which case)."""
    from feedback.extensions import db
    from feedback.workflow import Actor, publish_case

    case = make.case(status="responded", publish_consent=True, outcome="explained",
                     answer=f"Kính gửi ông {SENDER}: Sở đã chỉ đạo rút ngắn thời gian.",
                     answered_at=datetime(2026, 2, 2, 3, 0, tzinfo=UTC))
    desk = make.user(role="desk")
    publish_case(case, Actor(desk), "Cấp phép chậm", "Người gửi phản ánh việc cấp phép chậm.")
    db.session.commit()
    page = client.get("/published", query_string={"q": "nguyen van an"}).get_data(as_text=True)
    assert "Cấp phép chậm" not in page
    assert "Cấp phép chậm" in client.get("/published", query_string={"q": "cap phep"}).get_data(as_text=True)
