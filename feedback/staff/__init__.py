from flask import Blueprint

bp = Blueprint("staff", __name__)

from . import deliveries, erasure, routes  # noqa: F401
