"""The audit log is an append-only hash chain: ``flask audit verify`` passes on
an untouched log and names the first row edited or deleted behind the
application's back; the application itself cannot change or delete a row."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError

from feedback import audit
from feedback.audit import AuditLogIsAppendOnly, record_audit
from feedback.extensions import db
from feedback.models import AuditLog


@pytest.fixture
def log(world, make):
    """Five audit rows, as staff work leaves them."""
    case = make.case(category=world.category)
    for n in range(5):
        record_audit("case.note", case_id=case.id, detail={"n": n, "note": "Ghi chú có dấu"}, user=world.officer)
        db.session.commit()
    return [row.id for row in db.session.execute(select(AuditLog).order_by(AuditLog.id)).scalars()]


def run_sql(statement: str, **params) -> None:
    """What someone with database access does, past the application."""
    db.session.remove()
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def test_an_untouched_log_verifies_with_its_row_count(runner, log):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "OK: 5 audit rows" in result.output


def test_each_row_carries_the_previous_rows_hash(log):
    rows = db.session.execute(select(AuditLog).order_by(AuditLog.id)).scalars().all()
    assert rows[0].prev_hash == "" and all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert len({r.hash for r in rows}) == 5


def test_a_row_edited_with_sql_is_named(runner, log):
    run_sql("UPDATE audit_log SET detail = '{\"n\": 99}' WHERE id = :id", id=log[2])
    result = verify(runner)
    assert result.exit_code == 1
    assert f"BROKEN at audit row {log[2]}: this row was changed" in result.output


def test_a_row_edited_and_rehashed_breaks_the_next_link(runner, log):
    run_sql("UPDATE audit_log SET action = 'case.viewed', hash = 'x' WHERE id = :id", id=log[1])
    assert f"BROKEN at audit row {log[1]}" in verify(runner).output


def test_a_deleted_row_is_named_by_the_row_after_it(runner, log):
    run_sql("DELETE FROM audit_log WHERE id = :id", id=log[3])
    result = verify(runner)
    assert result.exit_code == 1
    assert f"BROKEN at audit row {log[4]}: row(s) {log[3]} before it were deleted" in result.output


def test_the_first_row_deleted_is_found_too(runner, log):
    run_sql("DELETE FROM audit_log WHERE id = :id", id=log[0])
    assert f"BROKEN at audit row {log[1]}" in verify(runner).output


def test_the_newest_rows_deleted_are_found_by_the_recorded_head(runner, log):
    """Cutting rows off the end leaves a consistent chain; the head, moved in
    the same transaction as each append, still names the row it should end at."""
    run_sql("DELETE FROM audit_log WHERE id >= :id", id=log[3])
    result = verify(runner)
    assert result.exit_code == 1
    assert f"BROKEN at audit row {log[3]}: the newest row(s) {log[3]}–{log[4]} were deleted" in result.output


def test_the_whole_log_deleted_is_found_too(runner, log):
    run_sql("DELETE FROM audit_log")
    assert f"the newest row(s) {log[0]}–{log[4]} were deleted" in verify(runner).output


def test_deleting_the_head_record_itself_is_found(runner, log):
    run_sql("DELETE FROM audit_head")
    assert f"BROKEN at audit row {log[4]}: the record of the chain's newest row was deleted" in verify(runner).output


def test_the_application_cannot_change_or_delete_an_audit_row(log):
    row = db.session.get(AuditLog, log[0])
    row.detail = {"n": 42}
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditLog, log[0]))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    for statement in (update(AuditLog).values(action="x"), delete(AuditLog).where(AuditLog.id == log[0])):
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.execute(statement)
        db.session.rollback()
    assert audit.verify_chain().ok


def test_a_writer_that_read_a_stale_head_fails_instead_of_forking_the_chain(log, monkeypatch):
    stale = db.session.execute(select(AuditLog.id, AuditLog.hash).where(AuditLog.id == log[-2])).one()
    monkeypatch.setattr(audit, "_chain_head", lambda: (stale.id, stale.hash))
    record_audit("case.note", detail={"late": True})
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert audit.verify_chain().ok


def test_rows_added_in_one_transaction_chain_in_order(world, runner):
    for n in range(3):
        record_audit("category.update", detail={"n": n}, user=world.desk)
    db.session.commit()
    assert "OK: 3 audit rows" in verify(runner).output


def test_the_admin_audit_viewer_reports_the_chain_on_request(client, auth, make, log):
    auth.login(make.user("admin", email="admin@hp.vn"))
    assert 'id="chain-status"' not in client.get("/admin/audit").get_data(as_text=True)
    intact = client.get("/admin/audit?verify=1").get_data(as_text=True)
    assert "Chuỗi nhật ký nguyên vẹn" in intact
    run_sql("UPDATE audit_log SET ip = '10.0.0.9' WHERE id = :id", id=log[0])
    broken = client.get("/admin/audit?verify=1").get_data(as_text=True)
    assert f"bị phá vỡ tại mục số {log[0]}" in broken
