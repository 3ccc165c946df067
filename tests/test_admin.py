"""Administration: agencies, categories and their deadline policy, the
procedure catalogue, accounts and API tokens, each reachable only by admins."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.models import Agency, ApiToken, AuditLog, CalendarOverride, Category, Procedure, User, hash_token
from feedback.text import fold


@pytest.fixture
def admin(make, auth):
    user = make.user(role="admin", full_name="Quản trị viên")
    auth.login(user)
    return user


def procedure(code: str = "DEMO-01", title: str = "Đăng ký khai sinh", **kw) -> Procedure:
    row = Procedure(code=code, title=title, search_text=fold(f"{code} {title}"), **kw)
    db.session.add(row)
    db.session.commit()
    return row


def fresh(model, row_id):
    """The row as the database has it now, not as this session remembers it."""
    db.session.expire_all()
    return db.session.get(model, row_id)


def audit_actions() -> list[str]:
    return list(db.session.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars())


def agency_form(agency: Agency | None = None, **overrides) -> dict:
    data = {"name": agency.name if agency else "Sở Văn hóa và Thể thao",
            "name_en": agency.name_en if agency else "Department of Culture and Sports",
            "kind": agency.kind if agency else "department",
            "parent_id": str(agency.parent_id or "") if agency else ""}
    if agency is not None and agency.is_desk:
        data["is_desk"] = "y"
    if agency is not None and agency.requires_approval:
        data["requires_approval"] = "y"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def category_form(category: Category | None = None, **overrides) -> dict:
    data = {"name": category.name if category else "Văn hóa, thể thao",
            "name_en": category.name_en if category else "Culture and sports",
            "parent_id": "", "default_agency_id": str(category.default_agency_id or "") if category else "",
            "classify_days": "", "report_answer_days": "", "recommendation_answer_days": "",
            "extension_max_days": "", "info_reply_days": "", "active": "y"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# Who may enter ---------------------------------------------------------------


@pytest.fixture
def admin_pages(make):
    """One GET address of every admin page, with the rows they need."""
    desk = make.desk_agency()
    agency = make.agency(parent_id=desk.id)
    category = make.category(agency=agency)
    item = procedure()
    staff = make.user(role="officer", agency=agency)
    token = ApiToken(user_id=staff.id, token_hash=hash_token("x" * 43), name="Cổng quốc gia")
    override = CalendarOverride(day=date(2026, 5, 4), is_working=False, name="Nghỉ bù")
    db.session.add_all([token, override])
    db.session.commit()
    return ["/admin/", "/admin/agencies", "/admin/agencies/new", f"/admin/agencies/{agency.id}",
            f"/admin/agencies/{agency.id}/retire", "/admin/categories", "/admin/categories/new",
            f"/admin/categories/{category.id}", "/admin/procedures", "/admin/procedures/new",
            f"/admin/procedures/{item.id}", f"/admin/procedures/{item.id}/deactivate", "/admin/users",
            f"/admin/users/{staff.id}", f"/admin/users/{staff.id}/tokens", "/admin/tokens",
            f"/admin/tokens/{token.id}/revoke", "/admin/calendar", f"/admin/calendar/{override.id}/delete",
            "/admin/audit", "/admin/procedures/import"]


def test_anonymous_visitors_are_sent_to_login_from_every_admin_page(client, admin_pages):
    for path in admin_pages:
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/auth/login" in response.headers["Location"], path


@pytest.mark.parametrize("role", ["citizen", "desk", "officer", "lead", "supervisor"])
def test_other_roles_get_403_on_every_admin_page(client, make, auth, admin_pages, role):
    auth.login(make.user(role=role))
    for path in admin_pages:
        assert client.get(path).status_code == 403, path


def test_a_supervisor_cannot_change_anything_by_posting(client, make, auth):
    agency = make.agency(name="Sở Y tế")
    auth.login(make.user(role="supervisor"))
    assert client.post("/admin/agencies/new", data=agency_form(code="SO-VHTT")).status_code == 403
    assert client.post(f"/admin/agencies/{agency.id}/retire").status_code == 403
    assert client.post(f"/admin/agencies/{agency.id}", data=agency_form(agency, name="Đổi tên")).status_code == 403
    assert db.session.execute(select(func.count(Agency.id))).scalar_one() == 2  # Sở Y tế and the desk
    assert fresh(Agency, agency.id).name == "Sở Y tế" and fresh(Agency, agency.id).active


def test_admin_reaches_every_admin_page_with_the_admin_navigation(client, admin, admin_pages):
    for path in admin_pages:
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert 'class="admin-nav' in html, path
        assert 'aria-current="page"' in html, path


# Agencies -------------------------------------------------------------------


def test_agencies_are_listed_as_a_tree_with_units_under_their_parent(client, make, admin):
    city = make.agency(code="UBND-HP", name="UBND thành phố Hải Phòng", kind="city")
    make.agency(code="P-LECHAN", name="UBND phường Lê Chân", kind="commune", parent_id=city.id)
    make.agency(code="SO-TP", name="Sở Tư pháp", kind="department", parent_id=city.id)
    make.agency(code="AAA", name="An unrelated root")  # sorts first alphabetically, but is not in the city

    html = client.get("/admin/agencies").get_data(as_text=True)
    city_at = html.index("UBND thành phố Hải Phòng")
    justice_at, ward_at = html.index("Sở Tư pháp"), html.index("UBND phường Lê Chân")
    assert city_at < justice_at < ward_at  # children follow their parent, departments before wards
    row = html[html.rfind("<tr>", 0, justice_at):justice_at]
    assert "— " in row  # indented one level


def test_admin_creates_an_agency_under_a_parent(client, make, admin):
    city = make.agency(code="UBND-HP", name="UBND thành phố", kind="city")
    response = client.post("/admin/agencies/new", data=agency_form(
        code="SO-VHTT", parent_id=str(city.id), requires_approval="y"))
    assert response.status_code == 302

    agency = db.session.execute(select(Agency).where(Agency.code == "SO-VHTT")).scalar_one()
    assert (agency.name, agency.name_en, agency.kind) == (
        "Sở Văn hóa và Thể thao", "Department of Culture and Sports", "department")
    assert agency.parent_id == city.id and agency.requires_approval and agency.active and not agency.is_desk
    assert audit_actions() == ["agency.create"]
    assert "Đã thêm cơ quan Sở Văn hóa và Thể thao." in client.get("/admin/agencies").get_data(as_text=True)


def test_a_new_agency_code_must_be_free(client, make, admin):
    make.agency(code="SO-TP")
    response = client.post("/admin/agencies/new", data=agency_form(code="so-tp"))
    assert response.status_code == 422
    assert "Mã cơ quan này đã được dùng." in response.get_data(as_text=True)
    assert db.session.execute(select(func.count(Agency.id))).scalar_one() == 1


def test_admin_edits_an_agency(client, make, admin):
    city = make.agency(code="UBND-HP", kind="city")
    agency = make.agency(code="SO-KHDT", name="Sở Kế hoạch và Đầu tư", kind="department")
    response = client.post(f"/admin/agencies/{agency.id}", data=agency_form(
        agency, name="Sở Tài chính", name_en="Department of Finance", kind="department",
        parent_id=str(city.id), requires_approval="y"))
    assert response.status_code == 302

    agency = fresh(Agency, agency.id)
    assert (agency.name, agency.name_en, agency.parent_id, agency.requires_approval) == (
        "Sở Tài chính", "Department of Finance", city.id, True)
    assert agency.code == "SO-KHDT"  # codes are fixed: other systems refer to them
    log = db.session.execute(select(AuditLog)).scalar_one()
    assert log.action == "agency.update" and log.detail["changed"]["name"] == ["Sở Kế hoạch và Đầu tư", "Sở Tài chính"]


def test_an_agency_cannot_be_placed_under_its_own_unit(client, make, admin):
    city = make.agency(code="UBND-HP", name="UBND thành phố", kind="city")
    department = make.agency(code="SO-XD", name="Sở Xây dựng", parent_id=city.id)
    unit = make.agency(code="XD-CC", name="Chi cục Giám định xây dựng", parent_id=department.id)

    response = client.post(f"/admin/agencies/{city.id}", data=agency_form(city, parent_id=str(unit.id)))
    assert response.status_code == 422
    refusal = "Không thể chọn đơn vị cấp trên là chính cơ quan này hoặc một đơn vị trực thuộc nó."
    assert refusal in response.get_data(as_text=True)
    assert fresh(Agency, city.id).parent_id is None
    assert audit_actions() == []

    response = client.post(f"/admin/agencies/{city.id}", data=agency_form(city, parent_id=str(city.id)))
    assert response.status_code == 422 and fresh(Agency, city.id).parent_id is None


def test_the_parent_choices_disable_the_agency_itself_and_its_units(client, make, admin):
    city = make.agency(code="UBND-HP", kind="city")
    unit = make.agency(code="SO-XD", parent_id=city.id)
    other = make.agency(code="SO-YT")
    html = client.get(f"/admin/agencies/{city.id}").get_data(as_text=True)
    assert f'disabled value="{unit.id}"' in html or f'value="{unit.id}" disabled' in html
    assert f'value="{other.id}">' in html


def test_the_only_desk_cannot_be_unmarked(client, make, admin):
    desk = make.desk_agency()
    response = client.post(f"/admin/agencies/{desk.id}", data=agency_form(desk, is_desk=None))
    assert response.status_code == 422
    assert "Hệ thống phải luôn có đúng một bộ phận tiếp nhận." in response.get_data(as_text=True)
    assert fresh(Agency, desk.id).is_desk


def test_marking_another_agency_as_desk_moves_the_desk(client, make, admin):
    old = make.desk_agency()
    new = make.agency(code="TTHCC", name="Trung tâm Phục vụ hành chính công", kind="city_office")
    response = client.post(f"/admin/agencies/{new.id}", data=agency_form(new, is_desk="y"), follow_redirects=True)
    assert "Bộ phận tiếp nhận đã chuyển từ Văn phòng UBND thành phố sang Trung tâm Phục vụ hành chính công." in \
        response.get_data(as_text=True)
    desks = db.session.execute(select(Agency.id).where(Agency.is_desk.is_(True))).scalars().all()
    assert desks == [new.id] and old.id not in desks
    assert set(audit_actions()) == {"agency.update", "agency.desk_moved"}


def test_an_agency_with_open_cases_cannot_be_deactivated(client, make, admin):
    agency = make.agency(name="Sở Xây dựng")
    make.case(agency=agency, status="in_progress")
    make.case(agency=agency, status="needs_info")

    page = client.get(f"/admin/agencies/{agency.id}/retire")
    assert page.status_code == 409
    text = page.get_data(as_text=True)
    assert "cơ quan đang giữ 2 phản ánh, kiến nghị chưa kết thúc" in text
    assert 'type="submit"' not in text.split('id="main"')[1]  # nothing to confirm

    response = client.post(f"/admin/agencies/{agency.id}/retire", follow_redirects=True)
    assert "Không thể ngừng hoạt động: cơ quan đang giữ 2 phản ánh" in response.get_data(as_text=True)
    assert fresh(Agency, agency.id).active
    assert audit_actions() == []


def test_an_agency_with_only_finished_cases_is_deactivated_after_confirmation(client, make, admin):
    agency = make.agency(name="Sở Kế hoạch và Đầu tư")
    make.user(role="officer", agency=agency)
    case = make.case(agency=agency, status="closed")

    page = client.get(f"/admin/agencies/{agency.id}/retire").get_data(as_text=True)
    assert "Ngừng hoạt động cơ quan Sở Kế hoạch và Đầu tư?" in page
    assert "1 tài khoản đang hoạt động thuộc cơ quan này" in page
    assert fresh(Agency, agency.id).active  # the confirmation page changes nothing

    response = client.post(f"/admin/agencies/{agency.id}/retire", follow_redirects=True)
    assert "đã ngừng hoạt động; lịch sử phản ánh vẫn được giữ." in response.get_data(as_text=True)
    agency = fresh(Agency, agency.id)
    assert agency is not None and not agency.active and case.agency_id == agency.id
    assert audit_actions() == ["agency.deactivate"]

    client.post(f"/admin/agencies/{agency.id}/reactivate")
    assert fresh(Agency, agency.id).active
    assert audit_actions() == ["agency.deactivate", "agency.reactivate"]


def test_an_agency_nothing_refers_to_is_deleted_after_confirmation(client, make, admin):
    agency = make.agency(name="Ban Quản lý dự án cũ")
    page = client.get(f"/admin/agencies/{agency.id}/retire").get_data(as_text=True)
    assert "Xoá cơ quan Ban Quản lý dự án cũ?" in page
    client.post(f"/admin/agencies/{agency.id}/retire")
    assert fresh(Agency, agency.id) is None
    log = db.session.execute(select(AuditLog)).scalar_one()
    assert log.action == "agency.delete" and log.detail["name"] == "Ban Quản lý dự án cũ"


def test_the_desk_agency_cannot_be_deactivated(client, make, admin):
    desk = make.desk_agency()
    response = client.post(f"/admin/agencies/{desk.id}/retire", follow_redirects=True)
    assert "Cơ quan này là bộ phận tiếp nhận nên không thể ngừng hoạt động." in response.get_data(as_text=True)
    assert fresh(Agency, desk.id).active


# Categories and deadline policy ----------------------------------------------


def test_admin_creates_a_category_with_its_own_deadlines(client, make, admin):
    agency = make.agency(name="Sở Văn hóa")
    response = client.post("/admin/categories/new", data=category_form(
        code="VHTT", default_agency_id=str(agency.id), report_answer_days="12", extension_max_days="5"))
    assert response.status_code == 302

    category = db.session.execute(select(Category).where(Category.code == "VHTT")).scalar_one()
    assert category.default_agency_id == agency.id and category.active
    assert (category.classify_days, category.report_answer_days, category.recommendation_answer_days,
            category.extension_max_days, category.info_reply_days) == (None, 12, None, 5, None)
    assert audit_actions() == ["category.create"]


def test_blank_policy_days_show_the_configured_default(client, make, admin, app):
    category = make.category(report_answer_days=12)
    html = client.get(f"/admin/categories/{category.id}").get_data(as_text=True)
    assert f'placeholder="{app.config["CLASSIFY_DAYS"]}"' in html
    assert f'placeholder="{app.config["RECOMMENDATION_ANSWER_DAYS"]}"' in html
    assert 'value="12"' in html
    assert f"Để trống: dùng mặc định {app.config['INFO_REPLY_DAYS']} ngày." in html


def test_an_edited_policy_applies_to_the_next_deadline(client, make, admin, app):
    from feedback.workflow import policy_days

    category = make.category()
    client.post(f"/admin/categories/{category.id}", data=category_form(
        category, recommendation_answer_days="20", info_reply_days="7"))
    case = make.case(category=fresh(Category, category.id), type="recommendation")
    assert policy_days(case, "answer") == 20
    assert policy_days(case, "info") == 7
    assert policy_days(case, "classify") == app.config["CLASSIFY_DAYS"]  # left blank: the default


@pytest.mark.parametrize("bad", ["0", "61", "-3", "mười", "2.5"])
def test_policy_days_outside_1_to_60_are_refused(client, make, admin, bad):
    category = make.category(report_answer_days=10)
    response = client.post(f"/admin/categories/{category.id}", data=category_form(
        category, name="Tên mới", report_answer_days=bad))
    assert response.status_code == 422
    assert "Nhập số nguyên từ 1 đến 60, hoặc để trống để dùng mặc định." in response.get_data(as_text=True)
    category = fresh(Category, category.id)
    assert category.report_answer_days == 10 and category.name != "Tên mới"
    assert audit_actions() == []


def test_a_category_cannot_be_placed_under_its_own_subcategory(client, make, admin):
    land = make.category(name="Đất đai")
    child = make.category(name="Đăng ký đất đai", parent_id=land.id)
    response = client.post(f"/admin/categories/{land.id}", data=category_form(land, parent_id=str(child.id)))
    assert response.status_code == 422
    refusal = "Không thể chọn lĩnh vực cha là chính lĩnh vực này hoặc một lĩnh vực con của nó."
    assert refusal in response.get_data(as_text=True)
    assert fresh(Category, land.id).parent_id is None


def test_a_category_is_deactivated_by_unticking_active(client, make, admin):
    category = make.category(name="Lĩnh vực cũ")
    client.post(f"/admin/categories/{category.id}", data=category_form(category, active=None))
    assert not fresh(Category, category.id).active
    html = client.get("/admin/categories").get_data(as_text=True)
    assert "Ngừng sử dụng" in html


# Procedures and legal documents ---------------------------------------------


def test_admin_adds_a_procedure_with_folded_search_text(client, make, admin):
    category = make.category(name="Hộ tịch")
    response = client.post("/admin/procedures/new", data={
        "code": "1.001193", "title": "Đăng ký khai tử", "kind": "procedure", "category_id": str(category.id)})
    assert response.status_code == 302
    item = db.session.execute(select(Procedure).where(Procedure.code == "1.001193")).scalar_one()
    assert item.search_text == "1.001193 dang ky khai tu" and item.category_id == category.id and item.active
    assert audit_actions() == ["procedure.create"]


def test_the_catalogue_search_ignores_diacritics(client, admin):
    procedure("DEMO-HT-01", "Đăng ký khai sinh")
    procedure("DEMO-DD-01", "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu")
    procedure("ND-123-2015", "Nghị định 123/2015/NĐ-CP quy định chi tiết Luật Hộ tịch", kind="legal_document")

    html = client.get("/admin/procedures", query_string={"q": "dang ky KHAI sinh"}).get_data(as_text=True)
    assert "Đăng ký khai sinh" in html and "quyền sử dụng đất" not in html
    html = client.get("/admin/procedures", query_string={"q": "Hộ tịch"}).get_data(as_text=True)
    assert "ND-123-2015" in html and "DEMO-HT-01" not in html
    html = client.get("/admin/procedures", query_string={"q": "dat", "kind": "legal_document"}).get_data(as_text=True)
    assert "Không có mục nào phù hợp." in html
    html = client.get("/admin/procedures", query_string={"q": "100%"}).get_data(as_text=True)
    assert "Không có mục nào phù hợp." in html  # % is text, not a wildcard


def test_the_catalogue_is_paginated_and_keeps_the_search(client, admin):
    for n in range(25):
        procedure(f"DEMO-{n:02d}", f"Thủ tục đất đai số {n:02d}")
    procedure("OTHER", "Đăng ký khai sinh")

    first = client.get("/admin/procedures?q=dat+dai").get_data(as_text=True)
    assert "25 mục" in first and "DEMO-00" in first and "DEMO-24" not in first
    assert "q=dat+dai" in first and "page=2" in first
    second = client.get("/admin/procedures?q=dat+dai&page=2").get_data(as_text=True)
    assert "DEMO-24" in second and "DEMO-00" not in second and "OTHER" not in second


def test_editing_a_procedure_refreshes_its_search_text(client, admin):
    item = procedure("DEMO-01", "Đăng ký khai sinh")
    client.post(f"/admin/procedures/{item.id}", data={
        "code": "DEMO-01", "title": "Đăng ký kết hôn", "kind": "procedure", "category_id": ""})
    assert fresh(Procedure, item.id).search_text == "demo-01 dang ky ket hon"
    assert "DEMO-01" in client.get("/admin/procedures?q=ket+hon").get_data(as_text=True)


def test_a_procedure_code_must_be_unique(client, admin):
    procedure("DEMO-01", "Đăng ký khai sinh")
    item = procedure("DEMO-02", "Đăng ký kết hôn")
    response = client.post(f"/admin/procedures/{item.id}", data={
        "code": "DEMO-01", "title": "Đăng ký kết hôn", "kind": "procedure", "category_id": ""})
    assert response.status_code == 422 and "Mã này đã có trong danh mục." in response.get_data(as_text=True)
    assert fresh(Procedure, item.id).code == "DEMO-02"


def test_a_procedure_is_deactivated_after_confirmation_and_can_return(client, admin):
    item = procedure("DEMO-01", "Đăng ký khai sinh")
    page = client.get(f"/admin/procedures/{item.id}/deactivate").get_data(as_text=True)
    assert "Ngừng sử dụng DEMO-01 · Đăng ký khai sinh?" in page and fresh(Procedure, item.id).active

    client.post(f"/admin/procedures/{item.id}/deactivate")
    assert not fresh(Procedure, item.id).active
    client.post(f"/admin/procedures/{item.id}/reactivate")
    assert fresh(Procedure, item.id).active
    assert audit_actions() == ["procedure.deactivate", "procedure.reactivate"]


# Accounts -------------------------------------------------------------------


def test_admin_changes_a_users_role_agency_and_password(client, make, admin):
    old, new = make.agency(name="Sở Tư pháp"), make.agency(name="Sở Y tế")
    user = make.user(role="officer", agency=old)
    response = client.post(f"/admin/users/{user.id}", data={
        "full_name": "Trần Thị Lãnh Đạo", "role": "lead", "agency_id": str(new.id), "active": "y",
        "new_password": "mat-khau-moi-2026"})
    assert response.status_code == 302

    user = fresh(User, user.id)
    assert (user.full_name, user.role, user.agency_id, user.active) == ("Trần Thị Lãnh Đạo", "lead", new.id, True)
    assert user.check_password("mat-khau-moi-2026")
    log = db.session.execute(select(AuditLog)).scalar_one()
    assert log.action == "user.update" and "mat-khau-moi-2026" not in str(log.detail)


def test_a_deactivated_user_can_no_longer_log_in(client, make, admin, auth):
    user = make.user(role="desk")
    client.post(f"/admin/users/{user.id}", data={"full_name": user.full_name, "role": "desk", "agency_id": ""})
    assert not fresh(User, user.id).active
    auth.logout()
    assert auth.login(user).status_code != 302


def test_an_officer_needs_an_agency(client, make, admin):
    user = make.user(role="officer")
    agency_id = user.agency_id
    response = client.post(f"/admin/users/{user.id}", data={
        "full_name": user.full_name, "role": "officer", "agency_id": "", "active": "y"})
    assert response.status_code == 422
    assert "Cán bộ xử lý và lãnh đạo cơ quan phải thuộc một cơ quan." in response.get_data(as_text=True)
    assert fresh(User, user.id).agency_id == agency_id

    response = client.post("/admin/users", data={"email": "moi@hp.vn", "full_name": "Cán bộ mới",
                                                  "password": "mat-khau-dai-du", "role": "lead", "agency_id": ""})
    assert response.status_code == 422
    assert "Cán bộ xử lý và lãnh đạo cơ quan phải thuộc một cơ quan." in response.get_data(as_text=True)
    assert db.session.execute(select(User).where(User.email == "moi@hp.vn")).first() is None


def test_admin_creates_an_account(client, make, admin):
    agency = make.agency()
    client.post("/admin/users", data={"email": "Can.Bo@HP.vn", "full_name": "Cán bộ mới",
                                      "password": "mat-khau-dai-du", "role": "officer", "agency_id": str(agency.id)})
    user = db.session.execute(select(User).where(User.email == "can.bo@hp.vn")).scalar_one()
    assert user.agency_id == agency.id and user.check_password("mat-khau-dai-du")
    assert audit_actions() == ["user.create"]


def test_an_admin_cannot_deactivate_or_demote_themself(client, admin):
    response = client.post(f"/admin/users/{admin.id}", data={"full_name": admin.full_name, "role": "admin",
                                                             "agency_id": ""})
    assert response.status_code == 422
    assert "Bạn không thể tự khoá tài khoản của chính mình." in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{admin.id}", data={"full_name": admin.full_name, "role": "supervisor",
                                                             "agency_id": "", "active": "y"})
    assert "Bạn không thể tự bỏ vai trò quản trị của chính mình." in response.get_data(as_text=True)
    me = fresh(User, admin.id)
    assert me.active and me.role == "admin"


def test_a_tampered_choice_gets_a_vietnamese_message(client, make, admin):
    user = make.user(role="officer")
    response = client.post(f"/admin/users/{user.id}", data={
        "full_name": user.full_name, "role": "officer", "agency_id": "abc", "active": "y"})
    assert response.status_code == 422
    assert "Cơ quan không hợp lệ." in response.get_data(as_text=True)


# API tokens -----------------------------------------------------------------


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(client, make, admin):
    user = make.user(role="desk", email="cong-quoc-gia@hp.vn")
    response = client.post(f"/admin/users/{user.id}/tokens", data={"name": "Cổng dịch vụ công quốc gia"})
    assert response.status_code == 200 and "Location" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"

    row = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    html = response.get_data(as_text=True)
    token = html.split('id="new-token" readonly value="')[1].split('"')[0]
    assert len(token) >= 40 and row.token_hash == hash_token(token)
    assert row.name == "Cổng dịch vụ công quốc gia" and row.revoked_at is None
    assert token not in str(db.session.execute(select(AuditLog.detail)).scalars().all())

    again = client.get(f"/admin/users/{user.id}/tokens").get_data(as_text=True)
    assert "Cổng dịch vụ công quốc gia" in again and token not in again
    assert token not in client.get("/admin/tokens").get_data(as_text=True)


def test_tokens_are_only_issued_to_active_staff(client, make, admin):
    citizen = make.user(role="citizen")
    response = client.post(f"/admin/users/{citizen.id}/tokens", data={"name": "thử"})
    assert response.status_code == 422
    assert "Chỉ cấp khoá API cho tài khoản cán bộ" in response.get_data(as_text=True)
    assert db.session.execute(select(func.count(ApiToken.id))).scalar_one() == 0


def test_a_revoked_token_is_marked_revoked_after_confirmation(client, make, admin):
    user = make.user(role="desk")
    client.post(f"/admin/users/{user.id}/tokens", data={"name": "Hệ thống một cửa"})
    row = db.session.execute(select(ApiToken)).scalar_one()

    page = client.get(f"/admin/tokens/{row.id}/revoke").get_data(as_text=True)
    assert "Thu hồi khoá API “Hệ thống một cửa”" in page
    assert fresh(ApiToken, row.id).revoked_at is None

    response = client.post(f"/admin/tokens/{row.id}/revoke", follow_redirects=True)
    assert "Đã thu hồi khoá API “Hệ thống một cửa”." in response.get_data(as_text=True)
    assert fresh(ApiToken, row.id).revoked_at is not None
    assert "Đã thu hồi" in client.get("/admin/tokens").get_data(as_text=True)
    assert audit_actions() == ["api_token.create", "api_token.revoke"]


# Calendar ---------------------------------------------------------------------


def test_a_calendar_override_is_deleted_only_after_confirmation(client, admin):
    client.post("/admin/calendar", data={"day": "2026-05-04", "name": "Nghỉ bù theo Thông báo 123/TB-BNV",
                                         "confirm": "1"})
    override = db.session.execute(select(CalendarOverride)).scalar_one()
    page = client.get(f"/admin/calendar/{override.id}/delete").get_data(as_text=True)
    assert "Xoá điều chỉnh ngày 04/05/2026?" in page and fresh(CalendarOverride, override.id) is not None
    client.post(f"/admin/calendar/{override.id}/delete", data={"confirm": "1"})
    assert fresh(CalendarOverride, override.id) is None
    assert audit_actions() == ["calendar.override", "calendar.override_delete"]



def test_a_day_off_declared_through_the_form_counts_in_the_very_next_deadline(app, client, admin):
    from feedback.deadlines import OFFICE_TZ, load_calendar

    received = datetime(2026, 4, 28, 9, 0, tzinfo=OFFICE_TZ)  # a Tuesday; 30 Apr and 1 May are holidays
    before = load_calendar().deadline(received, 5)  # fills this process's calendar cache
    client.post("/admin/calendar", data={"day": "2026-05-04", "name": "Nghỉ bù", "confirm": "1"})
    with app.app_context():  # the next request, with its own request globals
        after = load_calendar().deadline(received, 5)
    # 29 Apr (1), 30 Apr and 1 May holidays, 4 (2), 5 (3), 6 (4), 7 May (5); with 4 May off, 8 May.
    assert before.astimezone(OFFICE_TZ).date() == date(2026, 5, 7)
    assert after.astimezone(OFFICE_TZ).date() == date(2026, 5, 8)
    override = db.session.execute(select(CalendarOverride)).scalar_one()
    client.post(f"/admin/calendar/{override.id}/delete", data={"confirm": "1"})
    with app.app_context():
        assert load_calendar().deadline(received, 5) == before

# Staffing at a glance ------------------------------------------------------------


def test_the_agencies_page_shows_staffing_and_flags_open_cases_nobody_handles(client, make, admin):
    staffed, orphaned = make.agency(name="Sở Xây dựng"), make.agency(name="Sở Nội vụ")
    make.user(role="officer", agency=staffed)
    make.user(role="lead", agency=staffed)
    make.user(role="officer", agency=orphaned, active=False)
    make.case(agency=staffed, status="in_progress")
    make.case(agency=orphaned, status="in_progress")
    make.case(agency=orphaned, status="closed")
    page = client.get("/admin/agencies").get_data(as_text=True)
    alert = page[page.index('role="alert"'):page.index("</div>", page.index('role="alert"'))]
    assert "Sở Nội vụ" in alert and "1 phản ánh chưa kết thúc" in alert and "Sở Xây dựng" not in alert
    assert page.count("Không có người xử lý</span>") == 1


# Audit viewer ----------------------------------------------------------------------


def test_the_audit_log_is_listed_newest_first_and_filtered(client, make, admin, monkeypatch):
    from feedback import audit
    from feedback.audit import record_audit

    other = make.user(role="supervisor", email="gs@haiphong.gov.vn")
    case = make.case(code="PAKN.20260301.0001")
    monkeypatch.setattr(audit, "utcnow", lambda: datetime(2026, 3, 1, 3, 0, tzinfo=UTC))
    record_audit("case.assigned", case_id=case.id, user=other)
    monkeypatch.undo()
    record_audit("category.update", user=admin)
    db.session.commit()
    page = client.get("/admin/audit").get_data(as_text=True)
    assert page.index("category.update</td>") < page.index("case.assigned</td>")
    by_user = client.get("/admin/audit?user=gs%40haiphong").get_data(as_text=True)
    assert "case.assigned</td>" in by_user and "category.update</td>" not in by_user
    by_case = client.get("/admin/audit?case=pakn.20260301.0001").get_data(as_text=True)
    assert "case.assigned</td>" in by_case and "category.update</td>" not in by_case
    by_action = client.get("/admin/audit?action=category.update").get_data(as_text=True)
    assert "category.update</td>" in by_action and "case.assigned</td>" not in by_action
    by_dates = client.get("/admin/audit?from=2026-03-01&to=2026-03-01").get_data(as_text=True)
    assert "case.assigned</td>" in by_dates and "category.update</td>" not in by_dates


def test_the_audit_log_explains_a_bad_date_instead_of_failing(client, admin):
    response = client.get("/admin/audit?from=31-02-2026&page=x")
    assert response.status_code == 200 and "không hợp lệ" in response.get_data(as_text=True)


def test_the_audit_log_has_an_empty_state(client, admin):
    assert "Không có mục nào phù hợp." in client.get("/admin/audit?action=nothing&user=nobody").get_data(as_text=True)
