"""The OpenAPI 3.1 document of ``/api/v1``, built from the same declarations
the code checks (``validation``), served at ``/api/v1/openapi.json``.

Request bodies and query parameters come from the field specs; the
responses below describe what ``serializers`` returns. ``tests/test_openapi``
holds the two together: every route is documented, and real responses
validate against their schemas (schemathesis checks the rest on a live server).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import jsonify

from ..json_fields import Field, object_schema
from ..models import CaseType, SenderKind, Status
from ..submission import sender_schema, submission_schema
from . import bp
from .auth import CASE_TOKEN_HEADER
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .validation import (
    CASE_FILTERS,
    PROCEDURE_FILTERS,
    RATING_FIELDS,
    STATS_FILTERS,
    TRANSITION_PARAMS,
    transition_schema,
)

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
INTEGER = {"type": "integer"}
DATETIME = {"type": "string", "format": "date-time"}
NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: Mapping[str, Any], required: tuple[str, ...] | str = "all") -> dict[str, Any]:
    names = list(properties) if required == "all" else list(required)
    return {"type": "object", "properties": dict(properties), "required": names}


# Response schemas ---------------------------------------------------------------------

CASE_COMMON = {
    "code": {"type": "string", "examples": ["PAKN.20260302.0001"]},
    "status": {"type": "string", "enum": [s.value for s in Status]},
    "type": {"type": "string", "enum": [t.value for t in CaseType]},
    "category": {**STRING, "description": "Category code."},
    "agency": {**STRING, "description": "Code of the agency holding the case (the desk's until assigned)."},
    "proposed_agency": {**NULLABLE_STRING, "description": "The sender's pick, or the category's default agency."},
    "received_at": DATETIME,
    "classify_due": NULLABLE_DATETIME,
    "answer_due": {**NULLABLE_DATETIME, "description": "Set when assigned; moved by an approved extension."},
    "next_due": {**NULLABLE_DATETIME, "description": "The earliest open deadline."},
}
EVENT = obj({
    "at": DATETIME, "action": STRING, "from_status": NULLABLE_STRING, "to_status": NULLABLE_STRING,
    "actor_kind": {"type": "string", "enum": ["staff", "citizen", "system"]}, "note": NULLABLE_STRING,
    "actor": {**NULLABLE_STRING, "description": "Staff view only: who acted."},
    "public": {"type": "boolean", "description": "Staff view only: shown to the sender."},
}, required=("at", "action", "from_status", "to_status", "actor_kind", "note"))
CASE_DETAILS = {
    "answered_at": NULLABLE_DATETIME,
    "published_answer": nullable(ref("PublishedAnswer")),
    "version": {**INTEGER, "description": "Full views: send it back with a transition."},
    "channel": STRING, "procedure": NULLABLE_STRING, "title": STRING, "content": STRING,
    "publish_consent": {"type": "boolean"},
    "sender": ref("SenderView"),
    "info_due": NULLABLE_DATETIME, "rating_due": NULLABLE_DATETIME, "review_due": NULLABLE_DATETIME,
    "closed_at": NULLABLE_DATETIME,
    "answer": nullable(obj({"outcome": NULLABLE_STRING, "text": STRING})),
    "rejection_reason": NULLABLE_STRING, "merged_into": NULLABLE_STRING,
    "rating": nullable(ref("Rating")),
    "extension": nullable(obj({"status": STRING, "days": {"type": ["integer", "null"]}, "reason": STRING})),
    "timeline": {"type": "array", "items": ref("TimelineEvent")},
    "actions": {"type": "array", "items": STRING,
                "description": "What the caller may do now (transition actions; rate for the sender)."},
    "classification": NULLABLE_STRING, "officer": NULLABLE_STRING,
    "draft": nullable(obj({"outcome": NULLABLE_STRING, "text": STRING})),
    "answer_on_time": {"type": ["boolean", "null"]}, "answer_lateness_days": {"type": ["integer", "null"]},
}
CASE = {
    "type": "object",
    "description": "A case. The public view (no credentials) has the common fields, answered_at and "
                   "published_answer only; the citizen view (X-Case-Token) and the staff view (bearer, in "
                   "scope) add the details, the staff view the internal ones.",
    "properties": {**CASE_COMMON, "view": {"type": "string", "enum": ["public", "citizen", "staff"]},
                   **CASE_DETAILS},
    "required": [*CASE_COMMON, "view", "answered_at", "published_answer"],
}
FIGURES = {
    **{name: {"type": "integer", "minimum": 0} for name in (
        "received", "open", "overdue", "due_soon", "answered", "on_time", "late", "ratings", "review_requests")},
    "on_time_rate": {"type": ["number", "null"], "description": "Fraction of answers on time (target 0.95)."},
    "median_working_days_to_answer": {"type": ["number", "null"]},
    "satisfaction_rate": {"type": ["number", "null"], "description": "Fraction of ratings at levels 4 and 5."},
}


def schemas() -> dict[str, Any]:
    return {
        "Error": obj({"error": obj({
            "code": {**INTEGER, "description": "The HTTP status."},
            "message": STRING,
            "message_vi": {**STRING, "description": "The workflow's own (Vietnamese) message, when it refused."},
            "reason": {**STRING, "description": "stale_version, not_allowed_now, validation_failed, …"},
            "fields": {"type": "object", "additionalProperties": STRING,
                       "description": "Dotted path (sender.phone) → what is wrong with it."},
        }, required=("code", "message"))}),
        "Agency": obj({"code": STRING, "name": STRING, "name_en": NULLABLE_STRING, "kind": STRING,
                       "parent": NULLABLE_STRING, "is_desk": {"type": "boolean"}}),
        "Category": obj({"code": STRING, "name": STRING, "name_en": NULLABLE_STRING, "parent": NULLABLE_STRING,
                         "default_agency": NULLABLE_STRING}),
        "Procedure": obj({"code": STRING, "name": STRING, "kind": STRING, "category": NULLABLE_STRING}),
        "Sender": sender_schema(),
        "Submission": submission_schema(),
        "SenderView": obj({
            "kind": {"type": "string", "enum": [k.value for k in SenderKind]}, "name": STRING,
            "address": NULLABLE_STRING, "phone": NULLABLE_STRING, "email": NULLABLE_STRING,
            "id_number": NULLABLE_STRING, "tax_code": NULLABLE_STRING, "representative": NULLABLE_STRING,
            "contacts_hidden": {"type": "boolean", "description": (
                "Staff view: true when the caller may not see the sender's contact details (address, phone, "
                "e-mail, ID number, tax code), which are then null. The desk, admins and the officers and "
                "leads of the agency holding the case see them; a supervisor sees one case's contacts for an "
                "hour after giving a reason on its staff page. Every view with contacts is audit-logged.")},
        }),
        "PublishedAnswer": obj({"title": STRING, "content": STRING, "outcome": NULLABLE_STRING, "answer": STRING,
                                "answered_at": NULLABLE_DATETIME, "published_at": NULLABLE_DATETIME}),
        "TimelineEvent": EVENT,
        "Case": CASE,
        "CaseCreated": {"allOf": [ref("Case"), obj({
            "access_token": {**STRING, "description": "The private token: send it as X-Case-Token. Shown once."},
            "private_url": STRING, "lookup_url": STRING})]},
        "CaseListItem": obj({**CASE_COMMON, "title": STRING, "version": INTEGER, "officer": NULLABLE_STRING}),
        "Transition": {"oneOf": [transition_schema(name) for name in TRANSITION_PARAMS],
                       "description": "An action with its parameters; citizens (X-Case-Token) may only "
                                      "provide_info and withdraw."},
        "RatingInput": object_schema(RATING_FIELDS),
        "Rating": obj({"level": {"type": "integer", "minimum": 1, "maximum": 5},
                       "resolved": {"type": "string", "enum": ["yes", "partly", "no"]},
                       "comment": NULLABLE_STRING, "created_at": DATETIME, "updated_at": DATETIME}),
        "Stats": obj({"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
                      "agency": NULLABLE_STRING, **FIGURES,
                      "by_agency": {"type": "array", "items": ref("AgencyStats")}}),
        "AgencyStats": obj({"agency": STRING, "agency_name": STRING, **FIGURES}),
    }


# Operations ------------------------------------------------------------------------------

ERROR_TEXT = {
    400: "Malformed JSON or query string, or a path or query holding NUL, control characters or lone "
         "surrogates (refused for every operation).",
    401: "Missing, wrong, revoked or expired credentials.",
    403: "The caller's role may not do this, or the token is read-only.",
    404: "No such case (or not in the caller's scope).",
    409: "The case changed meanwhile (stale version) or its status does not allow this.",
    413: "The body is larger than the limit for JSON requests.",
    422: "Invalid fields; see error.fields.", 429: "Rate limit reached.",
}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def responses(ok: dict[int, tuple[str, dict[str, Any]]], *errors: int) -> dict[str, Any]:
    documented = {str(code): {"description": text, **json_content(schema)} for code, (text, schema) in ok.items()}
    # The input guard refuses forbidden characters in any path or query string.
    for code in sorted({400, *errors}):
        documented[str(code)] = {"description": ERROR_TEXT[code], **json_content(ref("Error"))}
    return documented


def query_parameters(fields: Mapping[str, Field]) -> list[dict[str, Any]]:
    return [{"name": name, "in": "query", "required": False, "schema": field.schema()}
            for name, field in fields.items()]


CODE_PARAMETER = {"name": "code", "in": "path", "required": True,
                  "schema": {"type": "string", "maxLength": 32}, "description": "The case code."}
PUBLIC: list[dict[str, list[str]]] = [{}]
STAFF: list[dict[str, list[str]]] = [{"bearer": []}]
STAFF_OR_SENDER: list[dict[str, list[str]]] = [{"bearer": []}, {"caseToken": []}]
ANYONE: list[dict[str, list[str]]] = [{}, {"bearer": []}, {"caseToken": []}]


def listing(item: str, paged: bool = False, cursor: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {"items": {"type": "array", "items": ref(item)}}
    if paged:
        properties.update(
            total={"type": "integer", "minimum": 0,
                   "description": "How many match, counted up to a cap (10,000 by default)."},
            total_exact={"type": "boolean", "description": "false: more than total match (the count stopped)."},
            page={"type": ["integer", "null"] if cursor else "integer", "minimum": 1,
                  "description": "The page number; null when the page was asked for by cursor." if cursor
                  else "The page number."},
            per_page={"type": "integer", "minimum": 1})
    if cursor:
        properties["next_cursor"] = {**NULLABLE_STRING,
                                     "description": "Pass as cursor for the next page; null on the last page."}
    return obj(properties)


def paths() -> dict[str, Any]:
    return {
        "/agencies": {"get": {
            "operationId": "listAgencies", "summary": "Active agencies", "security": PUBLIC,
            "responses": responses({200: ("Agencies", listing("Agency"))}, 429)}},
        "/categories": {"get": {
            "operationId": "listCategories", "summary": "Active categories with their default agency",
            "security": PUBLIC, "responses": responses({200: ("Categories", listing("Category"))}, 429)}},
        "/procedures": {"get": {
            "operationId": "searchProcedures", "summary": "Procedures and legal documents, searchable",
            "security": PUBLIC, "parameters": query_parameters(PROCEDURE_FILTERS),
            "responses": responses({200: ("Procedures", listing("Procedure", paged=True))}, 400, 429)}},
        "/cases": {
            "post": {
                "operationId": "submitCase", "summary": "Submit a case (public; rate-limited)",
                "description": "With Idempotency-Key, a retry within 24 hours (same caller, same body) gets "
                               "the first response again, header Idempotent-Replayed: true, and no second case.",
                "security": [{}, {"bearer": []}],
                "parameters": [{"name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
                                "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"}}],
                "requestBody": {"required": True, **json_content(ref("Submission"))},
                "responses": responses({201: ("The case, with its private token", ref("CaseCreated"))},
                                       400, 401, 413, 422, 429)},
            "get": {
                "operationId": "listCases", "summary": "Cases in the caller's scope, earliest deadline first",
                "security": STAFF, "parameters": query_parameters(CASE_FILTERS),
                "responses": responses({200: ("A page of cases", listing("CaseListItem", paged=True, cursor=True))},
                                       400, 401, 403, 429)}},
        "/cases/{code}": {"get": {
            "operationId": "getCase", "summary": "A case: public view, or in full for its sender and staff",
            "description": "No credentials: the public view. X-Case-Token (which wins over a bearer token): "
                           "the sender's view; a wrong or replaced token is a 401. Bearer: the staff view, "
                           "404 outside the caller's scope; the sender's contact details only where the "
                           "contact rule allows (see SenderView.contacts_hidden), and such a view is logged.",
            "security": ANYONE, "parameters": [CODE_PARAMETER],
            "responses": responses({200: ("The case", ref("Case"))}, 401, 403, 404, 429)}},
        "/cases/{code}/transitions": {"post": {
            "operationId": "transitionCase", "summary": "Run a workflow action on the case",
            "security": STAFF_OR_SENDER, "parameters": [CODE_PARAMETER],
            "requestBody": {"required": True, **json_content(ref("Transition"))},
            "responses": responses({200: ("The updated case with its new version", ref("Case"))},
                                   400, 401, 403, 404, 409, 413, 422, 429)}},
        "/cases/{code}/rating": {"post": {
            "operationId": "rateCase", "summary": "The sender rates the answer",
            "security": [{"caseToken": []}], "parameters": [CODE_PARAMETER],
            "requestBody": {"required": True, **json_content(ref("RatingInput"))},
            "responses": responses({
                200: ("The rating, updated", obj({"code": STRING, "rating": ref("Rating")})),
                201: ("The rating, recorded", obj({"code": STRING, "rating": ref("Rating")})),
            }, 400, 401, 403, 409, 413, 422, 429)}},
        "/stats": {"get": {
            "operationId": "getStats", "summary": "Headline figures (leads and supervisors)",
            "security": STAFF, "parameters": query_parameters(STATS_FILTERS),
            "responses": responses({200: ("Figures for the period", ref("Stats"))}, 400, 401, 403, 429)}},
        "/openapi.json": {"get": {
            "operationId": "getOpenApi", "summary": "This document", "security": PUBLIC,
            "responses": {"200": {"description": "OpenAPI 3.1", **json_content({"type": "object"})}}}},
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hải Phòng citizen and business feedback API",
            "version": "1.0.0",
            "description": "Submit and follow feedback (phản ánh, kiến nghị) and run the same workflow as "
                           "the staff pages. Times are ISO 8601 with offset (+07:00). Errors are "
                           '{"error": {"code", "message", "fields"?}}.',
        },
        "servers": [{"url": "/api/v1"}],
        "security": PUBLIC,
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An API token (flask tokens create), acting as its user. A token may be "
                                          "read-only (403 on any POST), limited to one agency's cases, and may "
                                          "expire (401 \"The bearer token has expired.\"). It is revoked when its "
                                          "user is deactivated or is no longer staff."},
                "caseToken": {"type": "apiKey", "in": "header", "name": CASE_TOKEN_HEADER,
                              "description": "The private access token of one case, for its sender."},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI document of this API."""
    return jsonify(document())
