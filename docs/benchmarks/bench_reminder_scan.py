"""Benchmark: the reminder scan costs what the cases near a deadline cost,
not what the whole table costs.

Builds a database of 10,000 cases and one of 100,000, each holding the same
1,000 cases near a deadline (overdue, due today, due within two working days)
and the rest far from one (due in months, or closed). Then times what
``flask reminders scan`` does (``feedback.reminders.scan``) on both, twice:
the first scan files the reminders, the repeat finds them all filed.

    .venv/bin/python docs/benchmarks/bench_reminder_scan.py
        SQLite files in a temporary directory (the default)

    DATABASE_URL=postgresql://user@host/throwaway \\
        .venv/bin/python docs/benchmarks/bench_reminder_scan.py --reset-database
        that database; its tables are DROPPED and recreated, twice

The first scan writes about 2,100 reminders (a ReminderDelivery key and a
Notification each), so its time is mostly writing; the repeat scan is the
steady state, reading the cases near a deadline and finding nothing new.
Both print the number of SQL statements and the time spent in the database,
which should not grow with the table. Deliveries are not measured: the filed
notifications stay in the outbox (OUTBOX_DISPATCH_AFTER_COMMIT off).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert, select, text  # noqa: E402

from config import TestConfig  # noqa: E402
from feedback import create_app  # noqa: E402
from feedback.deadlines import OFFICE_TZ as TZ  # noqa: E402
from feedback.extensions import db  # noqa: E402
from feedback.models import Agency, Case, Category, Role, User  # noqa: E402

NOW = datetime(2027, 3, 16, 9, 0, tzinfo=TZ)   # a Tuesday morning, office open
NEAR = 1_000
SIZES = (10_000, 100_000)
CHUNK = 5_000
AGENCIES = 20


def build_app(database_url: str):
    class BenchConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        OUTBOX_DISPATCH_AFTER_COMMIT = False

    return create_app(BenchConfig)


def populate(total: int, seed: int = 20270316) -> None:
    """Staff, one category, ``total`` cases of which the same NEAR are near a deadline."""
    rng = random.Random(seed)
    desk = Agency(code="VP-UBND", name="Văn phòng UBND thành phố", is_desk=True)
    db.session.add(desk)
    agencies = [Agency(code=f"AG{i:02d}", name=f"Cơ quan {i}") for i in range(AGENCIES)]
    db.session.add_all(agencies)
    db.session.flush()
    users = [User(email="desk@bench.vn", role=Role.desk.value, agency_id=desk.id, password_hash="x"),
             User(email="supervisor@bench.vn", role=Role.supervisor.value, agency_id=desk.id, password_hash="x")]
    for agency in agencies:
        users.append(User(email=f"lead.{agency.code}@bench.vn", role=Role.lead.value, agency_id=agency.id,
                          password_hash="x"))
        users += [User(email=f"officer{n}.{agency.code}@bench.vn", role=Role.officer.value,
                       agency_id=agency.id, password_hash="x") for n in range(3)]
    db.session.add_all(users)
    category = Category(code="BENCH", name="Lĩnh vực", default_agency_id=agencies[0].id)
    db.session.add(category)
    db.session.commit()
    officers = {a.id: [u.id for u in users if u.agency_id == a.id and u.role == "officer"] for a in agencies}

    received = (NOW - timedelta(days=20)).astimezone(TZ)
    base = {"type": "report", "channel": "online", "language": "vi", "sender_kind": "individual",
            "sender_name": "Nguyễn Văn An", "sender_address": "Hải Phòng", "sender_phone": "0912345678",
            "sender_email": "an@example.vn", "title": "Thủ tục kéo dài", "content": "Nội dung phản ánh.",
            "category_id": category.id, "version": 1, "received_at": received, "created_at": received,
            "updated_at": received}
    rows = []
    for n in range(total):
        agency = agencies[n % AGENCIES]
        if n < NEAR:   # overdue by up to a week, due today, or due within two working days
            due = (NOW.replace(hour=17, minute=0) + timedelta(days=rng.choice([-7, -3, -1, 0, 0, 1, 2]))).astimezone(TZ)
            status, officer = "in_progress", rng.choice(officers[agency.id])
        elif n % 5 < 3:   # open, due in two to six months
            due = NOW.replace(hour=17, minute=0) + timedelta(days=60 + n % 120)
            status, officer = "in_progress", rng.choice(officers[agency.id])
        else:             # finished: no open deadline
            due, status, officer = None, "closed", None
        rows.append({**base, "code": f"PAKN.BENCH.{n:07d}", "agency_id": agency.id, "status": status,
                     "officer_id": officer, "answer_due": due, "next_due": due})
        if len(rows) == CHUNK:
            db.session.execute(insert(Case), rows)
            rows = []
    if rows:
        db.session.execute(insert(Case), rows)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def plan_of_selection() -> str:
    """How the database reads the scan's candidate cases (the same SQL it runs)."""
    query = (select(Case.id).where(Case.next_due <= NOW + timedelta(days=3))
             .order_by(Case.next_due, Case.id).limit(200))
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    return "; ".join(str(row[-1]) for row in db.session.execute(text(prefix + sql)))


