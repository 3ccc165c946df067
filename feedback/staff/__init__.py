from flask import Blueprint

bp = Blueprint("staff", __name__)

from . import routes  # noqa: E402,F401
from . import deliveries  # noqa: E402,F401
