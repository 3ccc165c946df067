"""`flask db upgrade` from an empty database, on SQLite and on PostgreSQL; the
newest migration downgrades and upgrades again."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from feedback.extensions import db

from .conftest import scratch_databases

ROOT = Path(__file__).resolve().parent.parent


def flask(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_urlsafe(48)}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def assert_upgrade_matches_models(url: str) -> None:
    result = flask("db", "upgrade", database_url=url)
    assert result.returncode == 0, result.stderr
    check = flask("db", "check", database_url=url)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    # The newest migration goes back and forth on this database too.
    for step in (("db", "downgrade"), ("db", "upgrade")):
        moved = flask(*step, database_url=url)
        assert moved.returncode == 0, moved.stderr
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(db.metadata.tables) <= tables
    seeded = flask("seed-demo", database_url=url)
    assert seeded.returncode == 0, seeded.stderr
    assert_the_database_keeps_the_audit_log_append_only(url)


def assert_the_database_keeps_the_audit_log_append_only(url: str) -> None:
    """Migration 0013's triggers: a hand at the SQL prompt cannot change or
    delete audit rows, nor move the recorded head backwards; the log the
    demo wrote verifies."""
    verified = flask("audit", "verify", database_url=url)
    assert verified.returncode == 0 and "chain intact" in verified.stdout, verified.stdout + verified.stderr
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    refused = [
        "UPDATE audit_log SET action = 'x'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_head",
        "UPDATE audit_head SET last_id = last_id - 1",
    ] + (["TRUNCATE audit_log CASCADE"] if url.startswith("postgresql") else [])
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
            assert rows > 0
            for statement in refused:
                try:
                    conn.execute(text(statement))
                except Exception as exc:  # the driver's own error class
                    assert "append-only" in str(exc) or "only moves forward" in str(exc), statement
                    conn.rollback()
                else:
                    raise AssertionError(f"the database accepted: {statement}")
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == rows
    finally:
        engine.dispose()


def test_upgrade_from_empty_on_sqlite(tmp_path):
    assert_upgrade_matches_models(f"sqlite:///{tmp_path / 'empty.db'}")


def test_upgrade_from_empty_on_postgresql():
    with scratch_databases("migrate") as (url,):
        assert_upgrade_matches_models(url)
