"""The JSON API's endpoints: parse, call one operation, serialise.

Cases change only through ``feedback.actions.perform`` (the staff pages'
dispatcher) and ``feedback.workflow``; lists start from ``scoped_cases``, narrowed
to the token's agency when it is limited to one (``token_scoped_cases``).
"""
from __future__ import annotations

from flask import jsonify, request, url_for
from flask_limiter.util import get_remote_address
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from .. import workflow as wf
from ..access import case_by_code, show_contacts
from ..actions import perform
from ..audit import record_audit
from ..extensions import db, limiter
from ..models import Agency, Case, CaseEvent, Category, Channel, Procedure, User, deadline_order, utcnow
from ..notifications import case_links
from ..pagination import capped_count, fetch_page, page_args, paginate
from ..ratings import rate_case
from ..submission import parse_submission
from ..text import fold
from . import bp
from .auth import (
    SAFE_METHODS,
    api_user,
    citizen_case,
    has_valid_token,
    require_staff,
    token_check,
    token_scoped_cases,
    unauthenticated,
    valid_api_token,
)
from .cursor import CursorError, Position, decode_cursor, encode_cursor, page_after
from .errors import ApiError
from .fields import json_body, query_args
from .idempotency import IdempotencyKey
from .serializers import (
    agency_item,
    category_item,
    list_item,
    procedure_item,
    public_case,
    rating_item,
    staff_case,
)
from .serializers import (
    citizen_case as citizen_view,
)
from .validation import (
    CASE_FILTERS,
    CITIZEN_ACTIONS,
    PROCEDURE_FILTERS,
    parse_rating,
    parse_transition,
)

# What each view reads, loaded up front in a fixed number of queries.
# A list loads each relation once for its whole page (one query each); one
# case joins its one-row relations to itself (one query for all of them).
PUBLIC_DETAILS = (selectinload(Case.category), selectinload(Case.agency), selectinload(Case.proposed_agency))
ONE_PUBLIC_CASE = (joinedload(Case.category), joinedload(Case.agency), joinedload(Case.proposed_agency))
CASE_DETAILS = ONE_PUBLIC_CASE + (
    joinedload(Case.procedure), joinedload(Case.officer), joinedload(Case.rating),
    selectinload(Case.events).joinedload(CaseEvent.actor),
)
# Anonymous senders get what the web form allows; integrations, identified by
# their token, submit for many citizens and get a larger allowance.
ANONYMOUS_SUBMISSIONS = "20 per hour"
INTEGRATION_SUBMISSIONS = "600 per hour"


def _caller_key() -> str:
    """A usable token's own bucket; anyone else, whatever header they send,
    shares the address's."""
    token = valid_api_token()
    return f"token:{token.id}" if token is not None else get_remote_address()


def _submission_limit() -> str:
    return INTEGRATION_SUBMISSIONS if has_valid_token() else ANONYMOUS_SUBMISSIONS


@bp.before_request
def refuse_read_only_changes():
    """A read-only token changes nothing, on whichever endpoint: checked here
    once rather than in each view that writes."""
    if request.method not in SAFE_METHODS and token_check() is not None:
        api_user()


@bp.after_request
def never_cache(response):
    """Answers carry personal data or change by the minute: no cache keeps them."""
    response.headers["Cache-Control"] = "no-store"
    return response


# Catalogue -------------------------------------------------------------------------


@bp.get("/agencies")
def agencies():
    """Active agencies (the receiving desk included, flagged ``is_desk``)."""
    rows = db.session.execute(select(Agency).where(Agency.active.is_(True)).options(selectinload(Agency.parent))
                              .order_by(Agency.kind, Agency.name, Agency.id)).scalars()
    return jsonify(items=[agency_item(a) for a in rows])


@bp.get("/categories")
def categories():
    """Active categories with their default agency."""
    rows = db.session.execute(
        select(Category).where(Category.active.is_(True))
        .options(selectinload(Category.parent), selectinload(Category.default_agency))
        .order_by(Category.name, Category.id)).scalars()
    return jsonify(items=[category_item(c) for c in rows])


@bp.get("/procedures")
def procedures():
    """Active procedures and legal documents whose code or title holds every
    word of ``q``, diacritics ignored."""
    args = query_args(PROCEDURE_FILTERS)
    query = select(Procedure).where(Procedure.active.is_(True)).options(selectinload(Procedure.category))
    for word in fold(args["q"] or "").split()[:8]:
        query = query.where(Procedure.search_text.contains(word, autoescape=True))
    page = paginate(query.order_by(Procedure.title, Procedure.id))
    return jsonify(items=[procedure_item(p) for p in page.items], total=page.total, total_exact=page.total_exact,
                   page=page.page, per_page=page.per_page)


# Cases ------------------------------------------------------------------------------


@bp.post("/cases")
@limiter.limit(_submission_limit, key_func=_caller_key)
def create_case():
    """Submit a case (channel ``api``). With ``Idempotency-Key``, a retry
    answers with the first response instead of creating a second case."""
    integration = api_user()  # a wrong bearer token is refused before anything else
    body = json_body()
    key = IdempotencyKey.from_request(body)
    if key is not None and (stored := key.stored()) is not None:
        return _replayed(*stored)
    case, token = wf.submit_case(parse_submission(body, Channel.api.value), wf.Actor.citizen())
    _just_submitted(case)
    links = case_links(case, token)
    response = {**citizen_view(case), "access_token": token, "private_url": links["private_url"],
                "lookup_url": links["lookup_url"]}
    if key is not None:
        key.remember(case.id, 201, response)
    if integration is not None:
        record_audit("case.submitted_by_integration", case_id=case.id, detail={"channel": case.channel},
                     user=integration)
    try:
        wf.commit()
    except IntegrityError:
        # The same key committed first in a concurrent request: answer as it did.
        db.session.rollback()
        stored = key.stored() if key is not None else None
        if stored is None:
            raise
        return _replayed(*stored)
    return jsonify(response), 201, {"Location": url_for("api.get_case", code=response["code"])}


