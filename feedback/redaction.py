"""Anonymising a case before it is published (docs/design.md §7).

``redact`` removes what can be found automatically: the sender's own data in
every form it is commonly written (the name with or without diacritics, in
any case or spacing, and the given name alone; phone, ID and tax numbers with
any separators between the digits; the e-mail address, also as
"name [at] domain", and its local part; the street address), and anything
shaped like a phone number, e-mail address, ID or tax number. A person then
checks the text, and ``find_personal_data`` refuses publication while
anything is still found, naming what.

Matching works on a folded copy of the text (lower case, no diacritics,
đ → d) whose characters map back to the original, so the mask falls on the
text as typed.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from flask_babel import lazy_gettext as _l

from .models import Case

MASK = "[…]"
AT = r"\s*(?:@|\[\s*at\s*\]|\(\s*at\s*\)|\{\s*at\s*\}|\s\s*at\s\s*)\s*"
DOT = r"(?:\s*\.\s*|\s*\[\s*dot\s*\]\s*|\s*\(\s*dot\s*\)\s*|\s+dot\s+)"
DIGIT_SEPARATORS = r"[\s.\-()/]*"
EMAIL = re.compile(r"[\w.+-]+" + AT + r"[\w-]+(?:" + DOT + r"[\w-]+)+")
PHONE = re.compile(r"(?<!\d)(?:\+\s*84|0084|84|0)(?:[\s.\-()]{0,2}\d){8,10}(?!\d)")
CITIZEN_ID = re.compile(r"(?<!\d)\d(?:[\s.-]?\d){11}(?!\d)")
TAX_CODE = re.compile(r"(?<!\d)\d(?:[\s.]?\d){9}(?:\s*-\s*\d{3})?(?!\d)")
OLD_ID = re.compile(r"(?<!\d)\d(?:[\s.]?\d){8}(?!\d)")
PATTERNS = (("email", EMAIL), ("phone", PHONE), ("id_number", CITIZEN_ID), ("tax_code", TAX_CODE),
            ("id_number", OLD_ID))

# What the desk is told is still there, in the order it is told.
KINDS = {
    "name": _l("họ tên"), "representative": _l("họ tên người đại diện"), "phone": _l("số điện thoại"),
    "email": _l("thư điện tử"), "id_number": _l("số định danh cá nhân"), "tax_code": _l("mã số thuế"),
    "address": _l("địa chỉ"),
}
GIVEN_NAME_MIN = 3


def _fold_char(ch: str) -> str:
    if ch in "đĐ":
        return "d"
    return "".join(c for c in unicodedata.normalize("NFD", ch) if unicodedata.category(c) != "Mn").lower()


class Folded:
    """``text`` folded, with the original index of every folded character."""

    def __init__(self, text: str) -> None:
        self.text = text
        chars, index = [], []
        for i, ch in enumerate(text):
            for folded in _fold_char(ch):
                chars.append(folded)
                index.append(i)
        self.folded = "".join(chars)
        self.index = index

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the folded span [start, end)."""
        return self.index[start], self.index[end - 1] + 1


