"""Staff pages: the agency inbox (sorted by next deadline) and case pages."""
from __future__ import annotations

from collections.abc import Sequence

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import joinedload, selectinload

from .. import workflow as wf
from ..access import (
    CONTACT_REVEAL_MIN_REASON,
    RevealRefused,
    case_by_code,
    get_scoped_case,
    holds_contacts,
    inbox_cases,
    may_reveal_contacts,
    reveal_contacts,
    revealed_until,
    roles_required,
    scoped_cases,
    show_contacts,
)
from ..actions import perform, refused_action
from ..deadlines import due_soon_limit, load_calendar
from ..extensions import db
from ..jobs import delivery_problems, is_uncertain, problem_label, uncertain_detail
from ..labels import CLASSIFICATION, OUTCOME
from ..mail import TEMPLATE_TITLES
from ..models import (
    OPEN_STATUSES,
    Agency,
    Attachment,
    Case,
    CaseEvent,
    Category,
    Rating,
    Role,
    Status,
    User,
    deadline_order,
    utcnow,
)
from ..notifications import case_notifications
from ..pagination import paginate
from ..privacy import pending_erasure_requests
from ..redaction import publication_draft
from ..staffing import unstaffed_agency_ids
from . import bp
from .forms import check_assign_form

STAFF = (Role.desk, Role.officer, Role.lead, Role.supervisor, Role.admin)


@bp.route("/")
@roles_required(*STAFF)
def inbox():
    """The viewer's working list, earliest deadline first."""
    status = request.args.get("status", "")
    if status not in {s.value for s in Status}:
        status = ""
    now = utcnow()
    # Every category is read for the filter first and held by the session:
    # each listed case's category then comes from it, with no query of its own.
    categories = db.session.execute(select(Category).order_by(Category.name)).scalars().all()
    query = inbox_list(current_user, request.args, now)
    page = paginate(query)
    officers: Sequence[User] = []
    if current_user.agency_id and not current_user.sees_all_agencies:
        officers = db.session.execute(
            select(User).where(User.agency_id == current_user.agency_id,
                               User.role.in_([Role.officer.value, Role.lead.value])).order_by(User.full_name)
        ).scalars().all()
    return render_template(
        "staff/inbox.html", page=page, now=now, soon=due_soon_limit(now),
        categories=categories, officers=officers, status=status, statuses=[s.value for s in Status],
        filters={k: v for k, v in request.args.items() if k != "page"},
    )



# What the case page shows: the one-row relations joined to the case itself,
# the two lists in one query each, so three queries however long the timeline.
CASE_PAGE = (
    joinedload(Case.category), joinedload(Case.procedure), joinedload(Case.agency),
    joinedload(Case.proposed_agency), joinedload(Case.officer), joinedload(Case.rating),
    selectinload(Case.events).joinedload(CaseEvent.actor), selectinload(Case.attachments),
)


def _load_case(code: str) -> Case:
    """The case in the viewer's scope with everything its page shows, in a
    fixed handful of queries however long the timeline is."""
    query = scoped_cases(current_user).options(*CASE_PAGE)
    case = case_by_code(code, query)
    if case is None:
        abort(404)
    return case


def inbox_list(user: User, args, now) -> Select:
    """The inbox's cases for ``user`` and the filters in ``args``, earliest
    deadline first (``deadline_order``, on ``ix_case_agency_next_due_id`` for
    an agency, ``ix_case_next_due_id`` city-wide)."""
    query = inbox_cases(user)
    status = args.get("status", "")
    if status in {s.value for s in Status}:
        query = query.where(Case.status == status)
    elif not args.get("rated_low"):
        # The working list: what still needs the agency (answered cases wait
        # for the citizen and are one filter away); rated cases are answered
        # or closed, so "rated low" spans every status.
        query = query.where(Case.status.in_([s.value for s in OPEN_STATUSES]))
    category = args.get("category", type=int)
    if category:
        query = query.where(Case.category_id == category)
    officer = args.get("officer", type=int)
    if officer:
        query = query.where(Case.officer_id == officer)
    if args.get("rated_low"):
        low = select(Rating.case_id).where(Rating.is_low)
        query = query.where(Case.id.in_(low))
    if args.get("overdue"):
        query = query.where(Case.next_due < now)
    # No loader for the category: the inbox reads every category for its
    # filter first, so each case finds its own in the session.
    query = query.options(selectinload(Case.officer), selectinload(Case.agency))
    return query.order_by(*deadline_order())


