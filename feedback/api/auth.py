"""Who is calling: staff and integrations by bearer token, a citizen by the
private access token of their case.

``Authorization: Bearer <token>`` names an ApiToken (``flask tokens
create``); the caller then acts as the token's user, with that user's role
and agency. ``X-Case-Token: <token>`` is the private link's token and opens
exactly one case. A wrong, revoked or inactive credential is a 401 that says
nothing about any case; an expired token says so.

A token may be read-only (403 on any request that would change something)
and may be limited to one agency (``token_scoped_cases``).
"""
from __future__ import annotations

from flask import request
from sqlalchemy import Select

from ..access import scoped_cases
from ..models import ApiToken, Case, Role, User
from ..tokens import TokenCheck, check_api_token
from ..workflow import case_for_token
from .errors import ApiError

CASE_TOKEN_HEADER = "X-Case-Token"
REQUEST_KEY = "feedback.api_token_check"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
UNAUTHENTICATED_HEADERS = {"WWW-Authenticate": 'Bearer realm="api"'}


def unauthenticated(message: str = "Authentication required: send a valid bearer token.") -> ApiError:
    return ApiError(401, message, headers=UNAUTHENTICATED_HEADERS)


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, '' when malformed, None when absent."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def token_check() -> TokenCheck | None:
    """The bearer token's check, None without an Authorization header;
    looked up once per request and never raising (the rate limiter asks too)."""
    # Kept on the request, not on g: g outlives a request when an app
    # context is already pushed (CLI, tests).
    if REQUEST_KEY not in request.environ:
        token = bearer_token()
        request.environ[REQUEST_KEY] = None if token is None else check_api_token(token)
    return request.environ[REQUEST_KEY]


def valid_api_token() -> ApiToken | None:
    """The request's usable API token, if any."""
    check = token_check()
    return check.token if check is not None else None


def has_valid_token() -> bool:
    """Only a usable token earns an integration's allowance: any other
    Authorization header counts as anonymous."""
    return valid_api_token() is not None


def api_user() -> User | None:
    """The bearer token's user; None without an Authorization header; 401
    for a wrong, revoked or expired token; 403 when a read-only token is
    used for a request that would change something."""
    check = token_check()
    if check is None:
        return None
    if check.token is None:
        raise unauthenticated("The bearer token has expired." if check.expired
                              else "The bearer token is invalid or revoked.")
    if check.token.read_only and request.method not in SAFE_METHODS:
        raise ApiError(403, "This token is read-only.")
    return check.token.user


def token_scoped_cases(user: User) -> Select:
    """``scoped_cases`` for the API caller, narrowed to the token's agency
    when the token is limited to one."""
    query = scoped_cases(user)
    token = valid_api_token()
    if token is not None and token.agency_id is not None:
        query = query.where(Case.agency_id == token.agency_id)
    return query


def require_staff(*roles: Role) -> User:
    """The calling staff user, who must hold one of ``roles`` (any staff role
    when none are given): 401 without a token, 403 for another role."""
    user = api_user()
    if user is None:
        raise unauthenticated()
    if not user.is_staff or (roles and user.role_enum not in roles):
        raise ApiError(403, "Your role may not use this endpoint.")
    return user


def citizen_case(code: str) -> Case | None:
    """The case an ``X-Case-Token`` header opens: None without the header,
    401 when the token opens no case or another case than ``code``."""
    token = request.headers.get(CASE_TOKEN_HEADER)
    if token is None:
        return None
    case = case_for_token(token.strip())
    if case is None or case.code != code:
        raise unauthenticated("The case token is invalid or has been replaced by a newer one.")
    return case
