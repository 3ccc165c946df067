"""``GET /api/v1/stats``: the dashboard's headline figures, by the
dashboard's own functions, so the page and the API count alike."""
from __future__ import annotations

from datetime import date

from flask import jsonify
from sqlalchemy import select

from ..extensions import db
from ..models import Agency, Role, User
from ..reporting.periods import EARLIEST, LATEST, Period, local_today
from ..reporting.stats import by_agency, headline
from . import bp
from .auth import require_staff, valid_api_token
from .errors import ApiError
from .fields import query_args
from .validation import STATS_FILTERS

FIGURES = ("received", "open", "overdue", "due_soon", "answered", "on_time", "late", "on_time_rate",
           "median_working_days_to_answer", "satisfaction_rate", "ratings", "review_requests")


@bp.get("/stats")
def stats():
    """Leads and supervisors: the figures for a period of local days (this
    year so far by default), and the same per agency."""
    user = require_staff(Role.lead, Role.supervisor)
    args = query_args(STATS_FILTERS)
    today = local_today()
    first, last = args["from"] or date(today.year, 1, 1), args["to"] or today
    if first > last or not (first >= EARLIEST and last <= LATEST):
        raise ApiError(400, "The period must run forward, between 2000-01-01 and 2100-12-31.",
                       fields={"from": "Must not be after to."}, reason="bad_query")
    agency = _agency(user, args["agency"])
    period = Period("custom", first, last)
    figures = headline(user, period.start, period.end, agency_id=agency.id if agency else None)
    rows = [row for row in by_agency(user, period.start, period.end) if agency is None or row["agency_id"] == agency.id]
    return jsonify(**{"from": first.isoformat(), "to": last.isoformat(), "agency": agency.code if agency else None},
                   **_figures(figures), by_agency=[{"agency": row["agency_code"], "agency_name": row["agency_name"],
                                                    **_figures(row)} for row in rows])


def _figures(values: dict) -> dict:
    return {name: values.get(name) for name in FIGURES}


def _agency(user: User, code: str | None) -> Agency | None:
    """The one agency asked for: any for a supervisor, only their own for a
    lead, only its own for a token limited to one agency."""
    token = valid_api_token()
    if token is not None and token.agency_id is not None:
        if code and code != token.agency.code:
            raise ApiError(403, "This token sees the figures of its own agency only.")
        code = token.agency.code  # and, below, a lead's token still only their own
    if not code:
        return db.session.get(Agency, user.agency_id) if user.role_enum == Role.lead else None
    agency = db.session.execute(select(Agency).where(Agency.code == code)).scalar_one_or_none()
    if agency is None:
        raise ApiError(400, "Unknown agency code.", fields={"agency": "Unknown agency code."}, reason="bad_query")
    if user.role_enum == Role.lead and agency.id != user.agency_id:
        raise ApiError(403, "A lead sees the figures of their own agency only.")
    return agency