@bp.route("/cases/<code>")
@roles_required(*STAFF)
def case_detail(code: str):
    case = _load_case(code)
    allowed = wf.available_actions(case, current_user)
    agencies: Sequence[Agency] = []
    officers: Sequence[User] = []
    unstaffed: set[int] = set()
    if allowed & {"assign", "transfer"}:
        agencies = db.session.execute(select(Agency).where(Agency.active.is_(True))
                                      .order_by(Agency.kind, Agency.name)).scalars().all()
        unstaffed = unstaffed_agency_ids()
    if allowed & {"accept", "assign_officer"} and current_user.role_enum == Role.lead:
        officers = db.session.execute(
            select(User).where(User.agency_id == case.agency_id, User.active.is_(True),
                               User.role.in_([Role.officer.value, Role.lead.value])).order_by(User.full_name)
        ).scalars().all()
    calendar = load_calendar()
    now = utcnow()
    countdown = calendar.working_days_until(now, case.next_due) if case.next_due else None
    suggestion = None
    if "publish" in allowed:
        suggestion = publication_draft(case)
    contacts = show_contacts(current_user, case, channel="page")
    page = render_template(
        "staff/case.html", case=case, allowed=allowed, agencies=agencies, officers=officers, now=now,
        countdown=countdown, outcomes=OUTCOME, classifications=CLASSIFICATION, suggestion=suggestion,
        errors=session.pop("action_errors", {}), problems=delivery_problems(case), problem_label=problem_label,
        is_uncertain=is_uncertain, uncertain_detail=uncertain_detail,
        template_titles=TEMPLATE_TITLES, unstaffed=unstaffed, notifications=case_notifications(case),
        contacts=contacts,
        contacts_until=revealed_until(current_user, case) if contacts and not holds_contacts(current_user, case)
        else None,
        may_reveal=not contacts and may_reveal_contacts(current_user, case),
        reveal_min=CONTACT_REVEAL_MIN_REASON, reveal_error=session.pop("reveal_error", None),
    )
    if contacts:
        db.session.commit()  # the logged view; after rendering, which a commit would make reload everything
    return page


@bp.route("/cases/<code>/contacts", methods=["POST"])
@roles_required(*STAFF)
def case_contacts(code: str):
    """Open the sender's contacts of one case for a while, with a logged reason."""
    case = _load_case(code)
    try:
        reveal_contacts(current_user, case, request.form.get("reason", ""))
    except RevealRefused as refused:
        session["reveal_error"] = str(refused)
        return redirect(url_for("staff.case_detail", code=code, _anchor="sender")), 303
    db.session.commit()
    return redirect(url_for("staff.case_detail", code=code, _anchor="sender")), 303


@bp.route("/cases/<code>/act", methods=["POST"])
@roles_required(*STAFF)
def case_action(code: str):
    """Run one workflow action from the case page's forms."""
    case = _load_case(code)
    name = request.form.get("action", "")
    with refused_action(flashed=True) as refused:
        check_assign_form(name, request.form)
        perform(case, wf.Actor(current_user), name, request.form)
        wf.commit()
    if refused:
        session["action_errors"] = {"action": name, **refused.fields}
        return redirect(url_for("staff.case_detail", code=code)), 303
    flash(_("Đã cập nhật phản ánh %(code)s.", code=code), "success")
    if wf.leaves_view(name, current_user):
        return redirect(url_for("staff.inbox")), 303
    return redirect(url_for("staff.case_detail", code=code)), 303


@bp.route("/cases/<code>/files/<int:attachment_id>")
@roles_required(*STAFF)
def case_attachment(code: str, attachment_id: int):
    from ..attachments import serve_attachment

    case = get_scoped_case(current_user, code)
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.case_id != case.id:
        abort(404)
    return serve_attachment(attachment)


@bp.route("/desk")
@roles_required(Role.desk, Role.admin)
def desk_queue():
    """New and returned cases, oldest first, with their classify deadline."""
    page = paginate(desk_queue_list(current_user))
    now = utcnow()
    return render_template("staff/desk.html", page=page, now=now, soon=due_soon_limit(now),
                           erasure_requests=pending_erasure_requests())


def desk_queue_list(user: User) -> Select:
    """Submitted cases, oldest first: the order of ``ix_case_status_received_at_id``."""
    return scoped_cases(user).where(Case.status == Status.submitted.value).options(
        selectinload(Case.category), selectinload(Case.proposed_agency)
    ).order_by(Case.received_at, Case.id)


@bp.route("/decisions")
@roles_required(Role.supervisor)
def decisions():
    """Extension requests and review requests waiting for a supervisor."""
    query = scoped_cases(current_user).where(
        or_(Case.extension_status == "requested", Case.status == Status.review_requested.value)
    ).options(selectinload(Case.agency), selectinload(Case.category)).order_by(*deadline_order())
    page = paginate(query)
    return render_template("staff/decisions.html", page=page)


@bp.route("/desk/record", methods=["GET", "POST"])
@roles_required(Role.desk, Role.admin)
def record_case():
    """Record a case received off-line on the citizen's behalf; deadlines count
    from the real date of receipt."""
    from .forms import RecordCaseForm

    form = RecordCaseForm()
    if form.validate_on_submit():
        submission = form.to_submission()
        submission.channel = form.channel.data
        submission.received_at = form.received_at_utc()
        with refused_action(flashed=True) as refused:
            case, _token = wf.submit_case(submission, actor=wf.Actor(current_user))
            wf.commit()
        if not refused:
            flash(_("Đã ghi nhận phản ánh %(code)s.", code=case.code), "success")
            return redirect(url_for("staff.case_detail", code=case.code)), 303
    return render_template("staff/record.html", form=form)
