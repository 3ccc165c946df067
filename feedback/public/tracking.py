"""Following a case: lookup by code, the private link and what the sender
can do there, a new link by e-mail, and the published answers.

The code alone shows status, agency, deadline and the public timeline, never
personal data or content. The private link (``/c/<token>``, stored hashed)
shows everything the sender sent and lets them act; a wrong or revoked token
shows nothing. Pages under the private link are never cached and never send
a referrer.
"""
from __future__ import annotations

import re
from datetime import datetime
from functools import wraps
from typing import cast

from flask import abort, after_this_request, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, func, select
from sqlalchemy import case as when
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from ..access import case_by_code
from ..actions import Refusal, refused_action
from ..attachments import serve_attachment, written_files
from ..audit import record_audit
from ..deadlines import OFFICE_TZ
from ..extensions import db, limiter
from ..mail_links import RESEND_MAX_AGE, MailLinkError, case_for_resend_token
from ..models import Agency, Attachment, Case, CaseEvent, Category
from ..notifications import notify_citizen
from ..pagination import paginate
from ..privacy import FINAL, can_request_erasure, latest_erasure_request
from ..submission import normalise_phone
from ..text import fold
from ..timeline import current_deadline, public_timeline
from ..workflow import (
    Actor,
    can_provide_info,
    can_withdraw,
    case_for_token,
    commit,
    new_access_token,
    provide_information,
    withdraw_case,
)
from . import bp
from .forms import ConfirmResendForm, ProvideInformationForm, ResendLinkForm, WithdrawForm

private_limit = limiter.shared_limit("60 per minute", scope="private-link")


def no_store(view):
    """Never cache the page, never tell the next site where the reader came from."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        @after_this_request
        def private_headers(response):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response

        return view(*args, **kwargs)

    return wrapped


def private_link(view):
    """Load the case the token opens, or answer 404 showing nothing."""
    @wraps(view)
    @no_store
    def wrapped(token: str, **kwargs):
        case = case_for_token(token)
        if case is None:
            return render_template("public/link_not_found.html"), 404
        return view(case, token, **kwargs)

    return wrapped


# Lookup by code ------------------------------------------------------------


@bp.route("/lookup")
@limiter.limit("30 per minute; 300 per hour")
def lookup():
    """Status, agency, deadline and public timeline of a case by its code."""
    code = (request.args.get("code") or "").strip().upper()[:40]
    if not code:
        return render_template("public/lookup.html", code="", case=None)
    # The agency shown and the timeline, loaded with the case: two queries.
    case = case_by_code(code, select(Case).options(joinedload(Case.agency), selectinload(Case.events)))
    if case is None:
        return render_template("public/lookup.html", code=code, case=None, not_found=True), 404
    return render_template("public/lookup.html", code=code, case=case, deadline=current_deadline(case),
                           timeline=public_timeline(case))


# The private link ------------------------------------------------------------


def citizen_attachments(case: Case) -> list[Attachment]:
    """Files the sender may download: their own, and staff files on public events."""
    public_events = {e.id for e in case.events if e.public}
    return [a for a in case.attachments if a.from_citizen or a.event_id in public_events]


def _private_page(case: Case, token: str, info_form=None, error=None, status: int = 200):
    if case.anonymised_at is not None:
        # Erased on the sender's request: the link only says so.
        return render_template("public/erased.html", case=case), status
    waiting = can_provide_info(case)
    if info_form is None and waiting:
        info_form = ProvideInformationForm(formdata=None, version=case.version)
    return render_template(
        "public/case.html", case=case, token=token, deadline=current_deadline(case),
        timeline=public_timeline(case, with_notes=True), attachments=citizen_attachments(case),
        info_request=latest_info_request(case) if waiting else None,
        info_form=info_form, can_withdraw=can_withdraw(case), error=error,
        can_request_erasure=can_request_erasure(case), erasure_request=latest_erasure_request(case),
        case_is_final=case.status in FINAL,
    ), status


@bp.route("/c/<token>")
@private_limit
@private_link
def private_case(case: Case, token: str):
    """Everything about the case for the holder of its private link."""
    return _private_page(case, token)


@bp.route("/c/<token>/info", methods=["POST"])
@private_limit
@private_link
def provide_info(case: Case, token: str):
    """The sender answers a request for information, with optional files."""
    form = ProvideInformationForm()
    if not form.validate():
        return _private_page(case, token, info_form=form, status=422)
    refusal = send_information(case, form)
    if refusal:
        return _private_page(case, token, info_form=form, error=refusal.message, status=refusal.http_status)
    flash(str(INFORMATION_SENT), "success")
    return redirect(url_for("public.private_case", token=token), code=303)


INFORMATION_SENT = _l("Đã gửi thông tin bổ sung. Cơ quan xử lý tiếp tục giải quyết phản ánh của bạn.")


def latest_info_request(case: Case) -> CaseEvent | None:
    """The agency's latest request for information, shown above the answer form."""
    return next((e for e in reversed(case.events) if e.action == "info_requested"), None)


