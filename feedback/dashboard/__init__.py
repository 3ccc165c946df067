"""Supervisor dashboard, deadline lists, six-monthly report and exports.

``stats`` holds the figures as pure query functions (the JSON API reuses
them), ``caselists`` the filtered case lists, ``exports`` the CSV/XLSX
streams, ``charts`` the inline SVG, ``periods`` the reporting periods;
``routes`` only maps URLs to them.
"""
from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from . import routes  # noqa: E402,F401
