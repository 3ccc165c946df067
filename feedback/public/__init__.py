from flask import Blueprint

bp = Blueprint("public", __name__)

from . import intake, routes, tracking  # noqa: E402,F401
