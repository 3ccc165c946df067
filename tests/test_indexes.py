"""Indexes, read back from the database the suite runs on (SQLite, or
PostgreSQL under ``test.sh``): every foreign key leads an index, and the
staff lists have indexes in their own order."""
from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from feedback.extensions import db


def _leading_columns(inspector, table: str) -> list[tuple[str | None, ...]]:
    """The column lists an index is kept on: primary key, indexes, unique constraints."""
    lists = [inspector.get_pk_constraint(table)["constrained_columns"]]
    lists += [index["column_names"] for index in inspector.get_indexes(table)]
    lists += [unique["column_names"] for unique in inspector.get_unique_constraints(table)]
    return [tuple(columns) for columns in lists if columns]


def unindexed_foreign_keys(engine: Engine) -> list[str]:
    """Foreign keys whose columns are not the leading columns of any index:
    deleting a referenced row scans the whole referencing table for each."""
    inspector = inspect(engine)
    missing = []
    for table in inspector.get_table_names():
        indexed = _leading_columns(inspector, table)
        for key in inspector.get_foreign_keys(table):
            columns = tuple(key["constrained_columns"])
            if not any(index[:len(columns)] == columns for index in indexed):
                missing.append(f"{table}({', '.join(columns)}) -> {key['referred_table']}")
    return sorted(missing)


def index_columns(engine: Engine, table: str) -> dict[str, list[str | None]]:
    return {index["name"]: index["column_names"] for index in inspect(engine).get_indexes(table)}


def test_every_foreign_key_leads_an_index(app):
    assert unindexed_foreign_keys(db.engine) == []


def test_the_check_names_a_foreign_key_without_an_index(app, tmp_path):
    from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, create_engine

    metadata = MetaData()
    Table("parent", metadata, Column("id", Integer, primary_key=True))
    Table("child", metadata, Column("id", Integer, primary_key=True),
          Column("parent_id", Integer, ForeignKey("parent.id")))
    engine = create_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    metadata.create_all(engine)
    try:
        assert unindexed_foreign_keys(engine) == ["child(parent_id) -> parent"]
    finally:
        engine.dispose()


def test_the_deadline_lists_have_an_index_in_their_order(app):
    indexes = index_columns(db.engine, "case")
    assert indexes["ix_case_next_due_id"] == ["next_due", "id"]
    assert indexes["ix_case_agency_next_due_id"] == ["agency_id", "next_due", "id"]


def test_the_desk_queue_has_an_index_in_its_order(app):
    assert index_columns(db.engine, "case")["ix_case_status_received_at_id"] == ["status", "received_at", "id"]


def test_an_officers_earlier_cases_are_found_by_actor(app):
    assert index_columns(db.engine, "case_event")["ix_case_event_actor_case"] == ["actor_id", "case_id"]
