"""Dashboard URLs: figures, case lists, deadline lists, the six-monthly report, exports.

Views read the query string, call ``stats``/``caselists``/``exports`` and
render; the scoping to what the viewer may see happens inside those (every
case query starts from ``access.scoped_cases``).
"""
from __future__ import annotations

from collections import OrderedDict

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..access import EXPORT_CONTACTS, roles_required
from ..audit import record_audit
from ..deadlines import load_calendar
from ..extensions import db
from ..models import Agency, Case, CaseType, Category, Role, Status, User, utcnow
from ..pagination import paginate
from ..reporting import stats
from ..reporting.periods import KIND_LABELS, KINDS, local_today, parse_half, parse_period
from ..staffing import unstaffed_with_open_cases
from . import bp, charts, exports, formatting
from .caselists import DaysOverdue, order_for, parse_filters

DASHBOARD_ROLES = (Role.supervisor, Role.lead, Role.desk, Role.admin)
EXPORT_LISTS = {"cases": {}, "overdue": {"overdue": True}, "due-soon": {"due_soon": True}}


@bp.context_processor
def number_formats() -> dict:
    """Vietnamese number formats (87,5%; 1.234) that follow the chosen language."""
    return {"fmt_rate": formatting.rate, "fmt_days": formatting.days, "fmt_int": formatting.number}


def _agency_arg() -> int | None:
    """City-wide viewers may narrow the figures to one agency; a lead's figures
    are their own agency's whatever the query string says (the scope does it)."""
    if not current_user.sees_all_agencies:
        return None
    return request.args.get("agency", type=int)


def _sort_arg() -> tuple[str, bool]:
    """The by-agency table's column and direction; worst on-time first by default."""
    sort = request.args.get("sort", "on_time_rate")
    if sort not in stats.SORT_KEYS:
        sort = "on_time_rate"
    return sort, request.args.get("order") == "desc"


def _agencies() -> list[Agency]:
    """Agencies offered in the filters: all for city-wide viewers, none for a lead."""
    if not current_user.sees_all_agencies:
        return []
    return list(db.session.execute(select(Agency).order_by(Agency.name)).scalars())


@bp.route("/")
@roles_required(*DASHBOARD_ROLES)
def index():
    """Headline figures, the by-agency table, charts and the rules that hurt most."""
    now = utcnow()
    period, error = parse_period(request.args, local_today(now))
    agency_id = _agency_arg()
    sort, descending = _sort_arg()
    figures = stats.headline(current_user, period.start, period.end, agency_id, now=now)
    worst_first = stats.by_agency(current_user, period.start, period.end, now=now)
    rows = stats.sort_agency_rows(worst_first, sort, descending)
    months = stats.monthly(current_user, period.months(), agency_id)
    levels = stats.rating_levels(current_user, period.start, period.end, agency_id)
    rules = stats.rules_that_hurt(current_user, period.start, period.end, agency_id)
    measured = [row for row in worst_first if row["on_time_rate"] is not None]
    return render_template(
        "dashboard/index.html", period=period, error=error, kinds=KINDS, kind_labels=KIND_LABELS,
        agencies=_agencies(), agency_id=agency_id, figures=figures, rows=rows, sort=sort,
        order="desc" if descending else "asc", months=months, levels=levels, rules=rules,
        measured=measured, target=stats.ON_TIME_TARGET,
        monthly_chart=charts.monthly_chart(months),
        on_time_chart=charts.on_time_chart(measured, stats.ON_TIME_TARGET) if measured else None,
        satisfaction_chart=charts.satisfaction_chart(levels),
        unstaffed=unstaffed_with_open_cases() if current_user.sees_all_agencies else [],
    )


def _filter_choices() -> dict:
    """Agencies, categories and officers for the list filters (three queries)."""
    officers = select(User).where(User.role.in_([Role.officer.value, Role.lead.value]))
    if not current_user.sees_all_agencies:
        officers = officers.where(User.agency_id == current_user.agency_id)
    return {
        "agencies": _agencies(),
        "categories": list(db.session.execute(select(Category).order_by(Category.name)).scalars()),
        "officers": list(db.session.execute(officers.order_by(User.full_name, User.id)).scalars()),
        "statuses": ["open"] + [s.value for s in Status],
        "types": [t.value for t in CaseType],
    }


def _case_page(filters, now):
    query = filters.apply(current_user, now).options(
        selectinload(Case.agency), selectinload(Case.category), selectinload(Case.officer),
    ).order_by(*order_for(filters))
    return paginate(query)


@bp.route("/cases")
@roles_required(*DASHBOARD_ROLES)
def cases():
    """The cases behind any figure: every filter in the query string, paginated."""
    now = utcnow()
    filters = parse_filters(request.args)
    if not current_user.sees_all_agencies:
        filters.agency = None  # the scope already limits a lead to their agency
    page = _case_page(filters, now)
    return render_template(
        "dashboard/cases.html", page=page, filters=filters, args=filters.query_args(), now=now,
        days_overdue=DaysOverdue(now), may_export_contacts=exports.may_export_contacts(current_user),
        **_filter_choices(),
    )


