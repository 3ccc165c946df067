"""The transition table says the same thing to the buttons and to the workflow.

For every case state × every kind of actor (each staff role, in the case's
agency and in another one where that matters, the citizen and the system),
the actions offered are exactly the actions the workflow accepts: calling any
other action is refused with PermissionDenied or NotAllowedNow, and calling an
offered one (with valid parameters) is not.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from feedback import workflow as wf
from feedback.actions import ACTIONS, perform
from feedback.extensions import db
from feedback.models import Role, utcnow


def _answered(days_left: int = 5) -> dict:
    now = utcnow()
    return dict(answer="Cơ quan đã hướng dẫn thực hiện theo quy định.", outcome="explained",
                answered_at=now - timedelta(days=1), rating_due=now + timedelta(days=days_left))


def _in_work(**kw) -> dict:
    now = utcnow()
    return dict(assigned_at=now - timedelta(days=2), answer_due=now + timedelta(days=8), **kw)


# Each state: its status and the fields the further conditions read.
STATES = {
    "submitted": ("submitted", lambda: dict(classify_due=utcnow() + timedelta(days=3))),
    "assigned": ("assigned", _in_work),
    "in_progress": ("in_progress", lambda: _in_work(with_officer=True)),
    "in_progress, extension requested": ("in_progress", lambda: _in_work(
        with_officer=True, extension_status="requested", extension_requested_days=2, extension_reason="Cần xác minh.")),
    "in_progress, extension approved": ("in_progress", lambda: _in_work(
        with_officer=True, extension_status="approved", extension_days=2)),
    "needs_info": ("needs_info", lambda: _in_work(
        with_officer=True, info_requested_at=utcnow() - timedelta(days=1), info_due=utcnow() + timedelta(days=5))),
    "needs_info, reply overdue": ("needs_info", lambda: _in_work(
        with_officer=True, info_requested_at=utcnow() - timedelta(days=30), info_due=utcnow() - timedelta(days=1))),
    "awaiting_approval": ("awaiting_approval", lambda: _in_work(
        with_officer=True, draft_outcome="explained", draft_answer="Dự thảo trả lời.")),
    "awaiting_approval, extension requested": ("awaiting_approval", lambda: _in_work(
        with_officer=True, draft_outcome="explained", draft_answer="Dự thảo trả lời.",
        extension_status="requested", extension_requested_days=2, extension_reason="Cần xác minh.")),
    "responded": ("responded", _answered),
    "responded, sender consents to publishing": ("responded", lambda: dict(_answered(), publish_consent=True)),
    "responded, already published": ("responded", lambda: dict(
        _answered(), publish_consent=True, published=True, public_title="Tiêu đề", public_content="Nội dung")),
    "responded, rating window over": ("responded", lambda: _answered(days_left=-1)),
    "review_requested": ("review_requested", lambda: dict(_answered(), review_due=utcnow() + timedelta(days=3))),
    "closed": ("closed", lambda: dict(_answered(), publish_consent=True, closed_at=utcnow())),
    "closed without an answer": ("closed", lambda: dict(closed_at=utcnow(), close_reason="incomplete")),
    "rejected": ("rejected", lambda: dict(rejection_reason="Ngoài phạm vi.", closed_at=utcnow())),
    "merged": ("merged", lambda: dict(closed_at=utcnow())),
    "withdrawn": ("withdrawn", lambda: dict(closed_at=utcnow())),
}

ACTORS = ("desk", "admin", "supervisor", "officer in the agency", "officer of another agency",
          "lead in the agency", "lead of another agency", "citizen", "system")


@pytest.fixture
def world(make):
    """The case's agency, another agency, the desk and one account per role."""
    desk_agency = make.desk_agency()
    agency, other = make.agency(), make.agency()
    users = {
        "desk": make.user(Role.desk, agency=desk_agency),
        "admin": make.user(Role.admin),
        "supervisor": make.user(Role.supervisor, agency=desk_agency),
        "officer in the agency": make.user(Role.officer, agency=agency),
        "officer of another agency": make.user(Role.officer, agency=other),
        "lead in the agency": make.user(Role.lead, agency=agency),
        "lead of another agency": make.user(Role.lead, agency=other),
    }
    duplicate_of = make.case(agency=agency, status="in_progress")
    return dict(make=make, desk=desk_agency, agency=agency, other=other, users=users, duplicate_of=duplicate_of)


