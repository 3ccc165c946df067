"""One entry point from a named action and its parameters to the workflow.

The staff pages (form fields) and the JSON API (request body) both call
``perform``, so both run exactly the same transition with the same checks.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from . import workflow as wf
from .extensions import db
from .models import Case, User

ACTIONS: dict[str, Callable[[Case, wf.Actor, Mapping[str, Any], int | None], Case]] = {}


def action(name: str):
    def register(fn):
        ACTIONS[name] = fn
        return fn

    return register


def _text(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    return value.strip() if isinstance(value, str) else ""


def _bool(params: Mapping[str, Any], key: str) -> bool:
    value = params.get(key)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on", "approve", "reopen"}


def _officer(params: Mapping[str, Any]) -> User | None:
    value = params.get("officer")
    if value in (None, ""):
        return None
    query = select(User)
    if isinstance(value, int) or str(value).isdigit():
        query = query.where(User.id == int(value))
    else:
        query = query.where(func.lower(User.email) == str(value).strip().lower())
    user = db.session.execute(query).scalar_one_or_none()
    if user is None:
        raise wf.InvalidInput(_l("Không tìm thấy cán bộ."), {"officer": str(_l("Không tìm thấy cán bộ."))})
    return user


@action("assign")
def _assign(case, actor, p, version):
    return wf.assign_case(case, actor, _text(p, "agency"), p.get("classification") or "within_competence",
                          note=_text(p, "note"), version=version)


@action("reject")
def _reject(case, actor, p, version):
    return wf.reject_case(case, actor, _text(p, "reason"), version=version)


@action("merge")
def _merge(case, actor, p, version):
    return wf.merge_case(case, actor, _text(p, "into"), version=version)


@action("accept")
def _accept(case, actor, p, version):
    return wf.accept_case(case, actor, officer=_officer(p), version=version)


@action("assign_officer")
def _assign_officer(case, actor, p, version):
    officer = _officer(p)
    if officer is None:
        raise wf.InvalidInput(_l("Chọn cán bộ."), {"officer": str(_l("Chọn cán bộ."))})
    return wf.assign_officer(case, actor, officer, version=version)


@action("transfer")
def _transfer(case, actor, p, version):
    return wf.transfer_case(case, actor, _text(p, "agency"), _text(p, "reason"), version=version)


@action("return_to_desk")
def _return(case, actor, p, version):
    return wf.return_to_desk(case, actor, _text(p, "reason"), version=version)


@action("request_info")
def _request_info(case, actor, p, version):
    return wf.request_information(case, actor, _text(p, "message"), version=version)


@action("provide_info")
def _provide_info(case, actor, p, version):
    return wf.provide_information(case, actor, _text(p, "message"), version=version)


@action("answer")
def _answer(case, actor, p, version):
    return wf.submit_answer(case, actor, _text(p, "outcome"), _text(p, "answer"), version=version)


@action("approve")
def _approve(case, actor, p, version):
    return wf.approve_answer(case, actor, version=version)


@action("send_back")
def _send_back(case, actor, p, version):
    return wf.send_back_answer(case, actor, _text(p, "reason"), version=version)


@action("request_extension")
def _request_extension(case, actor, p, version):
    return wf.request_extension(case, actor, p.get("days"), _text(p, "reason"), version=version)


@action("decide_extension")
def _decide_extension(case, actor, p, version):
    return wf.decide_extension(case, actor, _bool(p, "approve"), note=_text(p, "note"), version=version)


@action("decide_review")
def _decide_review(case, actor, p, version):
    return wf.decide_review(case, actor, _bool(p, "reopen"), _text(p, "note"), version=version)


@action("publish")
def _publish(case, actor, p, version):
    return wf.publish_case(case, actor, _text(p, "public_title"), _text(p, "public_content"), version=version)


@action("withdraw")
def _withdraw(case, actor, p, version):
    return wf.withdraw_case(case, actor, _text(p, "reason"), version=version)


@action("close")
def _close(case, actor, p, version):
    return wf.close_case(case, actor, _text(p, "reason"), version=version)


@action("reopen")
def _reopen(case, actor, p, version):
    return wf.reopen_case(case, actor, _text(p, "reason"), version=version)


@action("note")
def _note(case, actor, p, version):
    wf.add_note(case, actor, _text(p, "note"))
    return case


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