def _just_submitted(case: Case) -> None:
    """A case flushed a moment ago has no rating: say so rather than ask the
    database while building the answer."""
    set_committed_value(case, "rating", None)


def _replayed(status: int, body: dict):
    return jsonify(body), status, {"Idempotent-Replayed": "true"}


@bp.get("/cases")
def list_cases():
    """Staff: the cases in the caller's scope, earliest deadline first, by
    ``page`` or by ``cursor`` (``next_cursor`` of the previous answer)."""
    user = require_staff()
    args = query_args(CASE_FILTERS)
    position = _cursor_position(args["cursor"])
    query = staff_case_list(user, args)
    total, exact = capped_count(query)
    page, per_page = page_args()
    if position is not None:
        items, more = page_after(query, position, per_page)
        return _case_list(items, more, total, exact, None, per_page)
    items, more = fetch_page(query.order_by(*deadline_order()), per_page, (page - 1) * per_page)
    return _case_list(items, more, total, exact, page, per_page)


def _cursor_position(cursor: str | None) -> Position | None:
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except CursorError:
        raise ApiError(400, "The cursor is not one this API gave out; start again without it.",
                       fields={"cursor": "Use next_cursor from the previous page, unchanged."}) from None


def _case_list(items: list[Case], more: bool, total: int, exact: bool, page: int | None, per_page: int):
    return jsonify(items=[list_item(c) for c in items], total=total, total_exact=exact, page=page,
                   per_page=per_page, next_cursor=encode_cursor(items[-1]) if more else None)


def staff_case_list(user: User, args: dict) -> Select:
    """The staff list's cases for ``user`` and the filters in ``args``
    (``CASE_FILTERS``), with what ``list_item`` reads; unordered."""
    query = token_scoped_cases(user).options(*PUBLIC_DETAILS, selectinload(Case.officer))
    if args.get("status"):
        query = query.where(Case.status == args["status"])
    if args.get("agency"):
        query = query.where(Case.agency_id == select(Agency.id).where(Agency.code == args["agency"]).scalar_subquery())
    if args.get("category"):
        query = query.where(
            Case.category_id == select(Category.id).where(Category.code == args["category"]).scalar_subquery())
    if args.get("overdue") is not None:
        now = utcnow()
        query = query.where(Case.next_due < now) if args["overdue"] else \
            query.where((Case.next_due.is_(None)) | (Case.next_due >= now))
    if args.get("due_before"):
        query = query.where(Case.next_due < args["due_before"])
    return query


@bp.get("/cases/<code>")
@limiter.limit("60 per minute", exempt_when=has_valid_token)
def get_case(code: str):
    """The case as the caller may see it: everything for its sender (case
    token, which wins over a bearer token) and in-scope staff, the public
    view for anyone else."""
    case = citizen_case(code)
    if case is not None:
        return jsonify(citizen_view(case))
    user = api_user()
    if user is not None:
        return _staff_view(_staff_case(user, code), user)
    case = case_by_code(code, select(Case).options(*ONE_PUBLIC_CASE))
    if case is None:
        raise ApiError(404, "No case with this code.")
    return jsonify(public_case(case))


def _staff_view(case: Case, user: User):
    """The staff view as a response; a view that carries the sender's
    contacts is logged (``access.show_contacts``)."""
    contacts = show_contacts(user, case, channel="api")
    if contacts:
        db.session.commit()
    return jsonify(staff_case(case, user, contacts))


def _staff_case(user: User, code: str) -> Case:
    """The case within the staff user's scope; 404 outside it, so codes
    cannot be probed."""
    if not user.is_staff:
        raise ApiError(403, "Your role may not use this endpoint.")
    case = case_by_code(code, token_scoped_cases(user).options(*CASE_DETAILS))
    if case is None:
        raise ApiError(404, "No case with this code in your scope.")
    return case


@bp.post("/cases/<code>/transitions")
@limiter.limit("60 per minute", exempt_when=has_valid_token)
def transition(code: str):
    """Run one workflow action, exactly as the staff pages do. The sender
    (case token) may ``provide_info`` and ``withdraw``; staff act within scope."""
    case = citizen_case(code)
    user = None
    if case is not None:
        actor = wf.Actor.citizen()
    else:
        user = require_staff()
        case = _staff_case(user, code)
        actor = wf.Actor(user)
    action, params = parse_transition(json_body())
    if user is None and action not in CITIZEN_ACTIONS:
        raise ApiError(403, f"The sender may only {' or '.join(CITIZEN_ACTIONS)}.")
    perform(case, actor, action, params)
    wf.commit()
    return _staff_view(case, user) if user is not None else jsonify(citizen_view(case))


@bp.post("/cases/<code>/rating")
@limiter.limit("30 per minute")
def rate(code: str):
    """The sender rates the answer: 201 the first time, 200 when changing it."""
    case = citizen_case(code)
    if case is None:
        if api_user() is not None:
            raise ApiError(403, "Only the sender rates a case: send its X-Case-Token.")
        raise unauthenticated("Send the case's X-Case-Token to rate it.")
    values = parse_rating(json_body())
    arguments = (values["level"], values["resolved"], values["comment"] or "")
    try:
        rating, created = rate_case(case, *arguments)
        db.session.commit()
    except IntegrityError:  # a simultaneous first rating won: this one updates it
        db.session.rollback()
        rating, created = rate_case(case, *arguments)
        db.session.commit()
    return jsonify(code=case.code, rating=rating_item(rating)), 201 if created else 200
