"""The deadline policy: working days per deadline, and which deadline is open
in which status (docs/design.md §4)."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from ..models import Case, CaseType, Status

# Each deadline a category may override: its column and the configuration key
# holding the city-wide default. The admin pages edit the same columns.
POLICY_DAYS = {
    "classify_days": "CLASSIFY_DAYS",
    "report_answer_days": "REPORT_ANSWER_DAYS",
    "recommendation_answer_days": "RECOMMENDATION_ANSWER_DAYS",
    "extension_max_days": "EXTENSION_MAX_DAYS",
    "info_reply_days": "INFO_REPLY_DAYS",
}

_KIND_COLUMNS = {"classify": "classify_days", "extension": "extension_max_days", "info": "info_reply_days"}


def _policy_column(case: Case, kind: str) -> str:
    if kind == "answer":
        return "recommendation_answer_days" if case.type == CaseType.recommendation.value else "report_answer_days"
    if kind not in _KIND_COLUMNS:
        raise ValueError(f"unknown deadline kind {kind}")
    return _KIND_COLUMNS[kind]


def policy_days(case: Case, kind: str) -> int:
    """Working days allowed for ``kind`` (classify, answer, extension, info, rating),
    from the case's category when it overrides the configured default."""
    config = current_app.config
    if kind == "rating":
        return config["RATING_WINDOW_DAYS"]
    column = _policy_column(case, kind)
    category = case.category
    return (category and getattr(category, column)) or config[POLICY_DAYS[column]]


# Which deadline is open in which status: the reminder scan and the inbox
# both read next_due, so it must always be the earliest of these.
OPEN_DEADLINES = {
    Status.submitted: ("classify_due",),
    Status.assigned: ("answer_due",),
    Status.in_progress: ("answer_due",),
    Status.awaiting_approval: ("answer_due",),
    Status.needs_info: ("info_due",),
    Status.review_requested: ("review_due",),
    Status.responded: ("rating_due",),
}


def open_deadlines(case: Case) -> dict[str, datetime]:
    names = OPEN_DEADLINES.get(case.status_enum, ())
    return {name: getattr(case, name) for name in names if getattr(case, name) is not None}


def refresh_next_due(case: Case) -> None:
    case.next_due = min(due.values()) if (due := open_deadlines(case)) else None