def send_information(case: Case, form: ProvideInformationForm) -> Refusal:
    """The sender's answer to a request for information, with its files, in
    one transaction: through the private link or the link in the request mail.
    A refusal is rolled back and its field errors are put on the form."""
    with refused_action() as refusal, written_files() as files:
        provide_information(case, Actor.citizen(), form.message.data, version=form.version.data)
        event_id = db.session.execute(
            select(func.max(CaseEvent.id)).where(CaseEvent.case_id == case.id,
                                                 CaseEvent.action == "info_provided")).scalar()
        files.save(case, form.uploads, from_citizen=True, event_id=event_id)
        commit()
    for name, message in refusal.fields.items():
        if name in form:
            form[name].errors.append(message)
    return refusal


@bp.route("/c/<token>/withdraw", methods=["GET", "POST"])
@private_limit
@private_link
def withdraw(case: Case, token: str):
    """Confirm, then withdraw a case that has not been answered yet."""
    if not can_withdraw(case):
        flash(_("Phản ánh này không thể rút ở trạng thái hiện tại."), "error")
        return redirect(url_for("public.private_case", token=token), code=303)
    form = WithdrawForm(version=case.version)
    if request.method == "GET" or not form.validate():
        status = 422 if form.errors else 200
        return render_template("public/withdraw.html", case=case, token=token, form=form), status
    with refused_action() as refusal:
        withdraw_case(case, Actor.citizen(), form.reason.data or "", version=form.version.data)
        commit()
    if refusal.error is not None:
        return render_template("public/withdraw.html", case=case, token=token, form=form,
                               error=refusal.error.message), refusal.error.http_status
    flash(_("Bạn đã rút phản ánh %(code)s. Cơ quan nhà nước sẽ không tiếp tục xử lý.", code=case.code), "success")
    return redirect(url_for("public.private_case", token=token), code=303)


@bp.route("/c/<token>/files/<int:attachment_id>")
@private_limit
@private_link
def private_file(case: Case, token: str, attachment_id: int):
    """Download one of the case's files the sender may see."""
    attachment = next((a for a in citizen_attachments(case) if a.id == attachment_id), None)
    if attachment is None:
        abort(404)
    return serve_attachment(attachment)


# A new private link ------------------------------------------------------------


def _case_for_contact(code: str, contact: str) -> Case | None:
    """The case with ``code`` whose sender used ``contact`` (e-mail or phone)
    and has an e-mail address to receive the new link."""
    case = case_by_code(code.strip().upper())
    if case is None or not case.sender_email:
        return None
    if "@" in contact:
        return case if contact.strip().lower() == case.sender_email.strip().lower() else None
    phone = normalise_phone(contact)
    return case if phone and phone == normalise_phone(case.sender_phone) else None


