"""Supervisor dashboard, deadline lists, six-monthly report and exports.

The figures and reporting periods are in ``feedback.reporting`` (the JSON
API reuses them); here ``caselists`` holds the filtered case lists,
``exports`` the CSV/XLSX streams, ``charts`` the inline SVG, and ``routes``
only maps URLs to them.
"""
from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from . import routes  # noqa: E402,F401
