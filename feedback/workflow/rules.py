"""The transition table: the one place that says which action may start
from which status, who may take it, on what condition, how its parameters
are read, and whether it takes the case out of the actor's view.

From it come the guard at the top of every transition, the actions offered
on the staff case page and in the API (``available_actions``), the citizen's
``can_withdraw``, the named-action registry ``actions.perform`` runs, and the
staff pages' redirect after an action.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from typing import Any

from flask_babel import lazy_gettext as _l

from ..models import Case, Role, Status, User, utcnow
from . import params as read
from .core import Actor
from .errors import (
    STALE_MESSAGE,
    NotAllowedNow,
    PermissionDenied,
    StaleCase,
    WorkflowError,
)

NO_PERMISSION = _l("Bạn không có quyền thực hiện thao tác này.")
# Officers and leads act only on cases their agency holds now.
AGENCY_STAFF = frozenset({Role.officer, Role.lead})


@dataclass(frozen=True)
class Requirement:
    """A condition beyond the status, with the message shown when it fails."""

    holds: Callable[[Case, Actor, datetime], bool]
    message: Any


@dataclass(frozen=True)
class Call:
    """How a named action's parameters become the workflow call."""

    function: str
    params: Mapping[str, read.Reader] = field(default_factory=dict)
    versioned: bool = True

    def __call__(self, case: Case, actor: Actor, params: Mapping[str, Any], version: int | None) -> Case:
        # Looked up on the package when called: the transitions themselves
        # import this table for their guards.
        function = getattr(import_module(__package__), self.function)
        kwargs = {name: reader(params) for name, reader in self.params.items()}
        if self.versioned:
            kwargs["version"] = version
        function(case, actor, **kwargs)
        return case


@dataclass(frozen=True)
class Rule:
    """One action: where it may start, who may take it, and how."""

    from_statuses: frozenset[Status] | None  # None: any status
    roles: frozenset[Role] = frozenset()  # staff roles allowed
    citizen: bool = False
    system: bool = False
    agency_scoped: bool = False
    requires: tuple[Requirement, ...] = ()
    call: Call | None = None
    # Officers and leads see their agency's cases: after these the case is
    # no longer theirs, so the staff page goes back to the inbox.
    leaves_agency_view: bool = False
    denied: Any = NO_PERMISSION
    # Run by name from the staff pages and the API; the others are called by
    # their own page (the review request on the rating page) or job.
    named: bool = True


def _statuses(*statuses: Status) -> frozenset[Status]:
    return frozenset(statuses)


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


DESK = _roles(Role.desk, Role.admin)
AGENCY = _roles(Role.officer, Role.lead)
LEAD = _roles(Role.lead)
SUPERVISOR = _roles(Role.supervisor)
ANSWERED = _statuses(Status.responded, Status.closed)
UNANSWERED = _statuses(Status.submitted, Status.assigned, Status.in_progress, Status.needs_info,
                       Status.awaiting_approval)