def _case_in(world, state: str):
    status, fields = STATES[state]
    values = fields()
    officer = world["users"]["officer in the agency"]
    if values.pop("with_officer", False):
        values["officer_id"] = officer.id
    holder = world["desk"] if status == "submitted" else world["agency"]
    return world["make"].case(agency=holder, status=status, **values)


def _actor(world, who: str) -> wf.Actor:
    if who == "citizen":
        return wf.Actor.citizen()
    if who == "system":
        return wf.Actor.system()
    return wf.Actor(world["users"][who])


def _offered(case, actor: wf.Actor) -> set[str]:
    if actor.kind == "staff":
        return wf.available_actions(case, actor.user)  # what the staff case page shows
    return wf.actions_for(case, actor)


def _valid_params(world, name: str) -> dict:
    """Parameters that pass the action's own input checks."""
    return {
        "assign": {"agency": world["other"].code, "classification": "within_competence"},
        "merge": {"into": world["duplicate_of"].code},
        "assign_officer": {"officer": world["users"]["officer in the agency"].id},
        "transfer": {"agency": world["other"].code, "reason": "Thuộc thẩm quyền cơ quan khác."},
        "request_info": {"message": "Vui lòng gửi bản chụp giấy tờ."},
        "provide_info": {"message": "Tôi gửi bổ sung bản chụp."},
        "answer": {"outcome": "explained", "answer": "Cơ quan đã hướng dẫn."},
        "request_extension": {"days": 2, "reason": "Cần xác minh thực địa."},
        "decide_extension": {"approve": True, "note": "Đồng ý."},
        "decide_review": {"reopen": False, "note": "Câu trả lời đúng quy định."},
        "publish": {"public_title": "Thủ tục xây dựng kéo dài", "public_content": "Hồ sơ chậm có kết quả.",
                    "public_answer": "Sở đã chỉ đạo giải quyết hồ sơ."},
        "note": {"note": "Đã gọi điện cho người gửi."},
    }.get(name, {"reason": "Lý do cụ thể."})


def _accepted(world, case, actor: wf.Actor) -> set[str]:
    """The actions the workflow does not refuse for this actor now; each is
    tried on the case as it is (named actions as the pages and the API run
    them, the others through the table's own handler) and rolled back."""
    accepted = set()
    for name, rule in sorted(wf.TRANSITIONS.items()):
        if rule.call is None:
            continue  # recording a case: there is no case to act on yet
        params = {**_valid_params(world, name), "version": case.version}
        try:
            if name in ACTIONS:
                perform(case, actor, name, params)
            else:
                rule.call(case, actor, params, case.version)
        except (wf.PermissionDenied, wf.NotAllowedNow):
            pass
        else:
            accepted.add(name)
        finally:
            db.session.rollback()
    return accepted


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("state", list(STATES))
def test_an_action_is_offered_exactly_when_the_workflow_accepts_it(world, state, who):
    case = _case_in(world, state)
    actor = _actor(world, who)
    offered = _offered(case, actor)
    assert offered == _accepted(world, case, actor)


def test_the_pages_and_the_api_run_the_named_actions_of_the_table():
    named = {name for name, rule in wf.TRANSITIONS.items() if rule.call is not None and rule.named}
    assert set(ACTIONS) == named
    assert {"request_review", "close_incomplete", "record"}.isdisjoint(ACTIONS)


def test_the_sender_may_withdraw_only_what_is_not_answered_yet(world):
    assert wf.can_withdraw(_case_in(world, "needs_info"))
    assert not wf.can_withdraw(_case_in(world, "responded"))


def test_a_lead_is_offered_approval_of_a_drafted_answer_and_an_officer_is_not(world):
    case = _case_in(world, "awaiting_approval")
    lead, officer = world["users"]["lead in the agency"], world["users"]["officer in the agency"]
    assert wf.available_actions(case, lead) == {"approve", "send_back", "request_extension", "note"}
    assert wf.available_actions(case, officer) == {"request_extension", "note"}


def test_other_agencies_staff_are_offered_nothing_on_a_case_in_work(world):
    case = _case_in(world, "in_progress")
    assert wf.available_actions(case, world["users"]["lead of another agency"]) == set()


def test_the_system_closes_an_answered_case_only_after_its_rating_window(world):
    assert wf.actions_for(_case_in(world, "responded"), wf.Actor.system()) == set()
    assert wf.actions_for(_case_in(world, "responded, rating window over"), wf.Actor.system()) == {"close"}
