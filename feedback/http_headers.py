"""Headers every response carries, and the ones that depend on what it holds.

- Security headers on everything: CSP ``'self'`` only (no CDN, no inline
  script), no framing, no base URL, forms post only here, no referrer, no MIME
  sniffing.
- Served over HTTPS (``request.is_secure``, or ``FEEDBACK_SECURE_COOKIES``):
  HSTS for a year, and every cookie (session, remember-me, language) marked
  ``Secure``.
- ``Cache-Control: no-store`` on every page of the staff side (staff,
  dashboard and its exports, admin, the JSON API), the login and account
  pages, the rating pages, and anything answered to a logged-in person, so no
  shared or browser cache keeps personal data. Private-link pages and their
  downloads set it themselves (``public.tracking.no_store``).
- Published answers (the list and each answer) are the same for every
  anonymous visitor: answered with an ``ETag`` (a hash of the page), a
  conditional GET with that tag gets ``304 Not Modified``, and
  ``Cache-Control: public, max-age=300`` with ``Vary: Cookie``, so a shared
  cache never hands that copy to a request that carries a cookie (a chosen
  language lives in the session). Only when nothing is personal: nobody
  logged in, no cookie being set, a 200. A visitor with a session is
  answered with its cookie renewed, so in practice only visitors without
  one (the default language) get cacheable pages. Everything else keeps no
  cache header or ``no-store`` as above.
- No server version: the development server (``flask run``) says
  ``Server: feedback`` instead of its Werkzeug and Python versions; gunicorn
  sends ``Server: gunicorn`` without a version (docs/security.md).
"""
from __future__ import annotations

from typing import cast

from flask import Flask, Response, g, request, session
from flask_login import current_user
from sqlalchemy import inspect

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                           "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HSTS = "max-age=31536000; includeSubDomains"
NO_STORE_BLUEPRINTS = frozenset({"staff", "dashboard", "admin", "auth", "api", "satisfaction"})
SERVER_NAME = "feedback"
# Pages that hold nothing personal and change only when an answer is published
# or edited; a shared cache may keep them this long (seconds).
PUBLIC_CACHE_ENDPOINTS = frozenset({"public.published", "public.published_case"})
PUBLIC_MAX_AGE = 300


def _served_securely(app: Flask) -> bool:
    return request.is_secure or bool(app.config.get("SESSION_COOKIE_SECURE"))


def _holds_personal_data() -> bool:
    if request.endpoint == "static":
        return False
    return request.blueprint in NO_STORE_BLUEPRINTS or _logged_in()


def _logged_in() -> bool:
    """Whether a person is logged in, without reloading an account the view's
    commit has expired (``is_authenticated`` reads ``active``): an account
    the user loader returned for this request (or ``login_user`` set) is a
    logged-in person."""
    user = g.get("_login_user")
    if user is not None and inspect(user, raiseerr=False) is not None:
        return True
    return current_user.is_authenticated


def _same_for_every_visitor(app: Flask, response: Response) -> bool:
    """A published-answers page that a shared cache may keep: a plain 200, no
    cookie set or about to be (the session is saved after this hook), nobody
    logged in."""
    return (request.endpoint in PUBLIC_CACHE_ENDPOINTS and request.method in ("GET", "HEAD")
            and response.status_code == 200 and "Set-Cookie" not in response.headers
            and not app.session_interface.should_set_cookie(app, session) and "_remember" not in session
            and not _logged_in())


def public_cache(response: Response) -> Response:
    """``ETag`` from the page itself (a changed answer is a changed page),
    ``304`` for a matching ``If-None-Match``, and a short public lifetime."""
    response.add_etag()
    response.headers["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
    response.vary.add("Cookie")
    # Werkzeug types the result as its own Response; it returns ``self``.
    return cast(Response, response.make_conditional(request))


class SecureCookiesOverHttps:
    """WSGI middleware: over HTTPS every cookie gets ``Secure``, whichever part
    set it (the session is saved, and Flask-Login sets the remember-me cookie,
    after the app's own after-request hooks have run)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("wsgi.url_scheme") != "https":
            return self.wsgi_app(environ, start_response)

        def secure_start_response(status, headers, exc_info=None):
            headers = [(name, value + "; Secure")
                       if name.lower() == "set-cookie" and "; secure" not in value.lower() else (name, value)
                       for name, value in headers]
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, secure_start_response)


def hide_development_server_version() -> None:
    """``flask run`` would announce ``Werkzeug/x Python/y`` in every answer."""
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.version_string = lambda self: SERVER_NAME  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    hide_development_server_version()
    app.wsgi_app = SecureCookiesOverHttps(app.wsgi_app)  # type: ignore[method-assign]

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if _served_securely(app):
            headers["Strict-Transport-Security"] = HSTS
        if _holds_personal_data():
            headers["Cache-Control"] = "no-store"
            headers.pop("Expires", None)
        elif _same_for_every_visitor(app, response):
            return public_cache(response)
        return response
