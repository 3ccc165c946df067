"""JSON or XML, as the URL's extension asks, and the spec's error list.

The XML follows the GeoReport v2 examples: a list becomes its plural root
(``services``, ``service_requests``, ``errors``) holding one element per
item (``service``, ``request``, ``error``); booleans are ``true``/``false``
and a missing value is an empty element.
"""
from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..workflow import WorkflowError

FORMATS = ("json", "xml")
XML_MIMETYPE = "text/xml"
# The element of each item in a list, by the list's own element.
LIST_ITEMS = {
    "services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
    "endpoints": "endpoint", "formats": "format", "errors": "error",
}


class Open311Error(Exception):
    """An error answered as the spec's list: ``[{"code", "description"}]``."""

    def __init__(self, status: int, *descriptions: str):
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions or ("Error",)


def _fill(element: Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(SubElement(element, LIST_ITEMS.get(element.tag, "item")), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def to_xml(root: str, value: Any) -> bytes:
    element = Element(root)
    _fill(element, value)
    return tostring(element, encoding="utf-8", xml_declaration=True)


def render(value: Any, fmt: str, root: str, status: int = 200) -> Response:
    """``value`` as JSON, or as XML under ``root``."""
    if fmt == "xml":
        return Response(to_xml(root, value), status=status, mimetype=XML_MIMETYPE)
    response = jsonify(value)
    response.status_code = status
    return response


def requested_format() -> str:
    """The format of the URL being served (JSON unless it ends in .xml)."""
    fmt = (request.view_args or {}).get("fmt")
    if fmt in FORMATS:
        return fmt
    return "xml" if request.path.endswith(".xml") else "json"


def error_list(status: int, *descriptions: str) -> Response:
    return render([{"code": status, "description": text} for text in descriptions],
                  requested_format(), "errors", status)


def register_open311_errors(bp: Blueprint) -> None:
    """Every failure of ``bp``'s routes as the spec's error list."""

    @bp.errorhandler(Open311Error)
    def open311_error(err: Open311Error):
        db.session.rollback()
        return error_list(err.status, *err.descriptions)

    @bp.errorhandler(WorkflowError)
    def workflow_error(err: WorkflowError):
        db.session.rollback()
        return error_list(400, str(err.message))

    @bp.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        db.session.rollback()
        return error_list(err.code or 500, err.description or err.name)

    @bp.errorhandler(Exception)
    def server_error(err: Exception):
        db.session.rollback()
        current_app.logger.exception("Open311 request failed")
        return error_list(500, "Internal server error.")
