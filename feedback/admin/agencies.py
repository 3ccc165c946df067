"""Agencies: the tree the city reorganises (docs/design.md §2)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..access import roles_required
from ..extensions import db
from ..models import Agency, Role
from . import bp
from . import operations as ops
from .forms import AGENCY_KINDS, AgencyForm, NewAgencyForm, agency_sort_key
from .pages import confirm_page, form_status, refuse, save_or_refuse
from .tree import walk


def _agency_values(form: AgencyForm) -> dict:
    return dict(name=form.name.data, name_en=form.name_en.data, kind=form.kind.data,
                parent_id=form.parent_id.data, is_desk=form.is_desk.data,
                requires_approval=form.requires_approval.data)


def _note_desk_move(former: Agency | None, agency: Agency) -> None:
    if agency.is_desk and former is not None and former.id != agency.id:
        flash(_("Bộ phận tiếp nhận đã chuyển từ %(old)s sang %(new)s.", old=former.name, new=agency.name), "success")


@bp.route("/agencies")
@roles_required(Role.admin)
def agencies():
    """The agency tree with its staffing: agencies holding open cases with
    nobody active to handle them are flagged at the top."""
    agencies = db.session.execute(select(Agency)).scalars().all()
    rows = walk(agencies, agency_sort_key)
    staffing = ops.staffing()
    unattended = [a for a in agencies if staffing.get(a.id, ops.Staffing()).unattended(a)]
    return render_template("admin/agencies.html", rows=rows, staffing=staffing, empty=ops.Staffing(),
                           unattended=sorted(unattended, key=agency_sort_key), kinds=AGENCY_KINDS)


@bp.route("/agencies/new", methods=["GET", "POST"])
@roles_required(Role.admin)
def new_agency():
    form = NewAgencyForm()
    former = ops.current_desk()
    saved = save_or_refuse(form, lambda: ops.create_agency(code=form.code.data, **_agency_values(form)),
                           success=lambda agency: _("Đã thêm cơ quan %(name)s.", name=agency.name),
                           after=lambda agency: _note_desk_move(former, agency), next_url=url_for("admin.agencies"))
    if saved:
        return saved
    return render_template("admin/agency_form.html", form=form, agency=None), form_status(form)


@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
@roles_required(Role.admin)
def edit_agency(agency_id: int):
    agency = db.get_or_404(Agency, agency_id)
    form = AgencyForm(agency=agency)
    former = ops.current_desk()
    saved = save_or_refuse(form, lambda: ops.update_agency(agency, **_agency_values(form)),
                           success=lambda changed: _("Đã lưu thay đổi của %(name)s.", name=agency.name) if changed
                           else _("Không có gì thay đổi."),
                           after=lambda _changed: _note_desk_move(former, agency), next_url=url_for("admin.agencies"))
    if saved:
        return saved
    return (render_template("admin/agency_form.html", form=form, agency=agency, open_cases=ops.open_case_count(agency)),
            form_status(form))


@bp.route("/agencies/<int:agency_id>/retire", methods=["GET", "POST"])
@roles_required(Role.admin)
def retire_agency(agency_id: int):
    """Confirm, then delete an agency nothing refers to or deactivate it."""
    agency = db.get_or_404(Agency, agency_id)
    name = agency.name
    if request.method == "POST":
        try:
            outcome = ops.retire_agency(agency)
        except ops.AdminError as error:
            refuse(None, error)
            return redirect(url_for("admin.edit_agency", agency_id=agency_id))
        db.session.commit()
        if outcome == "deleted":
            flash(_("Đã xoá cơ quan %(name)s.", name=name), "success")
        else:
            flash(_("Cơ quan %(name)s đã ngừng hoạt động; lịch sử phản ánh vẫn được giữ.", name=name),
                  "success")
        return redirect(url_for("admin.agencies"))

    plan = ops.plan_retirement(agency)
    if not agency.active and not plan.deletes:
        flash(_("Cơ quan %(name)s đã ngừng hoạt động từ trước.", name=agency.name), "info")
        return redirect(url_for("admin.edit_agency", agency_id=agency_id))
    if plan.deletes:
        title = _("Xoá cơ quan %(name)s?", name=agency.name)
        facts = [_("Chưa có phản ánh, tài khoản, lĩnh vực hay đơn vị nào gắn với cơ quan này, nên cơ quan sẽ bị "
                   "xoá hẳn khỏi hệ thống.")]
        button = _("Xoá cơ quan")
    else:
        title = _("Ngừng hoạt động cơ quan %(name)s?", name=agency.name)
        facts = [_("Đã có dữ liệu gắn với cơ quan này nên cơ quan không bị xoá mà chuyển sang ngừng hoạt động: "
                   "không còn hiện để chọn khi chuyển xử lý, gửi phản ánh hay tạo tài khoản; lịch sử các phản "
                   "ánh vẫn giữ nguyên. Có thể cho hoạt động trở lại khi cần.")]
        button = _("Xác nhận ngừng hoạt động")
    warnings = []
    if plan.active_users:
        warnings.append(_("%(n)d tài khoản đang hoạt động thuộc cơ quan này; hãy chuyển họ sang cơ quan mới.",
                          n=plan.active_users))
    if plan.active_categories:
        warnings.append(_("%(n)d lĩnh vực đang dùng cơ quan này làm cơ quan xử lý mặc định; hãy chọn cơ quan "
                          "khác cho các lĩnh vực đó.", n=plan.active_categories))
    if plan.active_children:
        warnings.append(_("%(n)d đơn vị trực thuộc đang hoạt động.", n=plan.active_children))
    return confirm_page(title=title, facts=facts, warnings=warnings, blocker=plan.blocker, button=button,
                        action_url=url_for("admin.retire_agency", agency_id=agency_id),
                        cancel_url=url_for("admin.edit_agency", agency_id=agency_id),
                        status=409 if plan.blocker else 200)


@bp.route("/agencies/<int:agency_id>/reactivate", methods=["POST"])
@roles_required(Role.admin)
def reactivate_agency(agency_id: int):
    agency = db.get_or_404(Agency, agency_id)
    try:
        ops.reactivate_agency(agency)
    except ops.AdminError as error:
        refuse(None, error)
    else:
        db.session.commit()
        flash(_("Cơ quan %(name)s hoạt động trở lại.", name=agency.name), "success")
    return redirect(url_for("admin.edit_agency", agency_id=agency_id))
