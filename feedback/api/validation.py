"""What the API accepts, declared once with ``json_fields.Field``: the checks
below and the OpenAPI document (``openapi.py``) are both built from these
declarations, so the document cannot drift from the code.

The submission itself is checked by ``feedback.submission``, shared with
Open311 and the web forms.
"""
from __future__ import annotations

from typing import Any

from ..json_fields import Field, ValidationFailed, check_object, object_schema
from ..models import Classification, Outcome, Status
from ..ratings import COMMENT_MAX, LEVELS, RESOLVED
from .fields import PAGE_ARGS

# Transitions ------------------------------------------------------------------

_REASON = Field("string", required=True, max_length=5000)
_NOTE = Field("string", max_length=5000)
_AGENCY = Field("string", required=True, max_length=40, description="An agency code.")
_OFFICER = Field(("string", "integer"), description="The officer's e-mail address or user id.")

# Every action of feedback.actions with the parameters it reads; an action
# missing here is refused by the API, and tests/test_openapi fails.
TRANSITION_PARAMS: dict[str, dict[str, Field]] = {
    "assign": {"agency": _AGENCY, "note": _NOTE,
               "classification": Field("string", enum=tuple(c.value for c in Classification
                                                            if c != Classification.rejected))},
    "reject": {"reason": _REASON},
    "merge": {"into": Field("string", required=True, max_length=32, description="The code of the case kept.")},
    "accept": {"officer": _OFFICER},
    "assign_officer": {"officer": Field(("string", "integer"), required=True,
                                        description="The officer's e-mail address or user id.")},
    "transfer": {"agency": _AGENCY, "reason": _REASON},
    "return_to_desk": {"reason": _REASON},
    "request_info": {"message": _REASON},
    "provide_info": {"message": _REASON},
    "answer": {"outcome": Field("string", required=True, enum=tuple(o.value for o in Outcome)),
               "answer": Field("string", required=True, max_length=20000)},
    "approve": {},
    "send_back": {"reason": _REASON},
    "request_extension": {"days": Field("integer", required=True, minimum=1, maximum=365,
                                        description="Working days; at most the category's extension limit."),
                          "reason": _REASON},
    "decide_extension": {"approve": Field("boolean", required=True), "note": _NOTE},
    "decide_review": {"reopen": Field("boolean", required=True), "note": _REASON},
    "publish": {"public_title": Field("string", required=True, max_length=255),
                "public_content": Field("string", required=True, max_length=20000),
                "public_answer": Field("string", required=True, max_length=20000,
                                       description="The answer as it will be published, without the sender's data.")},
    "withdraw": {"reason": _NOTE},
    "close": {"reason": _NOTE},
    "reopen": {"reason": _REASON},
    "note": {"note": _REASON},
}
CITIZEN_ACTIONS = ("provide_info", "withdraw")
VERSION = Field("integer", required=True, minimum=1, description="The case's version as last read.")


def transition_fields(action: str) -> dict[str, Field]:
    return {"action": Field("string", required=True, enum=(action,)), "version": VERSION,
            **TRANSITION_PARAMS[action]}


def transition_schema(action: str) -> dict[str, Any]:
    schema = object_schema(transition_fields(action), title=action)
    schema["properties"]["action"] = {"const": action}
    return schema


def parse_transition(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The action's name and its parameters (with ``version``), type-checked."""
    action = data.get("action")
    if not isinstance(action, str) or action not in TRANSITION_PARAMS:
        raise ValidationFailed({"action": f"Must be one of: {', '.join(sorted(TRANSITION_PARAMS))}."})
    errors: dict[str, str] = {}
    values = check_object(data, transition_fields(action), errors=errors)
    if errors:
        raise ValidationFailed(errors)
    return action, {name: value for name, value in values.items() if value is not None and name != "action"}


# Rating ------------------------------------------------------------------------

RATING_FIELDS = {
    "level": Field("integer", required=True, minimum=min(LEVELS), maximum=max(LEVELS),
                   description="1 very dissatisfied … 5 very satisfied."),
    "resolved": Field("string", required=True, enum=RESOLVED, description="Was the problem resolved?"),
    "comment": Field("string", nullable=True, max_length=COMMENT_MAX),
}


def parse_rating(data: Any) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values = check_object(data, RATING_FIELDS, errors=errors)
    if errors:
        raise ValidationFailed(errors)
    return values


# List filters ------------------------------------------------------------------

CASE_FILTERS = {
    "status": Field("string", enum=tuple(s.value for s in Status)),
    "agency": Field("string", max_length=40, description="Code of the agency holding the case."),
    "category": Field("string", max_length=40, description="Category code."),
    "overdue": Field("boolean", description="true: only cases whose next deadline has passed."),
    "due_before": Field("string", format="date-time", description="Only cases whose next deadline is earlier."),
    "cursor": Field("string", max_length=200,
                    description="Where the page starts: next_cursor from the previous page, as given (opaque). "
                                "Reads deep into a long list at the cost of the first page; page is then ignored. "
                                "A cursor this API did not give out is a 400."),
    **PAGE_ARGS,
}
PROCEDURE_FILTERS = {
    "q": Field("string", max_length=100, description="Words of the code or title; diacritics ignored."),
    **PAGE_ARGS,
}
STATS_FILTERS = {
    "from": Field("string", format="date", description="First day (local), default 1 January this year."),
    "to": Field("string", format="date", description="Last day (local, included), default today."),
    "agency": Field("string", max_length=40, description="Agency code (supervisors; a lead sees their own)."),
}