def _deadline_list(kind: str):
    now = utcnow()
    filters = parse_filters(request.args, **EXPORT_LISTS[kind])
    if not current_user.sees_all_agencies:
        filters.agency = None
    page = _case_page(filters, now)
    # The list's own URL says overdue or due soon; links carry only the other filters.
    args = {k: v for k, v in filters.query_args().items() if k not in ("overdue", "due_soon")}
    return render_template(
        "dashboard/deadlines.html", kind=kind, page=page, filters=filters, args=args, now=now,
        days_overdue=DaysOverdue(now), calendar=load_calendar(),
        may_export_contacts=exports.may_export_contacts(current_user), **_filter_choices(),
    )


@bp.route("/overdue")
@roles_required(*DASHBOARD_ROLES)
def overdue():
    """Cases past a staff deadline, across the viewer's agencies, most overdue first."""
    return _deadline_list("overdue")


@bp.route("/due-soon")
@roles_required(*DASHBOARD_ROLES)
def due_soon():
    """Cases whose staff deadline falls within the next two working days."""
    return _deadline_list("due-soon")


def _by_rule(amended: list[dict]) -> list[dict]:
    """The report's summary: per procedure, how many answers amend it and how
    many forward a recommendation about it (cases without one last)."""
    summaries: OrderedDict = OrderedDict()
    for row in amended:
        summary = summaries.setdefault(row["procedure_code"] or "", {
            "code": row["procedure_code"], "title": row["procedure_title"], "kind": row["procedure_kind"],
            "amend_rule": 0, "recommendation_forwarded": 0})
        summary[row["outcome"]] += 1
    return list(summaries.values())


@bp.route("/report")
@roles_required(*DASHBOARD_ROLES)
def report():
    """The six-monthly report (Decree 20): one half-year, one agency or all,
    printable: the figures and the rules amended or proposed for amendment."""
    now = utcnow()
    today = local_today(now)
    period, error = parse_half(request.args, today)
    agency_id = _agency_arg()
    figures = stats.headline(current_user, period.start, period.end, agency_id, now=now)
    rows = stats.by_agency(current_user, period.start, period.end, now=now) \
        if current_user.sees_all_agencies and agency_id is None else []
    amended, truncated = stats.rules_amended(current_user, period.start, period.end, agency_id)
    months = stats.monthly(current_user, period.months(at_least=6), agency_id)
    agencies = _agencies()
    agency = next((a for a in agencies if a.id == agency_id), None) if agency_id else (
        None if current_user.sees_all_agencies else current_user.agency)
    return render_template(
        "dashboard/report.html", period=period, error=error, half=1 if period.first.month == 1 else 2,
        years=list(range(today.year, 2019, -1)), agencies=agencies, agency_id=agency_id, agency=agency,
        figures=figures, rows=rows, amended=amended, truncated=truncated, by_rule=_by_rule(amended),
        rules=stats.rules_that_hurt(current_user, period.start, period.end, agency_id),
        months=months, monthly_chart=charts.monthly_chart(months), now=now, target=stats.ON_TIME_TARGET,
    )


@bp.route("/export/<name>.<fmt>")
@roles_required(*DASHBOARD_ROLES)
def export(name: str, fmt: str):
    """CSV or XLSX of a case list (``cases``, ``overdue``, ``due-soon``, with the
    same filters as the page) or of the by-agency table (``agencies``)."""
    if fmt not in ("csv", "xlsx") or (name not in EXPORT_LISTS and name != "agencies"):
        abort(404)
    now = utcnow()
    stamp = local_today(now).isoformat()
    if name == "agencies":
        period, _error = parse_period(request.args, local_today(now))
        rows = stats.sort_agency_rows(stats.by_agency(current_user, period.start, period.end, now=now),
                                      *_sort_arg())
        record_audit("dashboard.export", detail={"list": name, "format": fmt, "period": period.label})
        db.session.commit()
        return exports.export_response(
            fmt, f"theo-co-quan-{period.first.isoformat()}-{period.last.isoformat()}",
            [h for h, _value in exports.AGENCY_COLUMNS], exports.agency_rows(rows), _("Theo cơ quan"),
            widths={2: 40})
    filters = parse_filters(request.args, **EXPORT_LISTS[name])
    if not current_user.sees_all_agencies:
        filters.agency = None
    contacts = exports.include_contacts(current_user, request.args.get("contacts") == "1")
    filtered = filters.apply(current_user, now)
    query = exports.case_export_query(filtered.order_by(*order_for(filters)), contacts, current_user)
    columns = exports.case_columns(contacts, DaysOverdue(now) if name != "cases" else None,
                                   days_left=name == "due-soon")
    # Who took which cases out of the system, and with how much personal data.
    detail = {"list": name, "format": fmt, "contacts": contacts,
              "filters": {k: str(v) for k, v in filters.query_args().items()}}
    if contacts:
        detail["rows_with_contacts"] = exports.count_rows_with_contacts(filtered, current_user)
    record_audit(EXPORT_CONTACTS if contacts else "dashboard.export", detail=detail)
    db.session.commit()
    return exports.export_response(
        fmt, f"phan-anh-{name}-{stamp}", [h for h, _value in columns], exports.case_rows(query, columns),
        _("Phản ánh, kiến nghị"), widths={1: 22, 4: 50, 7: 30})
