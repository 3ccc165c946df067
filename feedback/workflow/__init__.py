"""The case life cycle (docs/design.md §3): one function per transition.

Every transition starts with the guard the transition table (``rules``)
derives for it: the actor's role and agency, the case's status, version and
any further condition. It then records a CaseEvent, recomputes deadlines and
``next_due``, writes the notifications to send and the audit row, and
flushes. The caller commits once (``commit``), so the change, its event, its
notifications and its audit row land together or not at all. Nothing else
assigns ``Case.status``.

Modules: ``errors`` (refusals), ``core`` (actor, recording, lookups),
``policy`` (deadline policy), ``links`` (codes, private and rating links),
``rules`` (the transition table), and the transitions by section:
``intake``, ``desk``, ``agency``, ``decisions``, ``closing``.
"""
from .agency import (
    accept_case,
    approve_answer,
    assign_officer,
    close_incomplete,
    provide_information,
    request_extension,
    request_information,
    send_back_answer,
    submit_answer,
    transfer_case,
)
from .closing import add_note, close_case, publish_case, withdraw_case
from .core import Actor, commit, desk_agency, transition
from .decisions import decide_extension, decide_review, reopen_case, request_review
from .desk import assign_case, merge_case, reject_case, return_to_desk
from .errors import (
    STALE_MESSAGE,
    InvalidInput,
    NotAllowedNow,
    PermissionDenied,
    StaleCase,
    WorkflowError,
)
from .intake import Submission, submit_case
from .links import (
    case_for_token,
    new_access_token,
    next_case_code,
    rating_token,
    rating_url,
)
from .policy import (
    OPEN_DEADLINES,
    POLICY_DAYS,
    open_deadlines,
    policy_days,
    refresh_next_due,
)
from .rules import (
    TRANSITIONS,
    WITHDRAWABLE,
    action_handlers,
    actions_for,
    allowed,
    available_actions,
    can_provide_info,
    can_withdraw,
    guard,
    leaves_view,
)

__all__ = [
    "OPEN_DEADLINES", "POLICY_DAYS", "STALE_MESSAGE", "TRANSITIONS", "WITHDRAWABLE", "Actor", "InvalidInput",
    "NotAllowedNow", "PermissionDenied", "StaleCase", "Submission", "WorkflowError", "accept_case",
    "action_handlers", "actions_for", "add_note", "allowed", "approve_answer", "assign_case", "assign_officer",
    "available_actions", "can_provide_info", "can_withdraw", "case_for_token", "close_case", "close_incomplete",
    "commit",
    "decide_extension", "decide_review", "desk_agency", "guard", "leaves_view", "merge_case", "new_access_token",
    "next_case_code", "open_deadlines", "policy_days", "provide_information", "publish_case", "rating_token",
    "rating_url", "refresh_next_due", "reject_case", "reopen_case", "request_extension", "request_information",
    "request_review", "return_to_desk", "send_back_answer", "submit_answer", "submit_case", "transfer_case",
    "transition", "withdraw_case",
]
