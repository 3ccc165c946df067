"""Categories with their deadline policy, and the catalogue of procedures
and legal documents that cases point at."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..access import roles_required
from ..extensions import db
from ..models import Case, Category, Procedure, Role
from ..pagination import paginate
from ..procedure_import import ImportRefused, file_digest
from ..procedure_import import import_procedures as import_procedures_from
from ..text import fold
from . import bp
from . import operations as ops
from .forms import (
    PROCEDURE_KINDS,
    CategoryForm,
    NewCategoryForm,
    ProcedureForm,
    ProcedureImportForm,
    category_sort_key,
)
from .pages import confirm_page, form_status, refuse, save_or_refuse
from .tree import walk


def _category_values(form: CategoryForm) -> dict:
    return dict(name=form.name.data, name_en=form.name_en.data, parent_id=form.parent_id.data,
                default_agency_id=form.default_agency_id.data, active=form.active.data, days=form.days())


@bp.route("/categories")
@roles_required(Role.admin)
def categories():
    rows = walk(db.session.execute(select(Category).options(selectinload(Category.default_agency))).scalars().all(),
                category_sort_key)
    return render_template("admin/categories.html", rows=rows, defaults=ops.policy_defaults(),
                           days=CategoryForm.DAYS)


@bp.route("/categories/new", methods=["GET", "POST"])
@roles_required(Role.admin)
def new_category():
    form = NewCategoryForm()
    saved = save_or_refuse(form, lambda: ops.create_category(code=form.code.data, **_category_values(form)),
                           success=lambda category: _("Đã thêm lĩnh vực %(name)s.", name=category.name),
                           next_url=url_for("admin.categories"))
    if saved:
        return saved
    return render_template("admin/category_form.html", form=form, category=None), form_status(form)


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@roles_required(Role.admin)
def edit_category(category_id: int):
    category = db.get_or_404(Category, category_id)
    form = CategoryForm(category=category)
    saved = save_or_refuse(form, lambda: ops.update_category(category, **_category_values(form)),
                           success=lambda changed: _("Đã lưu thay đổi của lĩnh vực %(name)s.", name=category.name)
                           if changed else _("Không có gì thay đổi."), next_url=url_for("admin.categories"))
    if saved:
        return saved
    return render_template("admin/category_form.html", form=form, category=category), form_status(form)


# Procedures and legal documents ---------------------------------------------


@bp.route("/procedures")
@roles_required(Role.admin)
def procedures():
    """The catalogue, searched without diacritics ("dang ky khai sinh" finds
    "Đăng ký khai sinh") by code or title."""
    q = request.args.get("q", "").strip()[:200]
    kind = request.args.get("kind", "")
    query = select(Procedure).options(selectinload(Procedure.category))
    for term in fold(q).split():
        query = query.where(Procedure.search_text.contains(term, autoescape=True))
    if kind in PROCEDURE_KINDS:
        query = query.where(Procedure.kind == kind)
    else:
        kind = ""
    page = paginate(query.order_by(Procedure.active.desc(), Procedure.code))
    filters = {k: v for k, v in (("q", q), ("kind", kind)) if v}
    return render_template("admin/procedures.html", page=page, filters=filters, q=q, kind=kind,
                           kinds=PROCEDURE_KINDS)


def _procedure_values(form: ProcedureForm) -> dict:
    return dict(code=form.code.data, title=form.title.data, kind=form.kind.data, category_id=form.category_id.data,
                agency_id=form.agency_id.data, legal_document=form.legal_document.data or "",
                url=form.url.data or "")


@bp.route("/procedures/new", methods=["GET", "POST"])
@roles_required(Role.admin)
def new_procedure():
    form = ProcedureForm()
    saved = save_or_refuse(form, lambda: ops.create_procedure(**_procedure_values(form)),
                           success=lambda procedure: _("Đã thêm %(code)s vào danh mục.", code=procedure.code),
                           next_url=url_for("admin.procedures"))
    if saved:
        return saved
    return render_template("admin/procedure_form.html", form=form, procedure=None), form_status(form)


@bp.route("/procedures/<int:procedure_id>", methods=["GET", "POST"])
@roles_required(Role.admin)
def edit_procedure(procedure_id: int):
    procedure = db.get_or_404(Procedure, procedure_id)
    form = ProcedureForm(obj=procedure)
    saved = save_or_refuse(form, lambda: ops.update_procedure(procedure, **_procedure_values(form)),
                           success=lambda changed: _("Đã lưu thay đổi của %(code)s.", code=procedure.code)
                           if changed else _("Không có gì thay đổi."), next_url=url_for("admin.procedures"))
    if saved:
        return saved
    return render_template("admin/procedure_form.html", form=form, procedure=procedure), form_status(form)


@bp.route("/procedures/<int:procedure_id>/deactivate", methods=["GET", "POST"])
@roles_required(Role.admin)
def deactivate_procedure(procedure_id: int):
    procedure = db.get_or_404(Procedure, procedure_id)
    if request.method == "POST":
        try:
            ops.set_procedure_active(procedure, False)
        except ops.AdminError as error:
            refuse(None, error)
        else:
            db.session.commit()
            flash(_("%(code)s đã ngừng sử dụng.", code=procedure.code), "success")
        return redirect(url_for("admin.procedures"))
    if not procedure.active:
        flash(_("Mục này đã ngừng sử dụng."), "info")
        return redirect(url_for("admin.edit_procedure", procedure_id=procedure_id))
    cases = db.session.execute(select(func.count(Case.id)).where(Case.procedure_id == procedure.id)).scalar_one()
    facts = [_("Mục này sẽ không còn hiện để người dân và cán bộ chọn khi gửi, ghi nhận phản ánh."),
             _("%(n)d phản ánh đã gắn với mục này vẫn giữ liên kết và vẫn được tính trong báo cáo.", n=cases)]
    return confirm_page(title=_("Ngừng sử dụng %(code)s · %(title)s?", code=procedure.code, title=procedure.title),
                        facts=facts, button=_("Xác nhận ngừng sử dụng"),
                        action_url=url_for("admin.deactivate_procedure", procedure_id=procedure_id),
                        cancel_url=url_for("admin.edit_procedure", procedure_id=procedure_id))


@bp.route("/procedures/<int:procedure_id>/reactivate", methods=["POST"])
@roles_required(Role.admin)
def reactivate_procedure(procedure_id: int):
    procedure = db.get_or_404(Procedure, procedure_id)
    try:
        ops.set_procedure_active(procedure, True)
    except ops.AdminError as error:
        refuse(None, error)
    else:
        db.session.commit()
        flash(_("%(code)s được sử dụng trở lại.", code=procedure.code), "success")
    return redirect(url_for("admin.edit_procedure", procedure_id=procedure_id))


@bp.route("/procedures/import", methods=["GET", "POST"])
@roles_required(Role.admin)
def import_procedures():
    """Upload a CSV: "preview" reports what would be added, changed or refused;
    "apply" (the same file sent again) does it."""
    form = ProcedureImportForm()
    report = None
    status = 200
    if form.validate_on_submit():
        data = form.file.data.read()
        apply = request.form.get("action") == "apply"
        try:
            if apply and form.previewed.data != file_digest(data):
                raise ImportRefused(_("Tệp gửi lên khác tệp vừa xem trước; hãy xem trước lại trước khi nhập."))
            report = import_procedures_from(data, dry_run=not apply, filename=form.file.data.filename or "")
        except ImportRefused as refused:
            db.session.rollback()
            form.file.errors.append(str(refused.message))
            status = 422
        else:
            if apply:
                db.session.commit()
                flash(_("Đã nhập danh mục: thêm %(added)d, cập nhật %(changed)d, giữ nguyên %(same)d, bỏ qua "
                        "%(refused)d dòng lỗi.", added=report.added, changed=report.changed, same=report.unchanged,
                        refused=len(report.refused)), "success")
                return redirect(url_for("admin.procedures"))
            form.previewed.data = report.digest
    elif form.is_submitted():
        status = 422
    return render_template("admin/procedure_import.html", form=form, report=report), status
