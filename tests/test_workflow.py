"""The case life cycle: every transition, every forbidden one, deadlines,
on-time results and concurrent changes (docs/design.md §3 and §4)."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback import workflow as wf
from feedback.deadlines import OFFICE_TZ
from feedback.extensions import db
from feedback.models import AuditLog, Case, CaseEvent, Notification
from feedback.workflow import Actor

from .helpers import local, submit


def close_of(y, m, d) -> datetime:
    """17:00 in Hải Phòng, the close of office hours a deadline ends at."""
    return datetime(y, m, d, 17, 0, tzinfo=OFFICE_TZ)


# Staff in the world fixture are workflow Actors here.
pytestmark = pytest.mark.world_actors

MONDAY = local(2026, 3, 2)  # 09:00, the default submission time


def in_progress(world, at=None) -> Case:
    at = at or local(2026, 3, 2)
    case, _ = submit(world.category, at, publish_consent=True)
    wf.assign_case(case, world.desk, world.justice, now=at)
    wf.accept_case(case, world.officer, now=at)
    db.session.commit()
    return case


def actions(case) -> list[str]:
    return [e.action for e in db.session.execute(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).scalars()]


def templates(case) -> list[str]:
    return [n.template for n in db.session.execute(
        select(Notification).where(Notification.case_id == case.id).order_by(Notification.id)).scalars()]


# Receipt and the desk -----------------------------------------------------


def test_a_new_case_sits_with_the_desk_with_a_classify_deadline(world):
    case, _ = submit(world.category, local(2026, 3, 6, 10))  # Friday 10:00
    assert case.status == "submitted"
    assert case.agency_id == world.desk_agency.id
    assert case.proposed_agency_id == world.justice.id  # the category's default
    assert case.code.startswith("PAKN.20260306.")
    # Friday counts as day 0; 5 working days later is next Friday.
    assert case.classify_due == close_of(2026, 3, 13)
    assert case.next_due == case.classify_due
    assert actions(case) == ["submitted"]
    assert templates(case) == ["receipt"]


def test_case_codes_count_up_within_a_day(world):
    first, _ = submit(world.category, local(2026, 3, 2, 8))
    second, _ = submit(world.category, local(2026, 3, 2, 9))
    assert first.code == "PAKN.20260302.0001" and second.code == "PAKN.20260302.0002"


def test_received_after_hours_counts_from_the_next_working_day(world):
    case, _ = submit(world.category, local(2026, 3, 6, 18))  # Friday 18:00 → effective Monday 9 March
    assert case.classify_due == close_of(2026, 3, 16)


def test_desk_assigns_to_the_agency_and_the_answer_clock_starts(world):
    case, _ = submit(world.category, MONDAY)
    wf.assign_case(case, world.desk, world.justice, note="Đúng thẩm quyền", version=case.version,
                   now=local(2026, 3, 3, 10))
    db.session.commit()
    assert case.status == "assigned" and case.agency_id == world.justice.id
    assert case.classify_on_time is True
    # Tuesday 3 March + 10 working days = Tuesday 17 March.
    assert case.answer_due == close_of(2026, 3, 17)
    assert case.next_due == case.answer_due
    assert set(templates(case)) == {"receipt", "assigned"}
    audit = db.session.execute(select(AuditLog).where(AuditLog.case_id == case.id)).scalars().all()
    assert [a.action for a in audit] == ["case.assigned"]


def test_a_recommendation_gets_fifteen_working_days(world):
    case, _ = submit(world.category, MONDAY, type="recommendation")
    wf.assign_case(case, world.desk, world.justice, now=local(2026, 3, 2))
    # Monday 2 March + 15 working days = Monday 23 March.
    assert case.answer_due == close_of(2026, 3, 23)


def test_category_policy_overrides_the_default(world):
    world.category.report_answer_days = 3
    db.session.commit()
    case, _ = submit(world.category, MONDAY)
    wf.assign_case(case, world.desk, world.justice, now=local(2026, 3, 2))
    assert case.answer_due == close_of(2026, 3, 5)


def test_classifying_late_is_recorded_against_the_desk(world):
    case, _ = submit(world.category, local(2026, 3, 2))
    wf.assign_case(case, world.desk, world.justice, now=local(2026, 3, 10, 9))
    assert case.classify_on_time is False


def test_desk_rejects_with_a_reason(world):
    case, _ = submit(world.category, MONDAY)
    wf.reject_case(case, world.desk, "Nội dung là khiếu nại, không thuộc phạm vi.")
    db.session.commit()
    assert case.status == "rejected" and case.classification == "rejected"
    assert case.next_due is None and case.closed_at is not None
    assert "rejected" in templates(case)


def test_a_rejection_without_reason_changes_nothing(world):
    case, _ = submit(world.category, MONDAY)
    version = case.version
    with pytest.raises(wf.InvalidInput) as err:
        wf.reject_case(case, world.desk, "   ")
    assert "reason" in err.value.fields
    db.session.rollback()
    db.session.refresh(case)
    assert case.status == "submitted" and case.version == version


def test_desk_merges_a_duplicate(world):
    (original, _), (duplicate, _) = submit(world.category, MONDAY), submit(world.category, MONDAY)
    wf.merge_case(duplicate, world.desk, original.code)
    db.session.commit()
    assert duplicate.status == "merged" and duplicate.merged_into_id == original.id
    with pytest.raises(wf.InvalidInput):
        wf.merge_case(original, world.desk, original.code)


def test_agency_returns_a_case_to_the_desk_who_can_assign_it_again(world):
    case, _ = submit(world.category, MONDAY)
    wf.assign_case(case, world.desk, world.justice)
    wf.return_to_desk(case, world.officer, "Không thuộc thẩm quyền của Sở Tư pháp")
    db.session.commit()
    assert case.status == "submitted" and case.agency_id == world.desk_agency.id
    assert case.answer_due is None and case.next_due == case.classify_due
    wf.assign_case(case, world.desk, world.health, classification="outside_competence")
    db.session.commit()
    assert case.agency_id == world.health.id
    assert "transferred" in templates(case)


def test_the_sender_is_told_when_a_returned_case_goes_to_another_agency(world):
    case, _ = submit(world.category, MONDAY)
    wf.assign_case(case, world.desk, world.justice)
    wf.return_to_desk(case, world.officer, "Không thuộc thẩm quyền của Sở Tư pháp")
    wf.assign_case(case, world.desk, world.health)  # within competence, but a second classification
    db.session.commit()
    assert templates(case).count("transferred") == 1


# The agency ---------------------------------------------------------------


def test_officer_accepts_and_answers_on_time(world):
    case = in_progress(world, at=local(2026, 3, 2))
    assert case.officer_id == world.officer.user.id
    wf.submit_answer(case, world.officer, "explained", "Hồ sơ đã được giải quyết ngày 5/3.",
                     now=local(2026, 3, 12, 15))
    db.session.commit()
    assert case.status == "responded"
    assert case.outcome == "explained" and case.answer.startswith("Hồ sơ")
    assert case.answer_on_time is True
    # Due Monday 16 March; answered Thursday 12 → early by 13, 16 = 2 working days.
    assert case.answer_lateness_days == -2
    assert case.next_due == case.rating_due
    assert actions(case) == ["submitted", "assigned", "accepted", "answered"]
    assert templates(case)[-2:] == ["answered", "rating_request"]


def test_a_late_answer_records_its_lateness_in_working_days(world):
    case = in_progress(world, at=local(2026, 3, 2))  # due Monday 16 March 17:00
    wf.submit_answer(case, world.officer, "not_accepted", "Không có cơ sở.", now=local(2026, 3, 18, 10))
    assert case.answer_on_time is False
    assert case.answer_lateness_days == 2  # Tuesday 17 and Wednesday 18


def test_an_answer_after_close_of_office_on_the_due_day_is_late(world):
    case = in_progress(world, at=local(2026, 3, 2))
    wf.submit_answer(case, world.officer, "explained", "Trả lời", now=local(2026, 3, 16, 17, 30))
    assert case.answer_on_time is False and case.answer_lateness_days == 1


def test_an_answer_needing_approval_waits_for_the_lead(world):
    world.justice.requires_approval = True
    db.session.commit()
    case = in_progress(world)
    wf.submit_answer(case, world.officer, "amend_rule", "Sẽ sửa quy định.", now=local(2026, 3, 5))
    db.session.commit()
    assert case.status == "awaiting_approval" and case.answer == ""
    wf.send_back_answer(case, world.lead, "Bổ sung căn cứ pháp lý")
    assert case.status == "in_progress"
    wf.submit_answer(case, world.officer, "amend_rule", "Sẽ sửa quy định, căn cứ Nghị định 20.",
                     now=local(2026, 3, 6))
    wf.approve_answer(case, world.lead, now=local(2026, 3, 9))
    db.session.commit()
    assert case.status == "responded" and case.answer.endswith("Nghị định 20.")
    # On time is measured when the answer reaches the citizen (after approval).
    assert case.answered_at == local(2026, 3, 9)
    assert "approval_needed" in templates(case)


def test_a_lead_answers_directly_even_where_approval_is_required(world):
    world.justice.requires_approval = True
    db.session.commit()
    case, _ = submit(world.category, MONDAY)
    wf.assign_case(case, world.desk, world.justice)
    wf.accept_case(case, world.lead)
    wf.submit_answer(case, world.lead, "explained", "Trả lời của lãnh đạo")
    assert case.status == "responded"


def test_lead_names_the_officer_when_accepting(world, make):
    second = make.user("officer", agency=world.justice)
    case, _ = submit(world.category, MONDAY)
    wf.assign_case(case, world.desk, world.justice)
    wf.accept_case(case, world.lead, officer=second)
    assert case.officer_id == second.id
    with pytest.raises(wf.PermissionDenied):
        other, _ = submit(world.category, MONDAY)
        wf.assign_case(other, world.desk, world.justice)
        wf.accept_case(other, world.officer, officer=second)


def test_transfer_moves_the_case_and_restarts_the_answer_clock(world):
    case = in_progress(world, at=local(2026, 3, 2))
    wf.transfer_case(case, world.officer, world.health, "Thuộc lĩnh vực y tế", now=local(2026, 3, 4))
    db.session.commit()
    assert case.status == "assigned" and case.agency_id == world.health.id and case.officer_id is None
    assert case.answer_due == close_of(2026, 3, 18)
    assert templates(case).count("transferred") == 1


def test_information_request_pauses_the_clock_over_a_weekend_and_holidays(world):
    # Assigned Monday 20 April 2026: due 7 May (27 April, 30 April, 1 May are off).
    case = in_progress(world, at=local(2026, 4, 20))
    assert case.answer_due == close_of(2026, 5, 7)
    wf.request_information(case, world.officer, "Đề nghị bổ sung bản sao giấy tờ.", now=local(2026, 4, 24, 10))
    db.session.commit()
    assert case.status == "needs_info"
    # Citizen has 10 working days: 28, 29 Apr, 4-8 May, 11-13 May → Wednesday 13 May.
    assert case.info_due == close_of(2026, 5, 13)
    assert case.next_due == case.info_due
    wf.provide_information(case, world.citizen, "Đã gửi bản sao.", now=local(2026, 5, 5, 10))
    db.session.commit()
    # Waited Fri 24, Tue 28, Wed 29 Apr and Mon 4 May = 4 working days, added back:
    # 7 May + 4 working days = Wednesday 13 May.
    assert case.paused_days == 4
    assert case.status == "in_progress" and case.answer_due == close_of(2026, 5, 13)
    assert case.next_due == case.answer_due


def test_no_reply_to_a_request_closes_the_case_as_incomplete(world):
    case = in_progress(world, at=local(2026, 3, 2))
    wf.request_information(case, world.officer, "Bổ sung", now=local(2026, 3, 3))
    with pytest.raises(wf.NotAllowedNow):
        wf.close_incomplete(case, now=local(2026, 3, 10))
    wf.close_incomplete(case, now=local(2026, 3, 18))
    db.session.commit()
    assert case.status == "closed" and case.close_reason == "incomplete"
    assert "closed_incomplete" in templates(case)


def test_one_extension_approved_by_a_supervisor_moves_the_deadline(world):
    case = in_progress(world, at=local(2026, 3, 2))  # due 16 March
    wf.request_extension(case, world.officer, 5, "Cần xin ý kiến Bộ Tư pháp")
    wf.decide_extension(case, world.supervisor, approve=True)
    db.session.commit()
    assert case.extension_status == "approved" and case.extension_days == 5
    assert case.answer_due == close_of(2026, 3, 23)
    assert "extension_approved" in templates(case)
    with pytest.raises(wf.NotAllowedNow):
        wf.request_extension(case, world.officer, 2, "Lần nữa")
    # On time against the extended deadline.
    wf.submit_answer(case, world.officer, "explained", "Trả lời", now=local(2026, 3, 20))
    assert case.answer_on_time is True


def test_extension_days_out_of_range_are_refused(world):
    case = in_progress(world)
    for days in (0, 11, "mười"):
        with pytest.raises(wf.InvalidInput):
            wf.request_extension(case, world.officer, days, "Lý do")


def test_a_refused_extension_leaves_the_deadline(world):
    case = in_progress(world, at=local(2026, 3, 2))
    wf.request_extension(case, world.officer, 5, "Lý do")
    wf.decide_extension(case, world.supervisor, approve=False, note="Không đủ căn cứ")
    assert case.extension_status == "denied" and case.answer_due == close_of(2026, 3, 16)


def test_review_upheld_closes_and_reopened_gets_a_fresh_deadline(world):
    case = in_progress(world, at=local(2026, 3, 2))
    wf.submit_answer(case, world.officer, "explained", "Trả lời", now=local(2026, 3, 5))
    wf.request_review(case, world.citizen, "Chưa giải quyết được vấn đề", now=local(2026, 3, 6))
    assert case.status == "review_requested" and case.next_due == case.review_due
    wf.decide_review(case, world.supervisor, reopen=True, note="Trả lời chưa đầy đủ", now=local(2026, 3, 9))
    db.session.commit()
    assert case.status == "in_progress" and case.answer_due == close_of(2026, 3, 23)
    other = in_progress(world)
    wf.submit_answer(other, world.officer, "explained", "Trả lời")
    wf.request_review(other, world.citizen, "Không đồng ý")
    wf.decide_review(other, world.supervisor, reopen=False, note="Trả lời đúng quy định")
    assert other.status == "closed" and other.close_reason == "review_upheld"
    assert "review_outcome" in templates(other)


def test_citizen_withdraws_before_the_answer_but_not_after(world):
    case, _ = submit(world.category, MONDAY)
    wf.withdraw_case(case, world.citizen, "Đã được giải quyết")
    assert case.status == "withdrawn" and case.next_due is None
    answered = in_progress(world)
    wf.submit_answer(answered, world.officer, "explained", "Trả lời")
    with pytest.raises(wf.NotAllowedNow):
        wf.withdraw_case(answered, world.citizen)


def test_publishing_needs_consent_and_clean_text(world):
    case = in_progress(world)
    wf.submit_answer(case, world.officer, "explained", "Trả lời")
    with pytest.raises(wf.InvalidInput) as err:
        wf.publish_case(case, world.desk, "Khai sinh chậm", "Ông Nguyễn Văn An, số 0912345678, hỏi về khai sinh.")
    assert "số điện thoại" in err.value.message and "họ tên" in err.value.message
    wf.publish_case(case, world.desk, "Khai sinh chậm", "Một công dân hỏi về thời hạn đăng ký khai sinh.")
    db.session.commit()
    assert case.published and case.search_text.startswith("khai sinh cham")
    no_consent = in_progress(world)
    no_consent.publish_consent = False
    wf.submit_answer(no_consent, world.officer, "explained", "Trả lời")
    with pytest.raises(wf.NotAllowedNow):
        wf.publish_case(no_consent, world.desk, "Tiêu đề", "Nội dung")


def test_closing_by_staff_or_by_the_system_after_the_rating_window(world):
    case = in_progress(world, at=local(2026, 3, 2))
    wf.submit_answer(case, world.officer, "explained", "Trả lời", now=local(2026, 3, 3))
    with pytest.raises(wf.NotAllowedNow):
        wf.close_case(case, Actor.system(), now=local(2026, 3, 5))
    wf.close_case(case, Actor.system(), now=local(2026, 3, 18))
    assert case.status == "closed" and case.close_reason == "rating_window"
    other = in_progress(world)
    wf.submit_answer(other, world.officer, "explained", "Trả lời")
    wf.close_case(other, world.supervisor)
    assert other.status == "closed"


def test_supervisor_reopens_a_closed_case(world):
    case = in_progress(world)
    wf.submit_answer(case, world.officer, "explained", "Trả lời")
    wf.close_case(case, world.supervisor)
    wf.reopen_case(case, world.supervisor, "Phát sinh tình tiết mới", now=local(2026, 3, 9))
    assert case.status == "in_progress" and case.answer_due == close_of(2026, 3, 23)


# Forbidden transitions ------------------------------------------------------

FORBIDDEN_ROLE = [
    ("officer assigns", lambda w, c: wf.assign_case(c, w.officer, w.justice)),
    ("lead rejects", lambda w, c: wf.reject_case(c, w.lead, "x")),
    ("citizen merges", lambda w, c: wf.merge_case(c, w.citizen, "PAKN")),
    ("supervisor assigns", lambda w, c: wf.assign_case(c, w.supervisor, w.justice)),
]


@pytest.mark.parametrize("label,attempt", FORBIDDEN_ROLE, ids=[f[0] for f in FORBIDDEN_ROLE])
def test_wrong_role_is_refused(world, label, attempt):
    case, _ = submit(world.category, MONDAY)
    with pytest.raises(wf.PermissionDenied):
        attempt(world, case)


FORBIDDEN_AGENCY = [
    ("accept", lambda w, c: wf.accept_case(c, w.other_officer)),
    ("transfer", lambda w, c: wf.transfer_case(c, w.other_officer, w.health, "x")),
    ("return", lambda w, c: wf.return_to_desk(c, w.other_lead, "x")),
    ("extension", lambda w, c: wf.request_extension(c, w.other_officer, 2, "x")),
]


@pytest.mark.parametrize("label,attempt", FORBIDDEN_AGENCY, ids=[f[0] for f in FORBIDDEN_AGENCY])
def test_another_agency_cannot_act(world, label, attempt):
    case, _ = submit(world.category, MONDAY)
    wf.assign_case(case, world.desk, world.justice)
    with pytest.raises(wf.PermissionDenied):
        attempt(world, case)


def test_another_agency_cannot_answer_or_approve(world):
    case = in_progress(world)
    with pytest.raises(wf.PermissionDenied):
        wf.submit_answer(case, world.other_officer, "explained", "x")
    with pytest.raises(wf.PermissionDenied):
        wf.request_information(case, world.other_lead, "x")


FORBIDDEN_STATUS = [
    ("accept a new case", lambda w, c: wf.accept_case(c, w.officer)),
    ("answer a new case", lambda w, c: wf.submit_answer(c, w.officer, "explained", "x")),
    ("approve without draft", lambda w, c: wf.approve_answer(c, w.lead)),
    ("provide info unasked", lambda w, c: wf.provide_information(c, w.citizen, "x")),
    ("review unanswered", lambda w, c: wf.request_review(c, w.citizen, "x")),
    ("close unanswered", lambda w, c: wf.close_case(c, w.supervisor)),
    ("decide missing extension", lambda w, c: wf.decide_extension(c, w.supervisor, True)),
    ("publish unanswered", lambda w, c: wf.publish_case(c, w.desk, "t", "c")),
]


@pytest.mark.parametrize("label,attempt", FORBIDDEN_STATUS, ids=[f[0] for f in FORBIDDEN_STATUS])
def test_wrong_status_is_refused(world, label, attempt):
    case, _ = submit(world.category, MONDAY)
    with pytest.raises((wf.NotAllowedNow, wf.PermissionDenied)):
        attempt(world, case)
    db.session.rollback()
    db.session.refresh(case)
    assert case.status == "submitted"


def test_assigning_twice_is_refused(world):
    case, _ = submit(world.category, MONDAY)
    wf.assign_case(case, world.desk, world.justice)
    with pytest.raises(wf.NotAllowedNow):
        wf.assign_case(case, world.desk, world.health)


def test_only_the_citizen_provides_information_and_only_a_supervisor_decides(world):
    case = in_progress(world)
    wf.request_information(case, world.officer, "Bổ sung")
    with pytest.raises(wf.PermissionDenied):
        wf.provide_information(case, world.officer, "x")
    wf.provide_information(case, world.citizen, "Đây")
    wf.request_extension(case, world.officer, 3, "Lý do")
    with pytest.raises(wf.PermissionDenied):
        wf.decide_extension(case, world.lead, True)


# Versions and concurrency -----------------------------------------------------


def test_each_transition_moves_the_version_by_one(world):
    case, _ = submit(world.category, MONDAY)
    assert case.version == 1
    wf.assign_case(case, world.desk, world.justice, version=1)
    db.session.commit()
    assert case.version == 2


def test_a_stale_version_is_refused_with_a_clear_message(world):
    case, _ = submit(world.category, MONDAY)
    with pytest.raises(wf.StaleCase) as err:
        wf.assign_case(case, world.desk, world.justice, version=case.version - 1 if case.version > 1 else 99)
    assert "tải lại" in str(err.value.message)


def test_two_concurrent_updates_one_is_refused(world, app):
    case, _ = submit(world.category, MONDAY)
    wf.assign_case(case, world.desk, world.justice)
    db.session.commit()
    case_id = case.id
    # A second request, in its own session, reads the same version.
    other = Session(bind=db.engine, expire_on_commit=False)
    try:
        stale = other.get(Case, case_id)
        assert stale.version == case.version
        wf.accept_case(case, world.officer)
        db.session.commit()  # the first request wins
        stale.status = "needs_info"
        stale.version = stale.version + 1
        with pytest.raises(Exception) as err:
            other.commit()
        assert "StaleData" in type(err.value).__name__
        other.rollback()
    finally:
        other.close()
    db.session.expire_all()
    assert db.session.get(Case, case_id).status == "in_progress"


def test_the_workflow_turns_a_lost_race_into_a_stale_case_error(world, monkeypatch):
    case, _ = submit(world.category, MONDAY)
    db.session.commit()
    # Someone else assigns the case between our read and our write.
    with db.engine.begin() as conn:
        conn.execute(Case.__table__.update().where(Case.__table__.c.id == case.id).values(version=case.version + 1))
    with pytest.raises(wf.StaleCase):
        wf.assign_case(case, world.desk, world.justice, version=case.version)
