"""What the API accepts, declared once with ``fields.Field``: the checks
below and the OpenAPI document (``openapi.py``) are both built from these
declarations, so the document cannot drift from the code.

The sender's domain rules (phone, tax code, citizen ID) reuse the public
form's patterns; codes are looked up among active rows.
"""
from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from ..extensions import db
from ..models import Agency, CaseType, Category, Channel, Classification, Outcome, Procedure, SenderKind, Status
from ..public.forms import CITIZEN_ID, CONTENT_MAX, CONTENT_MIN, TAX_CODE, TITLE_MAX, normalise_phone
from ..ratings import COMMENT_MAX, LEVELS, RESOLVED
from ..workflow import Submission
from .fields import NOT_BLANK, PAGE_ARGS, Field, ValidationFailed, check_object, object_schema

# Submission ------------------------------------------------------------------

SENDER_FIELDS = {
    "kind": Field("string", required=True, enum=tuple(k.value for k in SenderKind)),
    "name": Field("string", required=True, max_length=255,
                  description="Full name, or the business's name when kind is business."),
    "address": Field("string", required=True, max_length=500, description="Postal address (Decree 20)."),
    "phone": Field("string", required=True, max_length=30,
                   description="Vietnamese mobile or landline number; +84 and separators accepted."),
    "email": Field("string", required=True, max_length=255, format="email",
                   description="Receives the receipt, the private link and the answer."),
    "id_number": Field("string", nullable=True, max_length=20,
                       description="Individuals: the 12-digit personal identification number (optional)."),
    "tax_code": Field("string", nullable=True, max_length=20,
                      description="Businesses (required): 10 digits, or 10 digits, a hyphen and 3 digits."),
    "representative": Field("string", nullable=True, max_length=255,
                            description="Businesses (required): the representative's full name."),
}
SUBMISSION_FIELDS = {
    "type": Field("string", required=True, enum=tuple(t.value for t in CaseType),
                  description="report (phản ánh) or recommendation (kiến nghị)."),
    "sender": Field("object", required=True),
    "category": Field("string", required=True, max_length=40, description="A category code."),
    "procedure": Field("string", nullable=True, max_length=60, description="A procedure code (optional)."),
    "agency": Field("string", nullable=True, max_length=40,
                    description="The agency the sender thinks is responsible (optional); "
                                "by default the category's."),
    "title": Field("string", required=True, max_length=TITLE_MAX),
    "content": Field("string", required=True, min_length=CONTENT_MIN, max_length=CONTENT_MAX),
    "publish_consent": Field("boolean", required=True,
                             description="Consent to publish an anonymised version with the answer."),
    "language": Field("string", enum=("vi", "en"), description="Language of the messages to the sender."),
}
BUSINESS_ONLY_REQUIRED = ("tax_code", "representative")


def sender_schema() -> dict[str, Any]:
    return object_schema(SENDER_FIELDS, allOf=[{
        "if": {"properties": {"kind": {"const": SenderKind.business.value}}},
        "then": {"required": list(BUSINESS_ONLY_REQUIRED),
                 "properties": {name: {"type": "string", "pattern": NOT_BLANK} for name in BUSINESS_ONLY_REQUIRED}},
    }])


def submission_schema() -> dict[str, Any]:
    schema = object_schema(SUBMISSION_FIELDS)
    schema["properties"]["sender"] = {"$ref": "#/components/schemas/Sender"}
    return schema


def parse_submission(data: Any, channel: str = Channel.api.value) -> Submission:
    """A valid submission as the workflow's Submission, or ValidationFailed
    listing every problem (``sender.phone``, ``category`` …)."""
    errors: dict[str, str] = {}
    values = check_object(data, SUBMISSION_FIELDS, errors=errors)
    sender = check_object(values.get("sender"), SENDER_FIELDS, "sender.", errors) \
        if isinstance(values.get("sender"), dict) else {}
    _check_sender(sender, errors)
    category = _by_code(Category, values.get("category"), "category", errors)
    procedure = _by_code(Procedure, values.get("procedure"), "procedure", errors)
    agency = _by_code(Agency, values.get("agency"), "agency", errors)
    if agency is not None and agency.is_desk:
        errors["agency"] = "Choose the agency responsible, not the receiving desk."
    if errors:
        raise ValidationFailed(errors)
    business = sender["kind"] == SenderKind.business.value
    return Submission(
        type=values["type"], sender_kind=sender["kind"], sender_name=sender["name"],
        sender_address=sender["address"], sender_phone=normalise_phone(sender["phone"]),
        sender_email=sender["email"], title=values["title"], content=values["content"],
        category_id=category.id, procedure_id=procedure.id if procedure else None,
        proposed_agency_id=agency.id if agency else None,
        sender_id_number="" if business else (sender.get("id_number") or "").replace(" ", ""),
        sender_tax_code=(sender.get("tax_code") or "") if business else "",
        sender_representative=(sender.get("representative") or "") if business else "",
        publish_consent=values["publish_consent"], language=values.get("language") or "vi", channel=channel,
    )


def _check_sender(sender: dict[str, Any], errors: dict[str, str]) -> None:
    """The sender's domain rules, on the fields whose type was right."""
    def given(name: str) -> str:
        value = sender.get(name)
        return value if isinstance(value, str) and f"sender.{name}" not in errors else ""

    if given("phone") and normalise_phone(given("phone")) is None:
        errors["sender.phone"] = ("Not a Vietnamese phone number: a 10-digit mobile (0912 345 678) or a "
                                  "landline with its area code (0225 3842 123); +84 is accepted.")
    if given("email"):
        try:
            validate_email(given("email"), check_deliverability=False)
        except EmailNotValidError:
            errors["sender.email"] = "Not a valid e-mail address (e.g. ten@example.vn)."
    if sender.get("kind") == SenderKind.business.value:
        for name in BUSINESS_ONLY_REQUIRED:
            if not sender.get(name) and f"sender.{name}" not in errors:
                errors[f"sender.{name}"] = "Required for a business."
        if given("tax_code") and not TAX_CODE.fullmatch(given("tax_code")):
            errors["sender.tax_code"] = "A tax code is 10 digits, or 10 digits, a hyphen and 3 digits."
    elif given("id_number") and not CITIZEN_ID.fullmatch(given("id_number").replace(" ", "")):
        errors["sender.id_number"] = "A personal identification number has exactly 12 digits."


def _by_code(model, code: str | None, name: str, errors: dict[str, str]):
    """The active row with ``code``; an unknown or inactive code is a field error."""
    if not code or name in errors:
        return None
    row = db.session.execute(select(model).where(model.code == code)).scalar_one_or_none()
    if row is None or not row.active:
        errors[name] = f"Unknown {name} code."
        return None
    return row


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
                "public_content": Field("string", required=True, max_length=20000)},
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
