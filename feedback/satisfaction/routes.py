"""The rating page behind the e-mailed link, and the review request."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from .. import workflow as wf
from ..actions import refused_action
from ..extensions import db, limiter
from ..ratings import RatingLinkError, case_for_rating_token, offers_review, rate_case, rating_open, rating_token
from . import bp


@bp.after_request
def _no_store(response):
    # The rating link is a credential: keep it out of caches and referrers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/rate/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def rate(token: str):
    """GET shows the answer and the form and changes nothing; POST rates."""
    try:
        case = case_for_rating_token(token)
    except RatingLinkError as err:
        return render_template("satisfaction/link_error.html", message=err.message), 400
    errors = {}
    if request.method == "POST":
        form = request.form
        with refused_action() as refused:
            try:
                _rating, created = rate_case(case, form.get("level"), form.get("resolved", ""), form.get("comment", ""))
                wf.commit()
            except IntegrityError:  # a simultaneous first rating won: update it instead
                db.session.rollback()
                _rating, created = rate_case(case, form.get("level"), form.get("resolved", ""), form.get("comment", ""))
                wf.commit()
        if refused:
            errors = refused.fields or {"form": str(refused.message)}
            return render_template("satisfaction/rate.html", case=case, token=token, errors=errors,
                                   values=form, open=rating_open(case)), refused.http_status
        flash(_("Cảm ơn bạn đã đánh giá.") if created else _("Đã cập nhật đánh giá của bạn."), "success")
        return redirect(url_for("satisfaction.rate", token=token), 303)
    values = {"level": case.rating.level, "resolved": case.rating.resolved, "comment": case.rating.comment} \
        if case.rating else {}
    return render_template("satisfaction/rate.html", case=case, token=token, errors=errors, values=values,
                           open=rating_open(case))


@bp.route("/rate/<token>/review", methods=["POST"])
@limiter.limit("10 per minute")
def request_review(token: str):
    """After a low rating, the citizen asks a supervisor to review the answer."""
    try:
        case = case_for_rating_token(token)
    except RatingLinkError as err:
        return render_template("satisfaction/link_error.html", message=err.message), 400
    if not offers_review(case.rating):
        flash(_("Chỉ đề nghị xem xét lại sau khi đánh giá chưa hài lòng."), "error")
        return redirect(url_for("satisfaction.rate", token=token), 303)
    with refused_action(flashed=True) as refused:
        wf.request_review(case, wf.Actor.citizen(), request.form.get("reason", ""),
                          version=request.form.get("version") or None)
        wf.commit()
    if not refused:
        flash(_("Đã gửi đề nghị xem xét lại. Cán bộ giám sát sẽ trả lời bạn."), "success")
    return redirect(url_for("satisfaction.rate", token=token), 303)


@bp.app_context_processor
def rating_helpers() -> dict:
    """Lets the private case page embed the same rating form."""

    def rating_form(case):
        token = rating_token(case)
        rating = case.rating
        return {
            "action": url_for("satisfaction.rate", token=token),
            "review_action": url_for("satisfaction.request_review", token=token),
            "open": rating_open(case), "errors": {},
            "values": {"level": rating.level, "resolved": rating.resolved, "comment": rating.comment} if rating else {},
        }

    return {"rating_form": rating_form}
