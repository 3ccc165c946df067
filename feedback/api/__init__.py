"""The JSON API at ``/api/v1`` (docs/design.md §8): the same workflow as
the staff pages, for the agencies' own systems and the national portal.

``routes`` maps the case URLs and ``figures`` the statistics; ``auth`` says
who calls, ``validation`` declares what is accepted, ``serializers`` what is
shown, ``idempotency`` replays retried submissions, ``openapi`` documents it
all from the same declarations, and ``errors`` keeps every failure JSON.
"""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from .errors import register_api_errors  # noqa: E402

register_api_errors(bp)

from . import figures, openapi, routes  # noqa: E402,F401
