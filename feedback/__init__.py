"""Citizen and business feedback system (phản ánh, kiến nghị)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, request, session
from flask_babel import get_locale, refresh
from flask_babel import lazy_gettext as _l

from .extensions import babel, csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def select_locale() -> str:
    """Vietnamese first; English when the visitor chose it."""
    from flask import current_app, has_request_context

    if not has_request_context():  # CLI and jobs: the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def translate_templates_cheaply(app: Flask) -> None:
    """Template strings (``{{ _("...") }}``) take the catalogue once per
    rendering instead of once per string.

    Flask-Babel's template callables look the catalogue up for every string
    through several context-local proxies: on a staff list, with a hundred
    and fifty strings, that was a fifth of the request's CPU. The context
    processor below puts the request's catalogue into the rendering's
    context; these callables read it there, and fall back to Flask-Babel's
    lookup where a template is rendered without it (a macro imported without
    context). The locale cannot change during one rendering, and
    ``force_locale`` (mail in the recipient's language) wraps the whole
    ``render_template`` call, so the catalogue taken is always the right one.
    """
    from flask_babel import get_translations
    from jinja2 import pass_context

    def catalogue(context):
        return context.get("_catalogue") or get_translations()

    @pass_context
    def gettext(context, string):
        return catalogue(context).ugettext(string)

    @pass_context
    def ngettext(context, singular, plural, n):
        return catalogue(context).ungettext(singular, plural, n)

    @pass_context
    def pgettext(context, msgctxt, string):
        return catalogue(context).upgettext(msgctxt, string)

    @pass_context
    def npgettext(context, msgctxt, singular, plural, n):
        return catalogue(context).unpgettext(msgctxt, singular, plural, n)

    app.jinja_env.install_gettext_callables(gettext, ngettext, newstyle=True, pgettext=pgettext,  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
                                            npgettext=npgettext)

    @app.context_processor
    def inject_catalogue() -> dict:
        return {"_catalogue": get_translations()}


def cache_compiled_templates(app: Flask) -> None:
    """Keep compiled templates under ``JINJA_CACHE_DIR`` (instance/ by
    default, owner-only like the generated key beside it). Each process
    compiles a template once anyway; this saves a starting worker the
    compiling (0.85 s over all pages, 0.03 s to load them back). Jinja checks
    each entry against the template's source and its own Python version, so a
    changed template or interpreter compiles afresh."""
    directory = app.config.get("JINJA_CACHE_DIR")
    if not directory:
        return
    from jinja2 import FileSystemBytecodeCache

    Path(directory).mkdir(mode=0o700, parents=True, exist_ok=True)
    app.jinja_env.bytecode_cache = FileSystemBytecodeCache(directory)


def trust_proxies(app: Flask) -> None:
    """Take the client's address, scheme and host from the X-Forwarded-*
    headers of the configured number of proxies, and only then: rate limits
    and the audit log read ``request.remote_addr``."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    count = app.config.get("TRUSTED_PROXIES", 0)
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]


def create_app(config: object | str | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(ROOT / "instance"),
        instance_relative_config=False,
    )
    app.config.from_object(config or "config.Config")
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    from .secret_key import configure_secret_key

    configure_secret_key(app)  # before anything signs: refuses to start without a usable key
    from .storage import init_app as init_storage

    init_storage(app)  # the attachment storage backend: refuses to start with an unknown one

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(Path(__file__).parent / "translations"))
    limiter.init_app(app)
    translate_templates_cheaply(app)
    cache_compiled_templates(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # Flask-Login's default message is English; flash ours in the visitor's language.
    login_manager.login_message = _l("Vui lòng đăng nhập để mở trang này.")
    login_manager.login_message_category = "info"
    login_manager.localize_callback = str  # the lazy string, in the request's language
    login_manager.session_protection = "strong"

    from . import models  # noqa: F401  (register tables with the metadata)
    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .cli import register_cli
    from .dashboard import bp as dashboard_bp
    from .errors import register_error_handlers
    from .health import bp as health_bp
    from .labels import register_labels
    from .public import bp as public_bp
    from .satisfaction import bp as satisfaction_bp
    from .staff import bp as staff_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(staff_bp, url_prefix="/staff")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(dashboard_bp, url_prefix="/dashboard")
    app.register_blueprint(satisfaction_bp)
    from .api import bp as api_bp
    from .open311 import bp as open311_bp

    for machine_bp in (api_bp, open311_bp):  # token-authenticated, not cookie: no CSRF
        csrf.exempt(machine_bp)
        app.register_blueprint(machine_bp)
    register_error_handlers(app)
    from .input_guard import init_app as init_input_guard

    init_input_guard(app)  # body limits and forbidden characters, before every other hook
    register_labels(app)
    register_cli(app)

    from .jobs import init_app as init_jobs

    init_jobs(app)  # outbox delivery settings; the embedded scheduler without Redis

    from . import metrics, request_log

    request_log.init_app(app)  # X-Request-ID and one JSON log line per request
    metrics.init_app(app)  # /metrics for Prometheus, behind FEEDBACK_METRICS_TOKEN

    @app.before_request
    def fresh_locale() -> None:
        # Flask-Babel caches the locale on the app context, which outlives a
        # request when one is already pushed (CLI, tests); choose it anew.
        refresh()

    @app.context_processor
    def inject_locale() -> dict:
        return {"current_locale": str(get_locale())}

    from .http_headers import init_app as init_headers

    init_headers(app)  # security headers, HSTS and Secure cookies over HTTPS, no-store for personal data
    # Outermost, so every other layer (the Secure-cookie wrapper included)
    # sees the scheme and address the trusted proxies reported.
    trust_proxies(app)

    return app
