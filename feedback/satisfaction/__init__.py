from flask import Blueprint

bp = Blueprint("satisfaction", __name__)

from . import routes  # noqa: E402,F401
