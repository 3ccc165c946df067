"""The audit log: every staff action, who, what, when, from which address.

The log is append-only and chained: each row stores the previous row's hash
and a SHA-256 over its own canonical content (``row_hash``), so a row edited
or deleted directly in the database breaks the chain where it was touched,
and ``verify_chain`` (``flask audit verify``) names that row.

Two writers must not extend the same head: ``record_audit`` takes the head
under a transaction-scoped lock on PostgreSQL (SQLite lets one writer at a
time), and gives the new row the id after the head's, so even without the
lock a second writer would fail on the primary key instead of forking the
chain silently.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import Table, event, select, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from .extensions import db
from .models import AuditHead, AuditLog, User, utcnow

# Any fixed number: the key of the PostgreSQL advisory lock that serialises
# appends to the chain (held until the appending transaction ends).
CHAIN_LOCK_KEY = 0x61756469  # "audi"
GENESIS = ""  # the "previous hash" of the first row
HEAD_ID = 1  # the one row of audit_head
HASHED_FIELDS = ("id", "at", "user_id", "action", "case_id", "detail", "ip", "prev_hash")


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete an audit row."""


def canonical(values: Mapping[str, Any]) -> str:
    """The exact text a row's hash covers: its id, time (UTC, to the
    microsecond, which both databases keep), user, action, case, detail, ip
    and the previous row's hash, as JSON with sorted keys."""
    at: datetime = values["at"]
    return json.dumps({
        "id": values["id"], "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "user_id": values["user_id"], "action": values["action"], "case_id": values["case_id"],
        "detail": values["detail"] or {}, "ip": values["ip"] or "", "prev_hash": values["prev_hash"] or "",
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_hash(values: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical content of a row given as a mapping."""
    return hashlib.sha256(canonical(values).encode("utf-8")).hexdigest()


def row_hash(row: AuditLog) -> str:
    """SHA-256 (hex) of the row's canonical content."""
    return canonical_hash({name: getattr(row, name) for name in HASHED_FIELDS})


def _chain_head() -> tuple[int, str]:
    """(id, hash) of the last row, locking the chain until the transaction ends."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    # Rows added earlier in this transaction but not flushed yet come first.
    pending = [obj for obj in session.new if isinstance(obj, AuditLog)]
    if pending:
        last = max(pending, key=lambda r: r.id)
        return last.id, last.hash
    with session.no_autoflush:  # never flush the caller's half-made changes early
        # The recorded head (one row by primary key, read afresh); the log
        # itself only when there is none yet.
        recorded = session.get(AuditHead, HEAD_ID, populate_existing=True)
        if recorded is not None:
            return recorded.last_id, recorded.last_hash
        head = session.execute(select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)).first()
    return (head.id, head.hash) if head else (0, GENESIS)


def record_audit(action: str, case_id: int | None = None, detail: dict[str, Any] | None = None,
                 user: User | None = None) -> AuditLog:
    """Append an audit row to the chain in the current transaction (the caller commits)."""
    ip = ""
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    if has_request_context():
        # The client's address as ProxyFix established it from the trusted
        # proxies (FEEDBACK_TRUSTED_PROXIES); never a header a client may forge.
        ip = request.remote_addr or ""
    # Hash what the database will give back: the detail as JSON round-trips it.
    stored_detail = json.loads(json.dumps(detail or {}, default=str))
    head_id, head_hash = _chain_head()
    row = AuditLog(id=head_id + 1, at=utcnow(), user_id=user.id if user else None, action=action,
                   case_id=case_id, detail=stored_detail, ip=ip[:64], prev_hash=head_hash)
    row.hash = row_hash(row)
    db.session.add(row)
    _move_head(row)
    return row


def _move_head(row: AuditLog) -> None:
    """Point the chain's head at ``row``, in the same transaction (see
    AuditHead): one UPDATE, or the head's first row when there is none."""
    pending = [obj for obj in db.session.new if isinstance(obj, AuditHead)]
    if pending:
        pending[0].last_id, pending[0].last_hash = row.id, row.hash
        return
    table = cast(Table, AuditHead.__table__)
    with db.session.no_autoflush:
        moved = db.session.execute(table.update().where(table.c.id == HEAD_ID)
                                   .values(last_id=row.id, last_hash=row.hash))
    if cast("CursorResult[Any]", moved).rowcount == 0:
        db.session.add(AuditHead(id=HEAD_ID, last_id=row.id, last_hash=row.hash))


# Verification -------------------------------------------------------------------------


@dataclass
class ChainReport:
    """The result of walking the chain: ``ok``, how many rows, and the first
    bad row with what is wrong with it."""

    ok: bool
    rows: int
    bad_id: int | None = None
    problem: str = ""


def check_rows(rows: Iterable[AuditLog]) -> ChainReport:
    """Walk rows in id order: each must follow the previous id, carry the
    previous row's hash and match its own content."""
    prev_id, prev_hash, count = 0, GENESIS, 0
    for row in rows:
        count += 1
        if row.id != prev_id + 1:
            missing = f"{prev_id + 1}" if row.id == prev_id + 2 else f"{prev_id + 1}–{row.id - 1}"
            return ChainReport(False, count, row.id, f"row(s) {missing} before it were deleted")
        if row.prev_hash != prev_hash:
            return ChainReport(False, count, row.id, "the previous row was changed or removed")
        if row.hash != row_hash(row):
            return ChainReport(False, count, row.id, "this row was changed after it was written")
        prev_id, prev_hash = row.id, row.hash
    return ChainReport(True, count)


def verify_chain() -> ChainReport:
    """Check the whole audit log, reading it in chunks, then its end against
    the recorded head: rows deleted from the end leave no gap behind them."""
    rows = db.session.execute(select(AuditLog).order_by(AuditLog.id).execution_options(yield_per=1000)).scalars()
    try:
        report = check_rows(rows)
    finally:
        rows.close()
    if not report.ok:
        return report
    return check_head(report, db.session.get(AuditHead, HEAD_ID),
                      db.session.execute(select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1))
                      .first())


def check_head(report: ChainReport, head: AuditHead | None, last) -> ChainReport:
    """An intact chain must end where the head says (``last``: the newest
    row's id and hash, or None for an empty log)."""
    if head is None:
        if last is None:
            return report
        return ChainReport(False, report.rows, last.id, "the record of the chain's newest row was deleted")
    if last is None or last.id < head.last_id:
        first_missing = (last.id if last is not None else 0) + 1
        missing = f"{first_missing}" if first_missing == head.last_id else f"{first_missing}–{head.last_id}"
        return ChainReport(False, report.rows, first_missing, f"the newest row(s) {missing} were deleted")
    if last.id != head.last_id or last.hash != head.last_hash:
        return ChainReport(False, report.rows, last.id, "the chain does not end at its recorded newest row")
    return report


# Append-only -------------------------------------------------------------------------


@event.listens_for(AuditLog, "before_update")
def _refuse_update(mapper, connection, target) -> None:
    raise AuditLogIsAppendOnly(f"audit row {target.id} cannot be changed")


@event.listens_for(AuditLog, "before_delete")
def _refuse_delete(mapper, connection, target) -> None:
    raise AuditLogIsAppendOnly(f"audit row {target.id} cannot be deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state) -> None:
    """``update(AuditLog)`` / ``delete(AuditLog)`` through a session, ORM or Core."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) == AuditLog.__tablename__:
        raise AuditLogIsAppendOnly("audit rows cannot be changed or deleted")
