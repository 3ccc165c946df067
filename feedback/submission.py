"""What a submission must hold, whichever way it comes: the web form, the
desk's form for letters and calls, the JSON API and Open311.

The sender's rules (phone, tax code, citizen ID, text lengths) are declared
here once; ``submission_forms`` builds the web forms on them and
``parse_submission`` checks a JSON body with them. Phone numbers are stored
in their national form (0912345678).
"""
from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .extensions import db
from .json_fields import NOT_BLANK, Field, ValidationFailed, check_object, object_schema
from .models import Agency, CaseType, Category, Channel, Procedure, SenderKind
from .workflow import Submission

TITLE_MAX = 255
# The consent the sender gives, word for word: the web form's box shows it,
# the API and Open311 documentation quote it, and the case records it as
# shown (in the sender's language) with the time it was given.
PUBLISH_CONSENT = _l("Tôi đồng ý để nội dung phản ánh, sau khi đã xoá thông tin cá nhân, "
                     "được công khai cùng câu trả lời trên cổng thông tin của thành phố.")
CONTENT_MIN, CONTENT_MAX = 20, 10000
PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
MOBILE = re.compile(r"0[35789]\d{8}")
LANDLINE = re.compile(r"02\d{8,9}")
TAX_CODE = re.compile(r"\d{10}(-\d{3})?")
CITIZEN_ID = re.compile(r"\d{12}")


def normalise_phone(value: str | None) -> str | None:
    """``+84 912.345.678`` → ``0912345678``; None unless it is a Vietnamese
    mobile (0 + 9 digits) or landline (02 + 8 or 9 digits) number."""
    digits = PHONE_SEPARATORS.sub("", value or "")
    for prefix in ("+84", "0084"):
        if digits.startswith(prefix):
            digits = "0" + digits[len(prefix):]
    if MOBILE.fullmatch(digits) or LANDLINE.fullmatch(digits):
        return digits
    return None


def stripped(value):
    """Text without its outer spaces (a WTForms filter); anything else as is."""
    return value.strip() if isinstance(value, str) else value


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
                             description="Consent to publish an anonymised version with the answer. true records "
                                         "the sender's agreement, with the time, to this wording (in their language): "
                                         "\u201cTôi đồng ý để nội dung phản ánh, sau khi đã xoá thông tin cá nhân, "
                                         "được công khai cùng câu trả lời trên cổng thông tin của thành phố.\u201d"),
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
        publish_consent_text=consent_wording(values.get("language") or "vi") if values["publish_consent"] else "",
    )


def consent_wording(language: str) -> str:
    """:data:`PUBLISH_CONSENT` as a sender reading ``language`` is shown it."""
    with force_locale(language if language in ("vi", "en") else "vi"):
        return str(PUBLISH_CONSENT)


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
