"""EXPLAIN (ANALYZE, BUFFERS) of the staff lists' real queries on a loaded PostgreSQL database.

The queries are built by the app's own functions (``api.routes.staff_case_list``,
``api.cursor.dated_after``, ``pagination.capped_count_query``,
``staff.routes.inbox_list`` and ``desk_queue_list``, ``access.scoped_cases``,
the dashboard's ``CaseFilters``), limited as a first page is (``per_page + 1``
rows), compiled with literal values and explained. Load a database first:

    .venv/bin/python docs/benchmarks/bench_dashboard.py --database-url postgresql://postgres@127.0.0.1:55440/postgres \\
        --sizes 100000 --requests 1 --keep
    .venv/bin/python docs/benchmarks/explain_queries.py \\
        --database-url postgresql://postgres@127.0.0.1:55440/feedback_bench_100000_<pid>
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from sqlalchemy import Select, func, select, text
from sqlalchemy.dialects import postgresql
from werkzeug.datastructures import MultiDict

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _app(url: str):
    from config import Config
    from feedback import create_app

    class Explain(Config):
        SQLALCHEMY_DATABASE_URI = url.replace("postgresql://", "postgresql+psycopg://", 1)
        SECRET_KEY = secrets.token_urlsafe(48)
        INPROCESS_SCHEDULER = False

    return create_app(Explain)


def _staff(role: str):
    """The user of ``role`` with the most timeline events (the busiest
    officer's "acted on before" scope is the widest), or a transient one."""
    from feedback.extensions import db
    from feedback.models import CaseEvent, User

    busiest = (select(User).outerjoin(CaseEvent, CaseEvent.actor_id == User.id).where(User.role == role)
               .group_by(User.id).order_by(func.count(CaseEvent.id).desc(), User.id).limit(1))
    return db.session.execute(busiest).scalar_one_or_none() or User(role=role, email=f"{role}@explain", full_name=role)


def queries(per_page: int, cap: int) -> list[tuple[str, Select]]:
    from feedback.access import scoped_cases
    from feedback.api.cursor import dated_after
    from feedback.api.routes import staff_case_list
    from feedback.dashboard.caselists import order_for, parse_filters
    from feedback.extensions import db
    from feedback.models import Case, deadline_order, utcnow
    from feedback.pagination import capped_count_query
    from feedback.staff.routes import desk_queue_list, inbox_list

    now = utcnow()
    desk, officer, lead, supervisor = (_staff(r) for r in ("desk", "officer", "lead", "supervisor"))
    page = per_page + 1
    desk_list = staff_case_list(desk, {})
    officer_list = staff_case_list(officer, {})
    # A position deep in the list: halfway through the cases with a deadline.
    dated = db.session.execute(select(func.count()).where(Case.next_due.is_not(None))).scalar_one()
    deep = db.session.execute(desk_list.order_by(*deadline_order()).offset(dated // 2).limit(1)).scalar_one()
    some_code = db.session.execute(select(Case.code).order_by(Case.id.desc()).limit(1)).scalar_one()
    overdue = parse_filters(MultiDict(), overdue=True)
    return [
        ("API list, desk, first page", desk_list.order_by(*deadline_order()).limit(page)),
        ("API list, desk, count (capped)", capped_count_query(desk_list, cap)),
        ("API list, desk, page 251 by offset", desk_list.order_by(*deadline_order()).offset(250 * per_page)
         .limit(page)),
        ("API list, desk, after a cursor halfway through the deadlines",
         dated_after(desk_list, deep.next_due, deep.id).limit(page)),
        ("API list, officer, first page", officer_list.order_by(*deadline_order()).limit(page)),
        ("API list, officer, count (capped)", capped_count_query(officer_list, cap)),
        ("inbox, officer", inbox_list(officer, MultiDict(), now).limit(page)),
        ("inbox, supervisor", inbox_list(supervisor, MultiDict(), now).limit(page)),
        ("desk queue", desk_queue_list(desk).limit(page)),
        ("desk queue, count (capped)", capped_count_query(desk_queue_list(desk), cap)),
        ("case by code, officer", scoped_cases(officer).where(Case.code == some_code)),
        ("overdue list, supervisor", overdue.apply(supervisor, now).order_by(*order_for(overdue)).limit(page)),
        ("overdue list, lead", overdue.apply(lead, now).order_by(*order_for(overdue)).limit(page)),
    ]


def compiled(query: Select) -> str:
    return str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="a PostgreSQL database loaded by bench_dashboard.py --keep")
    parser.add_argument("--per-page", type=int, default=20)
    parser.add_argument("--cap", type=int, default=10_000, help="COUNT_CAP")
    parser.add_argument("--sql", action="store_true", help="print each statement before its plan")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgresql", "postgres://")):
        parser.error("give a PostgreSQL URL with --database-url or DATABASE_URL")
    from feedback.extensions import db

    app = _app(args.database_url)
    with app.test_request_context("/"), app.app_context():
        cases = db.session.execute(text('SELECT count(*) FROM "case"')).scalar_one()
        print(f"{cases:,} cases; PostgreSQL {db.session.execute(text('SHOW server_version')).scalar_one()}, "
              f"jit={db.session.execute(text('SHOW jit')).scalar_one()}\n")
        for title, query in queries(args.per_page, args.cap):
            sql = compiled(query)
            db.session.execute(text(sql)).all()  # warm the cache: plans of a running server
            plan = db.session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql)).scalars().all()
            print(f"=== {title}")
            if args.sql:
                print(sql, "\n")
            print("\n".join(plan), "\n")


if __name__ == "__main__":
    main()
