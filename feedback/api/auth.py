"""Who is calling: staff and integrations by bearer token, a citizen by the
private access token of their case.

``Authorization: Bearer <token>`` names an ApiToken (``flask tokens
create``); the caller then acts as the token's user, with that user's role
and agency. ``X-Case-Token: <token>`` is the private link's token and opens
exactly one case. A wrong, revoked or inactive credential is a 401 that says
nothing about any case.
"""
from __future__ import annotations

from flask import request

from ..models import Case, Role, User
from ..tokens import user_for_api_token
from ..workflow import case_for_token
from .errors import ApiError

CASE_TOKEN_HEADER = "X-Case-Token"
REQUEST_KEY = "feedback.api_user"
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


def api_user() -> User | None:
    """The bearer token's user; None without an Authorization header; 401
    for a wrong or revoked token (checked once per request)."""
    # Kept on the request, not on g: g outlives a request when an app
    # context is already pushed (CLI, tests).
    if REQUEST_KEY not in request.environ:
        token = bearer_token()
        user = None
        if token is not None:
            user = user_for_api_token(token)
            if user is None:
                raise unauthenticated("The bearer token is invalid or revoked.")
        request.environ[REQUEST_KEY] = user
    return request.environ[REQUEST_KEY]


def has_bearer() -> bool:
    return bearer_token() is not None


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
