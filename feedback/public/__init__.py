from flask import Blueprint

bp = Blueprint("public", __name__)

from . import intake, routes  # noqa: E402,F401
