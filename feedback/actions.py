"""One entry point from a named action and its parameters to the workflow.

The staff pages (form fields) and the JSON API (request body) both call
``perform``, so both run exactly the same transition with the same checks.
How each action reads its parameters is written in the transition table
(``workflow.rules``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import flash
from flask_babel import lazy_gettext as _l

from . import workflow as wf
from .extensions import db
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
            message = _l("Phiên bản không hợp lệ.")
            raise wf.InvalidInput(message, {"version": str(message)}) from None
    return handler(case, actor, params, version)


class Refusal:
    """What the workflow refused in a ``refused_action`` block, if anything:
    true when refused, with the message, the fields at fault and the status."""

    def __init__(self) -> None:
        self.error: wf.WorkflowError | None = None

    def __bool__(self) -> bool:
        return self.error is not None

    @property
    def message(self) -> Any:
        return self.error.message if self.error else ""

    @property
    def fields(self) -> dict[str, str]:
        return self.error.fields if self.error else {}

    @property
    def http_status(self) -> int:
        return self.error.http_status if self.error else 200


@contextmanager
def refused_action(flashed: bool = False) -> Iterator[Refusal]:
    """The one way HTML pages run a workflow change: the block calls the
    transition and commits with ``workflow.commit``; a refusal rolls the
    transaction back, is flashed as an error when ``flashed``, and is kept in
    the yielded ``Refusal`` for the page to show."""
    refusal = Refusal()
    try:
        yield refusal
    except wf.WorkflowError as error:
        db.session.rollback()
        refusal.error = error
        if flashed:
            flash(str(error.message), "error")
