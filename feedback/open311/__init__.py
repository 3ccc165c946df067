"""Open311 GeoReport v2 at ``/open311/v2`` (docs/design.md §8): categories
are services, cases are service requests, in JSON and XML, so existing
Open311 clients can submit and track without changes.

``routes`` maps the spec's URLs, ``documents`` builds its objects,
``intake`` turns a POSTed request into the API's submission, and
``formats`` writes JSON or XML, errors included.
"""
from flask import Blueprint

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

from .formats import register_open311_errors  # noqa: E402

register_open311_errors(bp)

from . import routes  # noqa: E402,F401
