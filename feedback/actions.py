"""One entry point from a named action and its parameters to the workflow.

The staff pages (form fields) and the JSON API (request body) both call
``perform``, so both run exactly the same transition with the same checks.
How each action reads its parameters is written in the transition table
(``workflow.rules``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from . import workflow as wf
from .models import Case

ACTIONS: dict[str, Callable[[Case, wf.Actor, Mapping[str, Any], int | None], Case]] = dict(wf.action_handlers())


def perform(case: Case, actor: wf.Actor, name: str, params: Mapping[str, Any]) -> Case:
    """Run the named transition; raises WorkflowError subclasses on refusal.
    ``version`` in params, when given, must match the case's version."""
    handler = ACTIONS.get(name)
    if handler is None:
        raise wf.InvalidInput(_l("Thao tác không hợp lệ."), {"action": str(_l("Thao tác không hợp lệ."))})
    raw_version = params.get("version")
    version = None
    if raw_version not in (None, ""):
        try:
            version = int(raw_version)
        except (TypeError, ValueError):
            raise wf.InvalidInput(_l("Phiên bản không hợp lệ."), {"version": str(_l("Phiên bản không hợp lệ."))})
    return handler(case, actor, params, version)
