"""CSV and XLSX exports of the dashboard's lists and by-agency table, streamed.

Rows come from the database in chunks (``yield_per``: a server-side cursor on
PostgreSQL) and leave as they are written, so a hundred thousand cases cost
the same memory as a hundred. CSV is UTF-8 with a byte-order mark so Excel
shows Vietnamese correctly; XLSX is written by openpyxl's write-only
workbook, which keeps rows in a temporary file, not in memory, and is then
sent in chunks.

Contact details rule (``feedback/access.py``, the same on every channel):
the sender's name, phone, e-mail, address, ID number and tax code leave the
system only when the viewer asks for them (``contacts=1``), their role may
hold contacts at all (desk and admins: every case; officers and leads: the
cases their agency holds now), and then only in the rows the rule allows
(``access.holds_contacts_clause``); other rows carry empty contact cells.
Supervisors monitor figures and deadlines; they open one case's contacts on
its page with a reason, never in bulk. Every export with contacts is logged
as ``export.contacts`` with its filters and how many rows carried contacts.
"""
from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from flask import Response, stream_with_context
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.orm import aliased

from ..access import holds_contacts_clause, may_hold_any_contacts
from ..extensions import db
from ..labels import CASE_TYPE, OUTCOME, STATUS, local
from ..models import Agency, Case, Category, Procedure, User
from .caselists import DaysOverdue

CHUNK_ROWS = 1000
CSV_FLUSH_BYTES = 64 * 1024
BOM = "\ufeff"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"

Column = tuple[Any, Callable[[Any], Any]]  # (header, value from a result row)


def may_export_contacts(user: User) -> bool:
    """Whether to offer contact columns at all (rows are decided one by one)."""
    return may_hold_any_contacts(user)


def include_contacts(user: User, requested: bool) -> bool:
    """Contacts go out only when asked for and the role allows it; otherwise
    they are left out silently (the columns are simply absent)."""
    return bool(requested) and may_export_contacts(user)


# Cases -----------------------------------------------------------------------------

_officer = aliased(User)


def _local(value: datetime | None) -> datetime | None:
    """Spreadsheets have no time zones: local (Hải Phòng) wall time, naive."""
    return local(value).replace(tzinfo=None) if value else None


def _translated(labels: dict) -> dict:
    """Labels translated once per export: a lazy string looks the language up
    again on every use, which costs more than the rest of a row."""
    return {code: str(label) for code, label in labels.items()}


def case_columns(contacts: bool, days_overdue: DaysOverdue | None = None, days_left: bool = False) -> list[Column]:
    """The columns of a case export, in order; with ``days_overdue`` a column
    of working days past the deadline (or left before it, with ``days_left``)."""
    types, statuses, outcomes = _translated(CASE_TYPE), _translated(STATUS), _translated(OUTCOME)
    on_time = {True: str(_l("Đúng hạn")), False: str(_l("Trễ hạn")), None: ""}
    columns: list[Column] = [
        (_l("Mã phản ánh, kiến nghị"), lambda r: r.code),
        (_l("Ngày tiếp nhận"), lambda r: _local(r.received_at)),
        (_l("Loại"), lambda r: types.get(r.type, r.type)),
        (_l("Tiêu đề"), lambda r: r.title),
        (_l("Lĩnh vực"), lambda r: r.category_name),
        (_l("Thủ tục / văn bản"), lambda r: " — ".join(filter(None, (r.procedure_code, r.procedure_title)))),
        (_l("Cơ quan xử lý"), lambda r: r.agency_name),
        (_l("Cán bộ xử lý"), lambda r: r.officer_name or ""),
        (_l("Trạng thái"), lambda r: statuses.get(r.status, r.status)),
        (_l("Hạn xử lý"), lambda r: _local(r.next_due)),
    ]
    if days_overdue is not None and days_left:
        columns.append((_l("Số ngày làm việc còn lại"),
                        lambda r: None if r.next_due is None else -days_overdue(r.next_due)))
    elif days_overdue is not None:
        columns.append((_l("Số ngày làm việc quá hạn"), lambda r: days_overdue(r.next_due)))
    columns += [
        (_l("Ngày trả lời"), lambda r: _local(r.answered_at)),
        (_l("Đúng hạn / trễ hạn"), lambda r: on_time[r.answer_on_time]),
        (_l("Số ngày sớm (-) / trễ (+)"), lambda r: r.answer_lateness_days),
        (_l("Số ngày làm việc để trả lời"), lambda r: r.answer_working_days),
        (_l("Kết quả"), lambda r: outcomes.get(r.outcome, "")),
    ]
    if contacts:
        columns += [
            (_l("Người gửi"), lambda r: r.sender_name),
            (_l("Điện thoại"), lambda r: r.sender_phone),
            (_l("Thư điện tử"), lambda r: r.sender_email),
            (_l("Địa chỉ"), lambda r: r.sender_address),
            (_l("Số định danh cá nhân"), lambda r: r.sender_id_number),
            (_l("Mã số thuế"), lambda r: r.sender_tax_code),
        ]
    return columns


