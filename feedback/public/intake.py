"""Citizen intake (placeholder until the intake pages land)."""
from flask import render_template

from . import bp


@bp.route("/submit")
def submit():
    return render_template("public/index.html")


@bp.route("/lookup")
def lookup():
    return render_template("public/index.html")


@bp.route("/published")
def published():
    return render_template("public/index.html")
