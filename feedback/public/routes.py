"""Home page, language switch and a registered citizen's own cases."""
from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from ..input_guard import safe_next
from ..models import Case, Role
from ..pagination import paginate
from . import bp


@bp.route("/")
def index():
    return render_template("public/index.html")


@bp.route("/lang/<lang>")
def set_language(lang: str):
    if lang not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = lang
    return redirect(safe_next(request.args.get("next")) or url_for("public.index"))


@bp.route("/my-cases")
@login_required
def my_cases():
    """Cases sent with the account's verified e-mail, or attached to it."""
    if current_user.role_enum != Role.citizen:
        abort(403)
    conditions = [Case.citizen_id == current_user.id]
    if current_user.email_verified:
        conditions.append(func.lower(Case.sender_email) == current_user.email.lower())
    query = select(Case).where(or_(*conditions)).order_by(Case.received_at.desc())
    page = paginate(query)
    return render_template("public/my_cases.html", page=page)
