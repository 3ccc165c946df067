"""Administration (docs/design.md §2): agencies, accounts, categories and
their deadline policy, the procedure catalogue, API tokens, the calendar."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import accounts, agencies, audit_log, catalogue, routes  # noqa: F401