def _words(value: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", Folded(value).folded)


def _word_run(words: list[str]) -> str:
    """Words in order, with any spacing or punctuation between (or none)."""
    return r"(?<![a-z0-9])" + r"[\W_]*".join(re.escape(w) for w in words) + r"(?![a-z0-9])"


def _digit_run(digits: str) -> str:
    return r"(?<!\d)" + DIGIT_SEPARATORS.join(digits) + r"(?!\d)"


def _name_patterns(name: str) -> list[str]:
    words = _words(name)
    # The full name and every run ending with the given name ("Văn An",
    # "Thị Hoa"); runs without it ("Người dân") are too often plain words.
    patterns = [_word_run(words[i:]) for i in range(len(words) - 1)]
    if words and len(words[-1]) >= GIVEN_NAME_MIN:
        patterns.append(_word_run(words[-1:]))
    return patterns


def _phone_patterns(phone: str) -> list[str]:
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 8:
        return []
    national = digits[1:] if digits.startswith("0") else digits[2:] if digits.startswith("84") else digits
    return [r"(?<!\d)(?:\+\s*84|0084|84|0)?" + DIGIT_SEPARATORS + DIGIT_SEPARATORS.join(national) + r"(?!\d)"]


def _number_patterns(number: str) -> list[str]:
    digits = re.sub(r"\D", "", number)
    if len(digits) < 6:
        return []
    patterns = [_digit_run(digits)]
    if len(digits) == 13:  # a branch's tax code: the company's 10 digits alone identify it too
        patterns.append(_digit_run(digits[:10]))
    return patterns


def _email_patterns(email: str) -> list[str]:
    local, _at, domain = Folded(email.strip()).folded.partition("@")
    if not domain:
        return []
    local_run = r"[\W_]*".join(re.escape(part) for part in re.split(r"[._+-]+", local) if part)
    domain_run = DOT.join(re.escape(part) for part in domain.split("."))
    patterns = [r"(?<![\w.+-])" + local_run + AT + domain_run + r"(?![\w-])"]
    if len(re.sub(r"\W", "", local)) >= GIVEN_NAME_MIN:
        patterns.append(r"(?<![\w.+-])" + re.escape(local) + r"(?![\w-])")
    return patterns


def _address_patterns(address: str) -> list[str]:
    patterns = []
    for part in [address, address.split(",")[0]]:
        words = _words(part)
        if len(words) >= 2:
            patterns.append(_word_run(words))
    return patterns


def sender_patterns(case: Case | None) -> list[tuple[str, re.Pattern]]:
    """(kind, pattern on folded text) for the sender's own data."""
    if case is None:
        return []
    found: list[tuple[str, str]] = []
    for kind, value, make in (
        ("name", case.sender_name, _name_patterns), ("representative", case.sender_representative, _name_patterns),
        ("address", case.sender_address, _address_patterns), ("email", case.sender_email, _email_patterns),
        ("phone", case.sender_phone, _phone_patterns), ("id_number", case.sender_id_number, _number_patterns),
        ("tax_code", case.sender_tax_code, _number_patterns),
    ):
        if value and value.strip():
            found += [(kind, pattern) for pattern in make(value.strip())]
    return [(kind, re.compile(pattern)) for kind, pattern in found]


def _matches(text: str, case: Case | None) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) in ``text`` as typed, for every match."""
    folded = Folded(text)
    own = []
    for kind, pattern in sender_patterns(case):
        for match in pattern.finditer(folded.folded):
            if match.end() > match.start():
                own.append((kind, *folded.span(match.start(), match.end())))
    yield from own
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            # Where the sender's own data was found, say what it is, not what it looks like.
            if not any(start < match.end() and match.start() < end for _k, start, end in own):
                yield kind, match.start(), match.end()


def redact(text: str, case: Case | None = None) -> str:
    """Replace personal data with a mask; the rest of the text is kept as typed."""
    for _round in range(3):  # a mask can join what surrounded it; look again
        spans = sorted((start, end) for _kind, start, end in _matches(text, case))
        if not spans:
            return text
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for start, end in reversed(merged):
            text = text[:start] + MASK + text[end:]
    return text


def find_personal_data(text: str, case: Case | None = None) -> list[str]:
    """Names of the kinds of personal data still present in ``text`` (keys of :data:`KINDS`)."""
    kinds = {kind for kind, _start, _end in _matches(text, case)}
    return [kind for kind in KINDS if kind in kinds]


def describe(kinds: list[str]) -> str:
    """The kinds as the desk reads them: "họ tên, số điện thoại"."""
    return ", ".join(str(KINDS[kind]) for kind in kinds)


def publication_draft(case: Case) -> dict[str, str]:
    """What the desk's publish form starts from: the title, question and
    answer with everything found masked, for a person to check and edit."""
    return {"title": redact(case.title or "", case), "content": redact(case.content or "", case),
            "answer": redact(case.answer or "", case)}


def mask_email(email: str) -> str:
    """``an.nguyen@example.vn`` → ``an•••@example.vn``: enough to recognise."""
    local, _at, domain = (email or "").partition("@")
    return f"{local[:2]}•••@{domain}" if domain else ""
