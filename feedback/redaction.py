"""Anonymising a case before it is published (docs/design.md §7).

``redact`` removes what can be found automatically (the sender's own name,
address, phone, e-mail, ID and tax numbers, and anything shaped like a phone
number, e-mail address, ID or tax number); a person then checks the text, and
``find_personal_data`` refuses publication while anything is still found.
"""
from __future__ import annotations

import re

from .models import Case

MASK = "[…]"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<!\d)(?:\+84|0084|0)(?:[\s.-]?\d){8,10}(?!\d)")
CITIZEN_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
TAX_CODE = re.compile(r"(?<!\d)\d{10}(?:-\d{3})?(?!\d)")
OLD_ID = re.compile(r"(?<!\d)\d{9}(?!\d)")
PATTERNS = {"email": EMAIL, "id_number": CITIZEN_ID, "tax_code": TAX_CODE, "phone": PHONE, "id_number_9": OLD_ID}


def _sender_values(case: Case | None) -> dict[str, str]:
    if case is None:
        return {}
    values = {
        "name": case.sender_name, "address": case.sender_address, "phone": case.sender_phone,
        "email": case.sender_email, "id_number": case.sender_id_number, "tax_code": case.sender_tax_code,
        "representative": case.sender_representative,
    }
    return {k: v.strip() for k, v in values.items() if v and len(v.strip()) >= 3}


def redact(text: str, case: Case | None = None) -> str:
    """Replace personal data with a mask; the rest of the text is kept as typed."""
    for value in sorted(_sender_values(case).values(), key=len, reverse=True):
        text = re.sub(re.escape(value), MASK, text, flags=re.IGNORECASE)
    for pattern in PATTERNS.values():
        text = pattern.sub(MASK, text)
    return text


def find_personal_data(text: str, case: Case | None = None) -> list[str]:
    """Names of the kinds of personal data still present in ``text``."""
    found = [kind for kind, value in _sender_values(case).items() if value.lower() in text.lower()]
    found += [kind for kind, pattern in PATTERNS.items() if pattern.search(text) and kind not in found]
    return sorted({k.replace("_9", "") for k in found})


def mask_email(email: str) -> str:
    """``an.nguyen@example.vn`` → ``an•••@example.vn``: enough to recognise."""
    local, _at, domain = (email or "").partition("@")
    return f"{local[:2]}•••@{domain}" if domain else ""