TRANSITIONS: dict[str, Rule] = {
    # Staff recording a case received by letter, phone or in person (no case yet).
    "record": Rule(from_statuses=frozenset(), roles=DESK),
    "assign": Rule(_statuses(Status.submitted), DESK, leaves_agency_view=True, call=Call("assign_case", {
        "agency": read.text("agency"), "classification": read.raw("classification", "within_competence"),
        "note": read.text("note")})),
    "reject": Rule(_statuses(Status.submitted), DESK, leaves_agency_view=True,
                   call=Call("reject_case", {"reason": read.text("reason")})),
    "merge": Rule(_statuses(Status.submitted), DESK, leaves_agency_view=True,
                  call=Call("merge_case", {"into_code": read.text("into")})),
    "return_to_desk": Rule(_statuses(Status.assigned, Status.in_progress), AGENCY, agency_scoped=True,
                           leaves_agency_view=True, call=Call("return_to_desk", {"reason": read.text("reason")})),
    "accept": Rule(_statuses(Status.assigned), AGENCY, agency_scoped=True,
                   call=Call("accept_case", {"officer": read.officer()})),
    "assign_officer": Rule(_statuses(Status.in_progress, Status.needs_info), LEAD, agency_scoped=True,
                           call=Call("assign_officer", {"officer": read.officer(required=True)})),
    "transfer": Rule(_statuses(Status.assigned, Status.in_progress), AGENCY | {Role.desk}, agency_scoped=True,
                     leaves_agency_view=True,
                     call=Call("transfer_case", {"agency": read.text("agency"), "reason": read.text("reason")})),
    "request_info": Rule(_statuses(Status.in_progress), AGENCY, agency_scoped=True,
                         call=Call("request_information", {"message": read.text("message")})),
    "provide_info": Rule(_statuses(Status.needs_info), citizen=True,
                         denied=_l("Chỉ người gửi phản ánh được bổ sung thông tin."),
                         call=Call("provide_information", {"message": read.text("message")})),
    "close_incomplete": Rule(_statuses(Status.needs_info), system=True, requires=(
        Requirement(lambda case, actor, now: case.info_due is not None and now > case.info_due,
                    _l("Chưa hết hạn bổ sung thông tin.")),), named=False,
        call=Call("close_incomplete", versioned=False)),
    "answer": Rule(_statuses(Status.in_progress), AGENCY, agency_scoped=True,
                   call=Call("submit_answer", {"outcome": read.text("outcome"), "answer": read.text("answer")})),
    "approve": Rule(_statuses(Status.awaiting_approval), LEAD, agency_scoped=True, call=Call("approve_answer")),
    "send_back": Rule(_statuses(Status.awaiting_approval), LEAD, agency_scoped=True,
                      call=Call("send_back_answer", {"reason": read.text("reason")})),
    "request_extension": Rule(
        _statuses(Status.assigned, Status.in_progress, Status.awaiting_approval), AGENCY, agency_scoped=True,
        requires=(Requirement(lambda case, actor, now: case.extension_status not in ("requested", "approved"),
                              _l("Mỗi phản ánh chỉ được gia hạn một lần.")),),
        call=Call("request_extension", {"days": read.raw("days"), "reason": read.text("reason")})),
    "decide_extension": Rule(None, SUPERVISOR, requires=(
        Requirement(lambda case, actor, now: case.extension_status == "requested",
                    _l("Không có đề nghị gia hạn đang chờ quyết định.")),),
        call=Call("decide_extension", {"approve": read.flag("approve"), "note": read.text("note")})),
    "publish": Rule(ANSWERED, DESK, requires=(
        Requirement(lambda case, actor, now: bool(case.answer), _l("Phản ánh chưa có câu trả lời để công khai.")),
        Requirement(lambda case, actor, now: bool(case.publish_consent),
                    _l("Người gửi không đồng ý công khai phản ánh này.")),
        # The sender's consent must be on record: when, and the words agreed to.
        Requirement(lambda case, actor, now: bool(case.publish_consent_at and case.publish_consent_text),
                    _l("Không có bản ghi sự đồng ý công khai của người gửi (thời điểm và nội dung đã đồng ý).")),
        Requirement(lambda case, actor, now: not case.published, _l("Phản ánh này đã được công khai.")),
    ), call=Call("publish_case", {"public_title": read.text("public_title"),
                                  "public_content": read.text("public_content"),
                                  "public_answer": read.text("public_answer")})),
    "close": Rule(_statuses(Status.responded), _roles(Role.supervisor, Role.desk, Role.admin), system=True,
                  requires=(Requirement(lambda case, actor, now: actor.kind != "system" or (
                      case.rating_due is not None and now > case.rating_due), _l("Chưa hết thời hạn đánh giá.")),),
                  call=Call("close_case", {"reason": read.text("reason")})),
    "withdraw": Rule(UNANSWERED, citizen=True, denied=_l("Chỉ người gửi được rút phản ánh."),
                     call=Call("withdraw_case", {"reason": read.text("reason")})),
    "request_review": Rule(_statuses(Status.responded), citizen=True,
                           denied=_l("Chỉ người gửi được đề nghị xem xét lại."),
                           requires=(Requirement(lambda case, actor, now: case.rating_due is None
                                                 or now <= case.rating_due,
                                                 _l("Đã hết thời hạn đề nghị xem xét lại.")),), named=False,
                           call=Call("request_review", {"reason": read.text("reason")})),
    "decide_review": Rule(_statuses(Status.review_requested), SUPERVISOR,
                          call=Call("decide_review", {"reopen": read.flag("reopen"), "note": read.text("note")})),
    "reopen": Rule(ANSWERED | {Status.review_requested}, SUPERVISOR, requires=(
        Requirement(lambda case, actor, now: case.answered_at is not None,
                    _l("Chỉ mở lại phản ánh đã được trả lời.")),),
        call=Call("reopen_case", {"reason": read.text("reason")})),
    "note": Rule(None, AGENCY | {Role.desk, Role.supervisor}, agency_scoped=True,
                 call=Call("add_note", {"note": read.text("note")}, versioned=False)),
}