class SqlMeter:
    """Counts statements and the time the database spends on them."""

    def __init__(self, engine) -> None:
        self.engine, self.statements, self.seconds = engine, 0, 0.0

    def _before(self, conn, *_args) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, *_args) -> None:
        self.statements += 1
        self.seconds += time.perf_counter() - conn.info.pop("bench_started")

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_exc) -> None:
        self.elapsed = time.perf_counter() - self.started
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def measure(app, total: int) -> dict:
    from feedback.reminders import scan

    utc = ZoneInfo("UTC")
    with app.app_context():
        db.drop_all()
        db.create_all()
        scan(now=NOW.astimezone(utc))   # warm up: imports and statement caches, not measured
        populate(total)
        with SqlMeter(db.engine) as first_run:
            first = scan(now=NOW.astimezone(utc))
        repeats = []
        for minutes in (5, 10, 15):   # best of three: the machine may be busy
            with SqlMeter(db.engine) as run:
                repeated = scan(now=(NOW + timedelta(minutes=minutes)).astimezone(utc))
            assert repeated.filed == [], "a repeated scan filed a reminder twice"
            repeats.append(run)
        repeat = min(repeats, key=lambda run: run.elapsed)
        result = {"total": total, "first": first_run, "filed": len(first.filed), "repeat": repeat,
                  "plan": plan_of_selection()}
        db.session.remove()
        db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reset-database", action="store_true",
                        help="allow dropping and recreating the tables of DATABASE_URL")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL")
    if database_url and not args.reset_database:
        parser.error("DATABASE_URL is set: pass --reset-database to let this script drop and recreate its tables")

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        for total in SIZES:
            if database_url:
                os.environ["DATABASE_URL"] = database_url
                from config import _database_url

                url = _database_url()
            else:
                url = f"sqlite:///{Path(tmp) / f'bench-{total}.db'}"
            print(f"building {total:,} cases ({NEAR:,} near a deadline) on {url.split('://')[0]} ...", flush=True)
            results.append(measure(build_app(url), total))

    print()
    print(f"{'cases':>9} {'near':>6} | {'first scan':>10} {'SQL':>5} {'SQL time':>8} {'filed':>6} |"
          f" {'repeat scan':>11} {'SQL':>5} {'SQL time':>8}")
    for r in results:
        first, repeat = r["first"], r["repeat"]
        print(f"{r['total']:>9,} {NEAR:>6,} | {first.elapsed:>9.2f}s {first.statements:>5} {first.seconds:>7.3f}s"
              f" {r['filed']:>6,} | {repeat.elapsed:>10.2f}s {repeat.statements:>5} {repeat.seconds:>7.3f}s")
    small, large = results
    print()
    print(f"10x the cases, the same {NEAR:,} near a deadline:"
          f" first scan x{large['first'].elapsed / small['first'].elapsed:.2f},"
          f" repeat scan x{large['repeat'].elapsed / small['repeat'].elapsed:.2f}; time in the database"
          f" x{large['first'].seconds / small['first'].seconds:.2f} and"
          f" x{large['repeat'].seconds / small['repeat'].seconds:.2f}")
    print(f"query plan of the scan's selection: {large['plan']}")

if __name__ == "__main__":
    main()
