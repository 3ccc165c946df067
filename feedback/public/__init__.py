from flask import Blueprint

bp = Blueprint("public", __name__)

from . import info_link, intake, rights, routes, tracking  # noqa: E402,F401
