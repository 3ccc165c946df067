"""Importing the procedure catalogue from CSV: a dry run first, then the same
file applied; applied twice, the second time changes nothing."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.models import AuditLog, Procedure

from .forms_support import post_form, submit

GOOD_AND_BAD = (
    "code,title,category,agency,legal_document,link\n"
    "1.001193,Đăng ký khai sinh,HT,SO-TP,Luật Hộ tịch 2014,https://dichvucong.gov.vn/p/1.001193\n"
    "1.004873,Cấp giấy phép xây dựng,,SO-XD,,\n"
    ",Thiếu mã,,,,\n"
    "1.001193,Trùng mã trong tệp,,,,\n"
    "2.000001,Lĩnh vực không có,KHONG-CO,,,\n"
    "2.000002,Đường dẫn sai,,,,ftp://x\n"
    "EXIST-01,Tên mới của thủ tục cũ,,,,\n"
)


@pytest.fixture
def catalogue(make):
    agency_tp, agency_xd = make.agency(code="SO-TP"), make.agency(code="SO-XD")
    make.category(agency=agency_tp, code="HT", name="Hộ tịch")
    db.session.add(Procedure(code="EXIST-01", title="Tên cũ", search_text="exist-01 ten cu"))
    db.session.commit()
    return agency_tp, agency_xd


@pytest.fixture
def admin(make, auth):
    user = make.user(role="admin")
    auth.login(user)
    return user


def snapshot() -> list[tuple]:
    db.session.expire_all()
    return [(p.code, p.title, p.category_id, p.agency_id, p.legal_document, p.url)
            for p in db.session.execute(select(Procedure).order_by(Procedure.code)).scalars()]


def upload(client, content: str | bytes, action: str, page: str | None = None):
    """Choose the file on the import page (or on the preview page) and press a button."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    html = page or client.get("/admin/procedures/import").get_data(as_text=True)
    return post_form(client, html, "/admin/procedures/import", "file",
                     file=(io.BytesIO(data), "danh-muc.csv"), action=action)


def test_a_dry_run_with_bad_rows_changes_nothing_and_names_each_bad_row(client, admin, catalogue):
    before = snapshot()
    response = upload(client, GOOD_AND_BAD, "preview")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Sẽ thêm 2, cập nhật 1, giữ nguyên 0; 4 dòng lỗi sẽ bị bỏ qua." in page
    for number, reason in ((4, "Thiếu mã thủ tục."), (5, "đã có ở dòng 2 của tệp"),
                           (6, "Không có lĩnh vực mã “KHONG-CO”."), (7, "Đường dẫn phải bắt đầu bằng http://")):
        assert f"Dòng {number}</td>" in page and reason in page
    assert snapshot() == before


def test_applying_the_previewed_file_twice_changes_nothing_the_second_time(client, admin, catalogue):
    agency_tp, _agency_xd = catalogue
    preview = upload(client, "\ufeff" + GOOD_AND_BAD, "preview").get_data(as_text=True)
    applied = upload(client, "\ufeff" + GOOD_AND_BAD, "apply", page=preview)
    assert applied.status_code == 302
    after_first = snapshot()
    assert after_first[0][:2] == ("1.001193", "Đăng ký khai sinh") and after_first[0][3] == agency_tp.id
    assert after_first[-1][:2] == ("EXIST-01", "Tên mới của thủ tục cũ")
    assert len(after_first) == 3

    preview = upload(client, "\ufeff" + GOOD_AND_BAD, "preview").get_data(as_text=True)
    assert "Sẽ thêm 0, cập nhật 0, giữ nguyên 3; 4 dòng lỗi sẽ bị bỏ qua." in preview
    upload(client, "\ufeff" + GOOD_AND_BAD, "apply", page=preview)
    assert snapshot() == after_first
    audits = db.session.execute(select(AuditLog).where(AuditLog.action == "procedure.import")).scalars().all()
    assert [(a.detail["added"], a.detail["changed"], a.detail["refused"]) for a in audits] == [
        (2, 1, [4, 5, 6, 7]), (0, 0, [4, 5, 6, 7])]


def test_apply_refuses_a_file_other_than_the_one_previewed(client, admin, catalogue):
    preview = upload(client, GOOD_AND_BAD, "preview").get_data(as_text=True)
    before = snapshot()
    response = upload(client, GOOD_AND_BAD + "9.9,Thêm sau khi xem trước,,,,\n", "apply", page=preview)
    assert response.status_code == 422 and "khác tệp vừa xem trước" in response.get_data(as_text=True)
    assert snapshot() == before


def test_a_file_that_is_not_utf8_is_refused_clearly(client, admin, catalogue):
    response = upload(client, "code,title\n1.1,Hộ tịch\n".encode("utf-16"), "preview")
    assert response.status_code == 422 and "CSV UTF-8" in response.get_data(as_text=True)


def test_a_file_without_the_columns_is_refused(client, admin):
    response = upload(client, "ma so;ten goi\n1;2\n", "preview")
    assert response.status_code == 422 and "Dòng tiêu đề phải có các cột" in response.get_data(as_text=True)


def test_the_cli_dry_run_then_import(runner, catalogue, tmp_path):
    path = tmp_path / "danh-muc.csv"
    path.write_text(GOOD_AND_BAD, encoding="utf-8")
    before = snapshot()
    dry = runner.invoke(args=["procedures", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would add 2, would change 1, unchanged 0, refused 4 (dry run" in dry.output
    assert "row 4\t" in dry.output and "row 7\t" in dry.output
    assert snapshot() == before
    first = runner.invoke(args=["procedures", "import", str(path)])
    assert "added 2, changed 1, unchanged 0, refused 4" in first.output
    second = runner.invoke(args=["procedures", "import", str(path)])
    assert "added 0, changed 0, unchanged 3, refused 4" in second.output
    assert db.session.execute(select(func.count(Procedure.id))).scalar_one() == 3


def test_an_imported_procedure_keeps_its_agency_and_link_when_edited_on_its_page(client, admin, catalogue):
    agency_tp, _agency_xd = catalogue
    preview = upload(client, GOOD_AND_BAD, "preview").get_data(as_text=True)
    upload(client, GOOD_AND_BAD, "apply", page=preview)
    procedure = db.session.execute(select(Procedure).where(Procedure.code == "1.001193")).scalar_one()
    saved = submit(client, f"/admin/procedures/{procedure.id}", "title", title="Đăng ký khai sinh (sửa)")
    assert saved.status_code == 302
    db.session.expire_all()
    procedure = db.session.get(Procedure, procedure.id)
    assert (procedure.title, procedure.agency_id, procedure.legal_document, procedure.url) == (
        "Đăng ký khai sinh (sửa)", agency_tp.id, "Luật Hộ tịch 2014", "https://dichvucong.gov.vn/p/1.001193")