# The statuses from which the sender may still withdraw a case.
WITHDRAWABLE = TRANSITIONS["withdraw"].from_statuses


def _permits(rule: Rule, actor: Actor) -> bool:
    if actor.kind == "citizen":
        return rule.citizen
    if actor.kind == "system":
        return rule.system
    return actor.kind == "staff" and actor.user is not None and actor.role in rule.roles


def refused_actor(name: str, actor: Actor, case: Case | None = None) -> PermissionDenied | None:
    """Why ``actor`` may not take action ``name`` (on ``case``), or None."""
    rule = TRANSITIONS[name]
    if not _permits(rule, actor):
        return PermissionDenied(rule.denied)
    user = actor.user
    if case is not None and rule.agency_scoped and actor.role in AGENCY_STAFF and user is not None \
            and user.agency_id != case.agency_id:
        return PermissionDenied(_l("Phản ánh này không thuộc cơ quan của bạn."))
    return None


def refused_now(name: str, case: Case, actor: Actor, now: datetime | None = None) -> NotAllowedNow | None:
    """Why action ``name`` cannot start from the case as it is now, or None."""
    rule = TRANSITIONS[name]
    if rule.from_statuses is not None and case.status_enum not in rule.from_statuses:
        return NotAllowedNow(_l("Không thể thực hiện thao tác này khi phản ánh đang ở trạng thái hiện tại "
                                "(%(status)s).", status=case.status))
    now = now or utcnow()
    for requirement in rule.requires:
        if not requirement.holds(case, actor, now):
            return NotAllowedNow(requirement.message)
    return None


def guard(case: Case, actor: Actor, name: str, version: int | None = None,
          now: datetime | None = None) -> User | None:
    """Refuse action ``name`` unless the table allows it: who acts (and on
    which agency's case), from a page showing the current version, in a
    status and condition it may start from. Returns the acting user."""
    refusal: WorkflowError | None = refused_actor(name, actor, case)
    if refusal is None and version is not None and int(version) != case.version:
        refusal = StaleCase(STALE_MESSAGE)  # changed since the page was shown
    refusal = refusal or refused_now(name, case, actor, now)
    if refusal is not None:
        raise refusal
    return actor.user


def guard_actor(actor: Actor, name: str) -> User | None:
    """Refuse action ``name`` to an actor the table does not allow (for
    actions before there is a case, such as recording one)."""
    refusal = refused_actor(name, actor)
    if refusal is not None:
        raise refusal
    return actor.user


def allowed(case: Case, actor: Actor, name: str, now: datetime | None = None) -> bool:
    """Whether ``actor`` may take action ``name`` on the case now."""
    return refused_actor(name, actor, case) is None and refused_now(name, case, actor, now) is None


def actions_for(case: Case, actor: Actor, now: datetime | None = None) -> set[str]:
    """The named actions ``actor`` may take on the case now."""
    now = now or utcnow()
    return {name for name, rule in TRANSITIONS.items() if rule.call is not None and allowed(case, actor, name, now)}


def available_actions(case: Case, user: User | None) -> set[str]:
    """The actions a staff viewer may attempt now, for showing buttons (the
    transitions still check everything when called). None for non-staff."""
    if user is None or not user.is_staff:
        return set()
    return actions_for(case, Actor(user))


def can_withdraw(case: Case) -> bool:
    """Whether the sender may still withdraw the case."""
    return allowed(case, Actor.citizen(), "withdraw")


def can_provide_info(case: Case) -> bool:
    """Whether the sender may answer a request for information now."""
    return allowed(case, Actor.citizen(), "provide_info")


def leaves_view(name: str, user: User) -> bool:
    """Whether a successful ``name`` takes the case out of ``user``'s working view."""
    rule = TRANSITIONS.get(name)
    return rule is not None and rule.leaves_agency_view and user.role_enum in AGENCY_STAFF


def action_handlers() -> dict[str, Call]:
    """The named actions with their parameter handling, for ``actions.perform``."""
    return {name: rule.call for name, rule in TRANSITIONS.items() if rule.call is not None and rule.named}