def contact_columns(user: User) -> list:
    """The sender columns of an export: the value where the contact rule
    lets ``user`` hold it, an empty cell elsewhere."""
    allowed = holds_contacts_clause(user)
    columns = (Case.sender_name, Case.sender_phone, Case.sender_email, Case.sender_address,
               Case.sender_id_number, Case.sender_tax_code)
    return [case((allowed, column), else_=literal("")).label(column.key) for column in columns]


def count_rows_with_contacts(filtered: Select, user: User) -> int:
    """How many of the filtered cases an export with contacts opens (for the log)."""
    opened = filtered.where(holds_contacts_clause(user)).order_by(None).subquery()
    return db.session.execute(select(func.count()).select_from(opened)).scalar_one()


def case_export_query(filtered: Select, contacts: bool, user: User | None = None) -> Select:
    """The filtered (already scoped) case query with just the exported columns:
    plain rows, no ORM objects, so nothing accumulates in the session. With
    ``contacts``, the sender's columns for ``user`` (``contact_columns``)."""
    columns = [
        Case.code, Case.received_at, Case.type, Case.title, Case.status, Case.next_due, Case.answered_at,
        Case.answer_on_time, Case.answer_lateness_days, Case.answer_working_days, Case.outcome,
        Category.name.label("category_name"), Agency.name.label("agency_name"),
        Procedure.code.label("procedure_code"), Procedure.title.label("procedure_title"),
        _officer.full_name.label("officer_name"),
    ]
    if contacts:
        if user is None:
            raise ValueError("an export with contacts needs the user it is for")
        columns += contact_columns(user)
    return (filtered.with_only_columns(*columns, maintain_column_froms=False).select_from(Case)
            .join(Category, Category.id == Case.category_id)
            .join(Agency, Agency.id == Case.agency_id)
            .outerjoin(Procedure, Procedure.id == Case.procedure_id)
            .outerjoin(_officer, _officer.id == Case.officer_id))


def case_rows(query: Select, columns: list[Column]) -> Iterator[list[Any]]:
    """Each result row as a list of cell values, fetched CHUNK_ROWS at a time."""
    result = db.session.execute(query.execution_options(yield_per=CHUNK_ROWS))
    try:
        for row in result:
            yield [value(row) for _header, value in columns]
    finally:
        result.close()


# By agency ---------------------------------------------------------------------------


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


AGENCY_COLUMNS: list[Column] = [
    (_l("Mã cơ quan"), lambda r: r["agency_code"]),
    (_l("Cơ quan"), lambda r: r["agency_name"]),
    (_l("Tiếp nhận"), lambda r: r["received"]),
    (_l("Đang xử lý"), lambda r: r["open"]),
    (_l("Quá hạn"), lambda r: r["overdue"]),
    (_l("Sắp đến hạn"), lambda r: r["due_soon"]),
    (_l("Đã trả lời"), lambda r: r["answered"]),
    (_l("Trả lời đúng hạn"), lambda r: r["on_time"]),
    (_l("Trả lời trễ hạn"), lambda r: r["late"]),
    (_l("Tỷ lệ đúng hạn (%)"), lambda r: _percent(r["on_time_rate"])),
    (_l("Số ngày làm việc trả lời (trung vị)"), lambda r: r["median_working_days_to_answer"]),
    (_l("Lượt đánh giá"), lambda r: r["ratings"]),
    (_l("Tỷ lệ hài lòng (%)"), lambda r: _percent(r["satisfaction_rate"])),
    (_l("Đề nghị xem xét lại"), lambda r: r["review_requests"]),
]


def agency_rows(rows: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    for row in rows:
        yield [value(row) for _header, value in AGENCY_COLUMNS]


# Writers ------------------------------------------------------------------------------


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # A citizen's text must never run as a spreadsheet formula.
        return "'" + value
    return value


def stream_csv(headers: list, rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM, yielded in pieces of about 64 KB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([str(h) for h in headers])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
        if buffer.tell() >= CSV_FLUSH_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _xlsx_cell(sheet, value: Any) -> Any:
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith("="):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # text, never a formula
            return cell
    return value


def stream_xlsx(headers: list, rows: Iterable[list[Any]], title: str, widths: dict[int, int] | None = None,
                ) -> Iterator[bytes]:
    """An .xlsx built row by row in write-only mode (rows spill to a temporary
    file), then sent in 64 KB pieces."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for index, width in (widths or {}).items():
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([str(h) for h in headers])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(CSV_FLUSH_BYTES):
            yield chunk


def export_response(fmt: str, filename: str, headers: list, rows: Iterable[list[Any]], title: str,
                    widths: dict[int, int] | None = None) -> Response:
    """A streamed download; the rows are produced while the response is sent."""
    if fmt == "xlsx":
        body, mimetype = stream_xlsx(headers, rows, title, widths), XLSX_MIMETYPE
    else:
        body, mimetype = stream_csv(headers, rows), "text/csv; charset=utf-8"
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"  # may hold personal data
    response.headers["X-Accel-Buffering"] = "no"  # let a reverse proxy pass chunks on
    return response
