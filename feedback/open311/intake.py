"""A POSTed GeoReport v2 request as the JSON API's submission.

The spec's fields map onto what Decree 20 requires of a sender: name
(``first_name``, ``last_name``), postal address (``address_string``),
phone and e-mail. Our own fields travel as attributes listed in each
service's definition (``attribute[type]``, ``attribute[sender_kind]`` …).
Validation is the JSON API's, so both channels accept the same cases; its
field paths are named back as the Open311 parameters the client sent.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..json_fields import ValidationFailed
from ..models import Channel, SenderKind
from ..submission import parse_submission
from ..workflow import Submission
from .formats import Open311Error

TITLE_LENGTH = 120
# Our field → the Open311 parameter that carries it.
PARAMETERS = {
    "type": "attribute[type]", "sender": "first_name", "sender.kind": "attribute[sender_kind]",
    "sender.address": "address_string", "sender.phone": "phone", "sender.email": "email",
    "sender.id_number": "attribute[id_number]", "sender.tax_code": "attribute[tax_code]",
    "sender.representative": "first_name", "category": "service_code", "procedure": "attribute[procedure]",
    "title": "attribute[title]", "content": "description", "publish_consent": "attribute[publish_consent]",
}


def attribute(params: Mapping[str, str], code: str) -> str:
    return (params.get(f"attribute[{code}]") or "").strip()


def derived_title(description: str) -> str:
    """The description's first line, cut at a word near TITLE_LENGTH characters."""
    first_line = description.strip().splitlines()[0] if description.strip() else ""
    if len(first_line) <= TITLE_LENGTH:
        return first_line
    return first_line[:TITLE_LENGTH].rsplit(" ", 1)[0] + "…"


def submission_data(params: Mapping[str, str]) -> dict[str, Any]:
    """The JSON API's submission body for the POSTed parameters."""
    kind = attribute(params, "sender_kind") or SenderKind.individual.value
    business = kind == SenderKind.business.value
    person = " ".join(part for part in ((params.get("first_name") or "").strip(),
                                        (params.get("last_name") or "").strip()) if part)
    description = params.get("description") or ""
    return {
        "type": attribute(params, "type") or "report",
        "sender": {
            "kind": kind,
            "name": attribute(params, "business_name") if business else person,
            "address": params.get("address_string") or "",
            "phone": params.get("phone") or "",
            "email": params.get("email") or "",
            "id_number": None if business else (attribute(params, "id_number") or None),
            "tax_code": (attribute(params, "tax_code") or None) if business else None,
            "representative": (person or None) if business else None,
        },
        "category": params.get("service_code") or "",
        "procedure": attribute(params, "procedure") or None,
        "title": attribute(params, "title") or derived_title(description),
        "content": description,
        "publish_consent": attribute(params, "publish_consent") == "true",
    }


def parse_request(params: Mapping[str, str]) -> Submission:
    """A valid submission (channel ``open311``), or a 400 naming each bad parameter."""
    data = submission_data(params)
    try:
        return parse_submission(data, channel=Channel.open311.value)
    except ValidationFailed as failed:
        business = data["sender"]["kind"] == SenderKind.business.value
        problems = dict(failed.fields)
        if "content" in problems and not attribute(params, "title"):
            problems.pop("title", None)  # the title comes from the description: one error is enough
        raise Open311Error(400, *(
            f"{_parameter(path, business)}: {message}" for path, message in sorted(problems.items())
        )) from None


def _parameter(path: str, business: bool) -> str:
    if path == "sender.name":
        return "attribute[business_name]" if business else "first_name"
    return PARAMETERS.get(path, path)