@bp.route("/resend", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
@no_store
def resend_link():
    """Mail the case's sender a confirmation link; the private link changes
    only when that link is followed (``confirm_resend``), so whoever knows a
    code and a phone number cannot revoke the sender's link. The answer is the
    same whether or not the code and contact matched."""
    form = ResendLinkForm()
    if not form.validate_on_submit():
        return render_template("public/resend.html", form=form, sent=False), 422 if form.errors else 200
    case = _case_for_contact(form.code.data, form.contact.data)
    if case is not None:
        # The confirmation link is signed when the mail is rendered (mail_links):
        # the outbox row holds nothing usable.
        notify_citizen(case, "access_link_confirm", {"valid_hours": RESEND_MAX_AGE // 3600})
        record_audit("case.access_link_requested", case_id=case.id)
        db.session.commit()
    return render_template("public/resend.html", form=None, sent=True)


@bp.route("/resend/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
@no_store
def confirm_resend(token: str):
    """The sender followed the mailed confirmation: GET asks (mail scanners
    open links too), POST issues the new private link, ending the old one and
    this confirmation, and opens the case under the new link."""
    try:
        case = case_for_resend_token(token)
    except MailLinkError as err:
        return render_template("public/link_not_found.html", message=err.message), 400
    form = ConfirmResendForm()
    if not form.validate_on_submit():
        return render_template("public/resend_confirm.html", form=form, case=case)
    new_token = new_access_token(case)
    record_audit("case.access_link_reissued", case_id=case.id)
    try:
        db.session.commit()
    except StaleDataError:  # the case changed meanwhile; following the link again works
        db.session.rollback()
        flash(_("Phản ánh vừa được cập nhật. Vui lòng bấm xác nhận lại."), "error")
        return redirect(url_for("public.confirm_resend", token=token)), 303
    flash(_("Đã cấp đường dẫn riêng mới; đường dẫn cũ không còn sử dụng được. "
            "Hãy lưu lại địa chỉ của trang này."), "success")
    return redirect(url_for("public.private_case", token=new_token)), 303


# Published answers ---------------------------------------------------------------

# Words too common to say two texts are about the same thing.
STOPWORDS = {
    "va", "cua", "la", "cac", "nhung", "cho", "duoc", "khong", "co", "trong", "voi", "ve", "nay", "da", "den", "tu",
    "theo", "tai", "mot", "nhu", "de", "thi", "ma", "khi", "nao", "gi", "rat", "cung", "hay", "hoac", "boi", "vi",
    "nen", "toi", "chung", "ban", "ho", "em", "anh", "chi", "ong", "ba", "xin", "hoi", "viec", "nguoi", "muon",
    "can",
}
_WORD = re.compile(r"\w+")


def similar_published(title: str, content: str, limit: int = 3) -> list[Case]:
    """Published cases sharing word pairs with a draft's title and content,
    diacritics ignored, most shared pairs first."""
    words = _WORD.findall(fold(f"{title} {content[:2000]}"))
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False) if a not in STOPWORDS and b not in STOPWORDS]
    terms = list(dict.fromkeys(pairs))[:20]
    if not terms:
        return []
    # terms is not empty, so the sum is a SQL expression, never the start value 0.
    score = cast(ColumnElement[int],
                 sum(when((Case.search_text.contains(term, autoescape=True), 1), else_=0) for term in terms))
    query = (select(Case).where(Case.published.is_(True), score >= min(2, len(terms)))
             .options(selectinload(Case.agency))
             .order_by(score.desc(), Case.published_at.desc()).limit(limit))
    return list(db.session.execute(query).scalars())


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=OFFICE_TZ), datetime(year + 1, 1, 1, tzinfo=OFFICE_TZ)


@bp.route("/published")
def published():
    """Published answers: searchable without diacritics, by field, agency and year."""
    q = (request.args.get("q") or "").strip()[:200]
    category = request.args.get("category", type=int)
    agency = request.args.get("agency", type=int)
    year = request.args.get("year", type=int)
    query = select(Case).where(Case.published.is_(True))
    for word in fold(q).split()[:10]:
        query = query.where(Case.search_text.contains(word, autoescape=True))
    if category:
        query = query.where(Case.category_id == category)
    if agency:
        query = query.where(Case.agency_id == agency)
    if year and 2000 <= year <= 2100:
        start, end = _year_bounds(year)
        query = query.where(Case.published_at >= start, Case.published_at < end)
    query = query.options(selectinload(Case.agency), selectinload(Case.category)) \
        .order_by(Case.published_at.desc(), Case.id.desc())
    first, last = db.session.execute(
        select(func.min(Case.published_at), func.max(Case.published_at)).where(Case.published.is_(True))).one()
    years = list(range(last.astimezone(OFFICE_TZ).year, first.astimezone(OFFICE_TZ).year - 1, -1)) if first else []
    filters = {"q": q, "category": category or "", "agency": agency or "", "year": year or ""}
    return render_template(
        "public/published.html", page=paginate(query), filters=filters, years=years,
        searching=any(filters.values()), query_args={k: v for k, v in filters.items() if v},
        categories=db.session.execute(select(Category).order_by(Category.name)).scalars().all(),
        agencies=db.session.execute(
            select(Agency).where(Agency.is_desk.is_(False)).order_by(Agency.name)).scalars().all(),
    )


@bp.route("/published/<code>")
def published_case(code: str):
    """One published question (anonymised) with its answer."""
    case = case_by_code(code)
    if case is None or not case.published:
        abort(404)
    return render_template("public/published_case.html", case=case)
