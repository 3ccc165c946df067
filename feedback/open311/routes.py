"""The GeoReport v2 URLs, each in JSON and XML (``.json`` / ``.xml``).

Reading needs no key and shows no personal data; creating a request needs
an ``api_key`` (an API token) and goes through the same intake as the JSON
API, with channel ``open311``.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import request
from flask_limiter.util import get_remote_address
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import workflow as wf
from ..access import case_by_code
from ..audit import record_audit
from ..deadlines import OFFICE_TZ
from ..extensions import db, limiter
from ..models import Case, Category, utcnow
from ..tokens import TokenCheck, check_api_token
from . import bp
from .documents import (
    CLOSED,
    OPEN,
    discovery,
    receipt_notice,
    service,
    service_definition,
    service_request,
    statuses_for,
)
from .formats import Open311Error, render
from .intake import parse_request

WINDOW = timedelta(days=90)  # the spec's longest start_date..end_date span
MAX_REQUESTS = 1000
MAX_IDS = 100
FMT = "<any(json, xml):fmt>"


API_KEY_CHECK = "feedback.open311_api_key"


def _api_key_check() -> TokenCheck:
    """The ``api_key``'s check, once per request (the limiter asks first)."""
    if API_KEY_CHECK not in request.environ:
        request.environ[API_KEY_CHECK] = check_api_token((request.values.get("api_key") or "").strip())
    return request.environ[API_KEY_CHECK]


def _api_key_limit_key() -> str:
    """A usable key's own bucket; a wrong key counts against the address."""
    token = _api_key_check().token
    return f"open311:{token.id}" if token is not None else get_remote_address()


@bp.get(f"/discovery.{FMT}")
def discovery_document(fmt: str):
    return render(discovery(), fmt, "discovery")


@bp.get(f"/services.{FMT}")
def services(fmt: str):
    """Active categories, as services grouped by their parent category."""
    categories = db.session.execute(
        select(Category).where(Category.active.is_(True)).options(selectinload(Category.parent))
        .order_by(Category.name, Category.id)).scalars()
    return render([service(c) for c in categories], fmt, "services")


@bp.get(f"/services/<service_code>.{FMT}")
def service_definition_document(service_code: str, fmt: str):
    category = db.session.execute(
        select(Category).where(Category.code == service_code, Category.active.is_(True))).scalar_one_or_none()
    if category is None:
        raise Open311Error(404, f"service_code {service_code} not found")
    return render(service_definition(category), fmt, "service_definition")


@bp.post(f"/requests.{FMT}")
@limiter.limit("600 per hour", key_func=_api_key_limit_key)
def create_request(fmt: str):
    """Create a case from a service request; the answer names its code and
    the private token (which the sender also receives by e-mail)."""
    params = request.values
    check = _api_key_check()
    if check.token is None or not check.token.user.is_staff:
        raise Open311Error(403, "api_key has expired" if check.expired else "api_key is missing, invalid or revoked")
    if check.token.read_only:
        raise Open311Error(403, "api_key is read-only: it cannot submit requests")
    integration = check.token.user
    case, token = wf.submit_case(parse_request(params), wf.Actor.citizen())
    record_audit("case.submitted_by_integration", case_id=case.id, detail={"channel": case.channel},
                 user=integration)
    wf.commit()
    return render([{"service_request_id": case.code, "service_notice": receipt_notice(case), "account_id": None,
                    "token": token}], fmt, "service_requests", 201)


@bp.get(f"/requests.{FMT}")
@limiter.limit("120 per minute")
def list_requests(fmt: str):
    """Requests by id, or by service, status and a window of at most 90
    days (the last 90 by default), newest first."""
    query = select(Case).options(selectinload(Case.category), selectinload(Case.agency),
                                 selectinload(Case.merged_into))
    ids = _list_arg("service_request_id")
    if ids:
        if len(ids) > MAX_IDS:
            raise Open311Error(400, f"service_request_id: at most {MAX_IDS} ids")
        query = query.where(Case.code.in_(ids))
    else:
        start, end = _window(request.args.get("start_date"), request.args.get("end_date"))
        query = query.where(Case.received_at >= start, Case.received_at <= end)
        codes = _list_arg("service_code")
        if codes:
            query = query.join(Category, Category.id == Case.category_id).where(Category.code.in_(codes))
        wanted = _list_arg("status")
        if wanted:
            if set(wanted) - {OPEN, CLOSED}:
                raise Open311Error(400, "status: open or closed")
            query = query.where(Case.status.in_([s for status in wanted for s in statuses_for(status)]))
    cases = db.session.execute(query.order_by(Case.received_at.desc(), Case.id.desc()).limit(MAX_REQUESTS)).scalars()
    return render([service_request(c) for c in cases], fmt, "service_requests")


@bp.get(f"/requests/<code>.{FMT}")
@limiter.limit("120 per minute")
def get_request(code: str, fmt: str):
    case = case_by_code(code)
    if case is None:
        raise Open311Error(404, f"service_request_id {code} not found")
    return render([service_request(case)], fmt, "service_requests")


@bp.get(f"/tokens/<token>.{FMT}")
@limiter.limit("30 per minute")
def token_request(token: str, fmt: str):
    """The request a POST's token stands for (the case's private token)."""
    case = wf.case_for_token(token)
    if case is None:
        raise Open311Error(404, "token not found")
    return render([{"service_request_id": case.code, "token": token}], fmt, "service_requests")


def _list_arg(name: str) -> list[str]:
    """A comma-separated (or repeated) parameter's values."""
    return [part.strip() for value in request.args.getlist(name) for part in value.split(",") if part.strip()]


def _window(start_raw: str | None, end_raw: str | None) -> tuple[datetime, datetime]:
    start = _parse_date(start_raw, "start_date")
    end = _parse_date(end_raw, "end_date")
    if start is None and end is None:
        end = utcnow()
    if start is None:
        start = end - WINDOW
    if end is None:
        end = start + WINDOW
    if end < start:
        raise Open311Error(400, "end_date must not be before start_date")
    if end - start > WINDOW:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    return start, end


def _parse_date(raw: str | None, name: str) -> datetime | None:
    """A W3C date-time (``2026-03-02T00:00:00Z``, or a bare date); without an
    offset it is the city's local time."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("z", "Z"))
    except ValueError:
        raise Open311Error(400, f"{name}: use a W3C date-time such as 2026-03-02T00:00:00+07:00") from None
    return value if value.tzinfo else value.replace(tzinfo=OFFICE_TZ)
