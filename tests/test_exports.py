"""Exports: CSV and XLSX of the dashboard's lists, scoped, streamed, without
senders' contact details unless the role allows them.

Uses the March data set of test_dashboard (hand-counted there).
"""
from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from feedback import access
from feedback.dashboard import exports
from feedback.extensions import db
from feedback.models import AuditLog, Role

from .test_dashboard import MARCH_ARGS, build_march, utc

CONTACTS = ("0912345678", "an.nguyen@example.vn", "12 Lạch Tray, Ngô Quyền, Hải Phòng", "Nguyễn Văn An")


@pytest.fixture
def march(make):
    return build_march(make)


def read_csv(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode("utf-8")), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list]:
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_overdue_csv_has_the_overdue_cases_with_vietnamese_intact(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    response = client.get("/dashboard/export/overdue.csv")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert 'filename="phan-anh-overdue-2026-03-20.csv"' in response.headers["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header[:3] == ["Mã phản ánh, kiến nghị", "Ngày tiếp nhận", "Loại"]
    assert "Số ngày làm việc quá hạn" in header
    column = {name: header.index(name) for name in header}
    # Most overdue first, as on the page; b2 is five working days late.
    assert [r[0] for r in rows] == ["PAKN.TEST.B2", "PAKN.TEST.A4", "PAKN.TEST.B3", "PAKN.TEST.C1"]
    b2 = rows[0]
    assert b2[column["Tiêu đề"]] == "Bệnh viện thu phí sai quy định"
    assert b2[column["Cơ quan xử lý"]] == "Sở Y tế" and b2[column["Trạng thái"]] == "Đang xử lý"
    assert b2[column["Hạn xử lý"]] == "13/03/2026 17:00"  # local time
    assert b2[column["Số ngày làm việc quá hạn"]] == "5"
    assert rows[1][column["Cán bộ xử lý"]] == "Trần Thị Xử Lý"


def test_the_xlsx_opens_with_openpyxl_with_the_same_rows(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    response = client.get(f"/dashboard/export/cases.xlsx?agency={march.justice.id}"
                          "&answered_from=2026-03-01&answered_to=2026-03-31")
    assert response.status_code == 200
    assert response.mimetype == exports.XLSX_MIMETYPE
    header, *rows = read_xlsx(response)
    column = {name: header.index(name) for name in header}
    # Newest received first: a3, a2, a1, then a7 (received in February).
    assert [r[0] for r in rows] == ["PAKN.TEST.A3", "PAKN.TEST.A2", "PAKN.TEST.A1", "PAKN.TEST.A7"]
    a3 = rows[0]
    assert a3[column["Ngày trả lời"]] == datetime(2026, 3, 16, 10, 0)  # 03:00 UTC, shown in local time
    assert a3[column["Đúng hạn / trễ hạn"]] == "Trễ hạn"
    assert a3[column["Số ngày sớm (-) / trễ (+)"]] == 2 and a3[column["Số ngày làm việc để trả lời"]] == 12
    assert a3[column["Kết quả"]] == "Không chấp nhận"
    assert a3[column["Thủ tục / văn bản"]] == "QĐ-15/2025 — Quyết định 15/2025/QĐ-UBND về phí, lệ phí"
    assert a3[column["Tiêu đề"]] == "Phản ánh a3 về thủ tục đất đai"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_supervisor_export_has_no_contact_details_even_when_asked(client, auth, march, frozen_now, fmt):
    auth.login(march.supervisor)
    for query in ("", "?contacts=1"):
        response = client.get(f"/dashboard/export/cases.{fmt}{query}")
        rows = read_csv(response) if fmt == "csv" else read_xlsx(response)
        assert len(rows) == 16  # header + every case
        flat = " ".join(str(v) for row in rows for v in row)
        assert not any(value in flat for value in CONTACTS)
        assert "Điện thoại" not in rows[0] and "Thư điện tử" not in rows[0]


def test_the_desk_gets_contact_details_only_when_asking(client, auth, march, frozen_now):
    auth.login(march.desk)
    plain = read_csv(client.get("/dashboard/export/overdue.csv"))
    assert "Điện thoại" not in plain[0] and "0912345678" not in str(plain)
    header, *rows = read_csv(client.get("/dashboard/export/overdue.csv?contacts=1"))
    assert header[-6:] == ["Người gửi", "Điện thoại", "Thư điện tử", "Địa chỉ", "Số định danh cá nhân", "Mã số thuế"]
    assert rows[0][-6:-2] == [
        "Nguyễn Văn An", "0912345678", "an.nguyen@example.vn", "12 Lạch Tray, Ngô Quyền, Hải Phòng",
    ]


def test_the_contact_rule_is_defined_once_in_the_access_layer():
    assert not hasattr(exports, "CONTACT_EXPORT_ROLES")
    assert {Role.desk, Role.admin} == access.CONTACTS_EVERYWHERE


def test_exports_are_audited_with_whether_they_carried_contacts(client, auth, march, frozen_now):
    auth.login(march.admin)
    client.get("/dashboard/export/due-soon.csv?contacts=1").get_data()
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "export.contacts")).scalar_one()
    assert audit.user_id == march.admin.id
    assert audit.detail["list"] == "due-soon" and audit.detail["contacts"] is True
    assert audit.detail["rows_with_contacts"] >= 1


def test_a_lead_exports_only_their_agencys_cases(client, auth, march, frozen_now):
    auth.login(march.lead)
    _header, *rows = read_csv(client.get(f"/dashboard/export/cases.csv?agency={march.health.id}"))
    assert sorted(r[0] for r in rows) == [f"PAKN.TEST.A{n}" for n in range(1, 10)]
    _header, *rows = read_csv(client.get("/dashboard/export/overdue.csv"))
    assert [r[0] for r in rows] == ["PAKN.TEST.A4"]
    _header, *rows = read_csv(client.get(f"/dashboard/export/agencies.csv?{MARCH_ARGS}"))
    assert [r[1] for r in rows] == ["Sở Tư pháp"]


def test_the_by_agency_export_has_the_tables_figures(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    header, *rows = read_xlsx(client.get(f"/dashboard/export/agencies.xlsx?{MARCH_ARGS}"))
    assert header[:3] == ["Mã cơ quan", "Cơ quan", "Tiếp nhận"]
    by_code = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert list(by_code) == ["SO-TP", "SO-YT", "VP-UBND", "SO-XD"]  # worst on-time first
    justice = by_code["SO-TP"]
    assert justice["Cơ quan"] == "Sở Tư pháp"
    assert (justice["Tiếp nhận"], justice["Đang xử lý"], justice["Quá hạn"], justice["Sắp đến hạn"]) == (7, 6, 1, 1)
    assert (justice["Đã trả lời"], justice["Trả lời đúng hạn"], justice["Trả lời trễ hạn"]) == (4, 3, 1)
    assert justice["Tỷ lệ đúng hạn (%)"] == 75.0 and justice["Số ngày làm việc trả lời (trung vị)"] == 8.0
    assert justice["Lượt đánh giá"] == 3 and justice["Tỷ lệ hài lòng (%)"] == 66.7
    assert justice["Đề nghị xem xét lại"] == 1
    assert by_code["SO-XD"]["Tỷ lệ đúng hạn (%)"] is None


def test_a_citizens_text_never_becomes_a_spreadsheet_formula(client, auth, make, march, frozen_now):
    make.case(agency=march.health, status="in_progress", received_at=utc(3, 2), next_due=utc(3, 3, 10),
              code="PAKN.TEST.F1", title='=HYPERLINK("http://evil.example","Bấm vào đây")')
    auth.login(march.supervisor)
    rows = read_csv(client.get("/dashboard/export/overdue.csv"))
    assert [r[3] for r in rows if r[0] == "PAKN.TEST.F1"] == ["'=HYPERLINK(\"http://evil.example\",\"Bấm vào đây\")"]
    workbook = load_workbook(io.BytesIO(client.get("/dashboard/export/overdue.xlsx").get_data()))
    cell = next(row[3] for row in workbook.active.iter_rows() if row[0].value == "PAKN.TEST.F1")
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


def test_a_large_export_is_read_in_chunks_and_sent_in_pieces(client, auth, make, march, frozen_now, monkeypatch):
    """The rows go out while later ones are still being read: more than one
    body piece, and the query asks for chunked fetching (yield_per)."""
    category = march.cases["b2"].category
    rows = [dict(code=f"PAKN.BULK.{n:05d}", sender_name="Lê Thị Bình", sender_address="Kiến An",
                 sender_phone="0987654321", title=f"Đường ngập nước số {n}", content="Nội dung",
                 category_id=category.id, agency_id=march.health.id, status="closed",
                 received_at=utc(3, 2)) for n in range(1500)]
    from feedback.models import Case
    db.session.execute(Case.__table__.insert(), rows)
    db.session.commit()
    monkeypatch.setattr(exports, "CHUNK_ROWS", 200)
    monkeypatch.setattr(exports, "CSV_FLUSH_BYTES", 8 * 1024)
    chunked = []
    execute = db.session.execute

    def spy(statement, *args, **kwargs):
        chunked.append(statement.get_execution_options().get("yield_per"))
        return execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", spy)
    auth.login(march.supervisor)
    response = client.get("/dashboard/export/cases.csv?received_from=2026-03-02&received_to=2026-03-02",
                          buffered=False)
    pieces = list(response.response)
    response.close()
    assert len(pieces) > 5
    text = b"".join(pieces).decode("utf-8-sig")
    assert text.count("Đường ngập nước số") == 1500
    assert "PAKN.BULK.01499" in text
    assert 200 in chunked  # the export's query fetched 200 rows at a time


def test_the_due_soon_export_counts_the_working_days_left(client, auth, march, frozen_now):
    auth.login(march.supervisor)
    header, *rows = read_csv(client.get("/dashboard/export/due-soon.csv"))
    left = header.index("Số ngày làm việc còn lại")
    # b4 is due today (Friday) at 17:00, a5 on Monday: the weekend does not count.
    assert [(r[0], r[left]) for r in rows] == [("PAKN.TEST.B4", "0"), ("PAKN.TEST.A5", "1")]


def test_an_unknown_list_or_format_is_not_found(client, auth, march):
    auth.login(march.supervisor)
    assert client.get("/dashboard/export/everything.csv").status_code == 404
    assert client.get("/dashboard/export/cases.pdf").status_code == 404
