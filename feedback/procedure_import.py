"""Importing the procedure catalogue from a CSV file.

The provincial public-service portal publishes its catalogue as a
spreadsheet; admins export it as CSV (UTF-8, with or without BOM) with the
columns ``code, title, category, agency, legal_document, link`` and import
it here or with ``flask procedures import``.  Every import is first a dry
run: :func:`import_procedures` reports what it would add, change or refuse
(each refused row by its row number, the header being row 1); the same file
applied adds and changes the accepted rows and records one audit row.  A
procedure is found by its code, so applying a file twice changes nothing
the second time.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .audit import record_audit
from .extensions import db
from .models import Agency, Category, Procedure, User
from .text import fold

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
COLUMNS = ("code", "title", "category", "agency", "legal_document", "link")
# Header spellings accepted for each column (compared folded, without spaces).
HEADER_ALIASES = {
    "code": "code", "ma": "code", "mathutuc": "code",
    "title": "title", "ten": "title", "tenthutuc": "title",
    "category": "category", "linhvuc": "category",
    "agency": "agency", "owningagency": "agency", "owning_agency": "agency", "coquan": "agency",
    "coquanthuchien": "agency",
    "legaldocument": "legal_document", "legal_document": "legal_document", "canphaply": "legal_document",
    "vanban": "legal_document",
    "link": "link", "url": "link", "duongdan": "link",
}
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
LINK_PATTERN = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


class ImportRefused(Exception):
    """The whole file is unusable (not UTF-8, no header, too big)."""

    def __init__(self, message: Any):
        super().__init__(str(message))
        self.message = message


@dataclass
class ImportRow:
    """One data row: its number in the file, what it would do, and why not."""

    number: int
    code: str
    outcome: str = "same"  # add | change | same | refused
    errors: list[Any] = field(default_factory=list)
    changes: dict[str, list[Any]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    rows: list[ImportRow]
    digest: str
    applied: bool = False

    def _count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def added(self) -> int:
        return self._count("add")

    @property
    def changed(self) -> int:
        return self._count("change")

    @property
    def unchanged(self) -> int:
        return self._count("same")

    @property
    def refused(self) -> list[ImportRow]:
        return [row for row in self.rows if row.outcome == "refused"]


def file_digest(data: bytes) -> str:
    """Identifies the file a preview was made of, so the apply step can check it is the same."""
    return hashlib.sha256(data).hexdigest()


def _header_key(name: str) -> str | None:
    key = fold(name or "").replace(" ", "").replace("-", "")
    return HEADER_ALIASES.get(key) or HEADER_ALIASES.get(key.replace("_", ""))


def _read(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The data rows with their row numbers, or ImportRefused for the whole file."""
    if len(data) > MAX_BYTES:
        raise ImportRefused(_l("Tệp lớn hơn 2 MB; hãy chia thành nhiều tệp."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(_l("Tệp không phải văn bản UTF-8; khi lưu từ Excel hãy chọn “CSV UTF-8”.")) from None
    if not text.strip():
        raise ImportRefused(_l("Tệp trống."))
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise ImportRefused(_l("Không đọc được dòng tiêu đề của tệp.")) from None
    keys = [_header_key(name) for name in header]
    missing = [name for name in ("code", "title") if name not in keys]
    if missing:
        raise ImportRefused(_l("Dòng tiêu đề phải có các cột: code, title, category, agency, legal_document, "
                               "link (thiếu: %(missing)s).", missing=", ".join(missing)))
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise ImportRefused(_l("Tệp có hơn %(n)d dòng; hãy chia thành nhiều tệp.", n=MAX_ROWS))
            row = {key: value.strip() for key, value in zip(keys, values, strict=False) if key is not None}
            rows.append((reader.line_num, row))
    except csv.Error as error:
        raise ImportRefused(_l("Tệp CSV bị lỗi ở dòng %(n)d: %(error)s", n=reader.line_num, error=str(error))) \
            from None
    return rows


_Coded = TypeVar("_Coded", Category, Agency, Procedure)


def _by_code(model: type[_Coded]) -> dict[str, Any]:
    return {row.code.lower(): row for row in db.session.execute(select(model)).scalars()}


def plan_import(data: bytes) -> ImportReport:
    """Read and check the file against the catalogue; changes nothing."""
    parsed = _read(data)
    categories, agencies, procedures = _by_code(Category), _by_code(Agency), _by_code(Procedure)
    seen: dict[str, int] = {}
    rows = []
    for number, raw in parsed:
        code = raw.get("code", "")
        row = ImportRow(number=number, code=code)
        rows.append(row)
        title = raw.get("title", "")
        if not code:
            row.errors.append(_l("Thiếu mã thủ tục."))
        elif len(code) > 60 or not CODE_PATTERN.match(code):
            row.errors.append(_l("Mã “%(code)s” không hợp lệ: tối đa 60 ký tự, chỉ gồm chữ không dấu, chữ số và "
                                 ". _ / -.", code=code))
        elif code.lower() in seen:
            row.errors.append(_l("Mã “%(code)s” đã có ở dòng %(n)d của tệp.", code=code, n=seen[code.lower()]))
        else:
            seen[code.lower()] = number
        if not title:
            row.errors.append(_l("Thiếu tên thủ tục."))
        elif len(title) > 500:
            row.errors.append(_l("Tên thủ tục dài hơn 500 ký tự."))
        category = agency = None
        if raw.get("category"):
            category = categories.get(raw["category"].lower())
            if category is None:
                row.errors.append(_l("Không có lĩnh vực mã “%(code)s”.", code=raw["category"]))
        if raw.get("agency"):
            agency = agencies.get(raw["agency"].lower())
            if agency is None or not agency.active:
                row.errors.append(_l("Không có cơ quan đang hoạt động mã “%(code)s”.", code=raw["agency"]))
        legal_document, link = raw.get("legal_document", ""), raw.get("link", "")
        if len(legal_document) > 500:
            row.errors.append(_l("Văn bản pháp lý dài hơn 500 ký tự."))
        if link and (len(link) > 500 or not LINK_PATTERN.match(link)):
            row.errors.append(_l("Đường dẫn phải bắt đầu bằng http:// hoặc https:// (tối đa 500 ký tự)."))
        if row.errors:
            row.outcome = "refused"
            continue
        row.values = {"title": title, "category_id": category.id if category else None,
                      "agency_id": agency.id if agency else None, "legal_document": legal_document, "url": link}
        existing = procedures.get(code.lower())
        if existing is None:
            row.outcome = "add"
            continue
        row.code = existing.code
        row.changes = {name: [getattr(existing, name), value] for name, value in row.values.items()
                       if getattr(existing, name) != value}
        row.outcome = "change" if row.changes else "same"
    return ImportReport(rows=rows, digest=file_digest(data))


def import_procedures(data: bytes, *, dry_run: bool, filename: str = "", actor: User | None = None) -> ImportReport:
    """Plan the import and, unless ``dry_run``, add and change the accepted
    rows (refused rows are left out) and audit it. The caller commits."""
    report = plan_import(data)
    if dry_run:
        return report
    existing = {p.code.lower(): p for p in db.session.execute(
        select(Procedure).where(func.lower(Procedure.code).in_(
            [row.code.lower() for row in report.rows if row.outcome == "change"]))).scalars()}
    for row in report.rows:
        if row.outcome == "add":
            db.session.add(Procedure(code=row.code, kind="procedure", active=True,
                                     search_text=fold(f"{row.code} {row.values['title']}"), **row.values))
        elif row.outcome == "change":
            procedure = existing[row.code.lower()]
            for name, value in row.values.items():
                setattr(procedure, name, value)
            procedure.search_text = fold(f"{procedure.code} {procedure.title}")
    record_audit("procedure.import", user=actor, detail={
        "file": filename[:200], "sha256": report.digest, "added": report.added, "changed": report.changed,
        "unchanged": report.unchanged, "refused": [row.number for row in report.refused]})
    db.session.flush()
    report.applied = True
    return report
