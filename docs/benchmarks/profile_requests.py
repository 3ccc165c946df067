#!/usr/bin/env python3
"""Profile the hot request paths: time, SQL statements and (optionally) cProfile.

Builds the app on a fresh SQLite file (or the database in ``--database-url``
/ ``DATABASE_URL``, whose tables are dropped and created again), seeds the
demo data (``feedback.demo``) plus ``--cases`` extra submissions, logs in
as the desk and as an officer through the Flask test client, and for each
request below prints the mean and median milliseconds over ``--requests``
requests (after warm-ups), the mean CPU milliseconds of this process
(``time.process_time``: what the request costs, whatever else the machine
runs), the SQL statements per request (SQLAlchemy's
``before_cursor_execute``), the commits per request, and the ratio of
``/healthz``'s CPU time to the request's (the trivial request: 1.0 would
cost nothing more than it).

    .venv/bin/python docs/benchmarks/profile_requests.py --requests 200
    .venv/bin/python docs/benchmarks/profile_requests.py --only staff_case --profile --top 30
    .venv/bin/python docs/benchmarks/profile_requests.py --only submit --sql   # print one request's SQL

The receipt's delivery is left to a worker, as with Redis in production
(``--inline-delivery`` mails it in the request, as the embedded setup
does). Rate limits are on (memory storage), as in production; anonymous requests
come from a different address each time so that no limit is reached.

It prints; it is not a test.
"""
from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

_addresses = (f"10.{a}.{b}.{c}" for a, b, c in itertools.product(range(1, 250), range(250), range(1, 250)))


def hand_deliveries_to_a_worker() -> None:
    """Without Redis the receipt is mailed inside the submitting request;
    in production a worker mails it. Measure the request alone."""
    import feedback.jobs

    feedback.jobs.dispatch_committed = lambda ids: None


def build_app(database_url: str | None, cases: int):
    """The app with the demo data and ``cases`` more cases submitted online."""
    from config import Config

    folder = Path(tempfile.mkdtemp(prefix="feedback-profile-"))

    class ProfileConfig(Config):
        SECRET_KEY = "profile-secret-key-" + "x" * 40
        SQLALCHEMY_DATABASE_URI = database_url or f"sqlite:///{folder / 'profile.db'}"
        MAIL_BACKEND = "memory"
        UPLOAD_FOLDER = str(folder / "uploads")
        MAIL_FOLDER = str(folder / "mail")
        REDIS_URL = ""
        RATELIMIT_ENABLED = True
        RATELIMIT_STORAGE_URI = "memory://"
        WTF_CSRF_ENABLED = False
        PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
        INPROCESS_SCHEDULER = False  # its thread's sweeps would count as the requests' CPU and SQL

    if database_url and database_url.startswith("postgresql://"):
        ProfileConfig.SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://" + database_url[len("postgresql://"):]

    from feedback import create_app
    from feedback.extensions import db

    app = create_app(ProfileConfig)
    with app.app_context():
        from feedback import workflow as wf
        from feedback.demo import seed_demo, seed_demo_cases
        from feedback.models import Category
        from feedback.submission import consent_wording

        db.drop_all()
        db.create_all()
        seed_demo()
        seed_demo_cases()
        land = db.session.execute(db.select(Category).filter_by(code="DAT-DAI")).scalar_one()
        for n in range(cases):
            wf.submit_case(wf.Submission(
                type="report", sender_kind="individual", sender_name=f"Người dân {n}",
                sender_address="12 Lạch Tray, Hải Phòng", sender_phone="0912345678",
                sender_email=f"citizen{n}@example.vn", title=f"Phản ánh số {n}",
                content="Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả.",
                category_id=land.id, publish_consent=True, publish_consent_text=consent_wording("vi")))
            db.session.commit()
        db.session.remove()
    return app


def submission_body(n: int) -> dict:
    return {
        "type": "report",
        "sender": {"kind": "individual", "name": f"Nguyễn Văn {n}", "address": "12 Lạch Tray, Ngô Quyền, Hải Phòng",
                   "phone": "0912 345 678", "email": f"an{n}@example.vn"},
        "category": "DAT-DAI", "title": f"Thủ tục đất đai kéo dài {n}",
        "content": "Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả.",
        "publish_consent": True,
    }


def logged_in(app, email: str):
    from feedback.demo import DEMO_PASSWORD

    client = app.test_client()
    response = client.post("/auth/login", data={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code in (302, 303), (email, response.status_code)
    return client


def requests_to_measure(app) -> dict[str, tuple[Callable[[], object], int]]:
    """name: (a function making one request, the status it must answer)."""
    from sqlalchemy import select

    from feedback.extensions import db
    from feedback.models import Case, Status

    with app.app_context():
        officer_case = db.session.execute(
            select(Case.code).where(Case.status == Status.in_progress.value).order_by(Case.id)).scalars().first()
        any_case = db.session.execute(select(Case.code).order_by(Case.id)).scalars().first()
        db.session.remove()
    anonymous = app.test_client()
    desk = logged_in(app, "desk@demo.haiphong.vn")
    officer = logged_in(app, "officer@demo.haiphong.vn")
    counter = itertools.count()

    def anon(method: str, url: str, **kwargs):
        return lambda: anonymous.open(url, method=method, environ_base={"REMOTE_ADDR": next(_addresses)}, **kwargs)

    return {
        "healthz": (anon("GET", "/healthz"), 200),
        "inbox": (lambda: officer.get("/staff/"), 200),
        "desk": (lambda: desk.get("/staff/desk"), 200),
        "staff_case": (lambda: officer.get(f"/staff/cases/{officer_case}"), 200),
        "desk_case": (lambda: desk.get(f"/staff/cases/{any_case}"), 200),
        "lookup": (anon("GET", f"/lookup?code={any_case}"), 200),
        "api_case": (anon("GET", f"/api/v1/cases/{any_case}"), 200),
        "submit": (lambda: anonymous.post("/api/v1/cases", json=submission_body(next(counter)),
                                          environ_base={"REMOTE_ADDR": next(_addresses)}), 201),
    }


class SqlCounter:
    """Counts statements and commits on the engine."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.statements: list[str] = []
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, conn, cursor, statement, *args) -> None:
        self.statements.append(statement)

    def _commit(self, conn) -> None:
        self.commits += 1

    def reset(self) -> None:
        self.statements.clear()
        self.commits = 0


def measure(name: str, call: Callable[[], object], status: int, n: int, counter: SqlCounter) -> dict:
    for _ in range(3):  # warm-ups: templates compiled, caches filled
        response = call()
        assert response.status_code == status, (name, response.status_code, response.get_data(as_text=True)[:500])
    counter.reset()
    call()
    statements, commits = len(counter.statements), counter.commits
    times, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        cpu.append((time.process_time() - start_cpu) * 1000)
        times.append((time.perf_counter() - start) * 1000)
    return {"mean": statistics.fmean(times), "median": statistics.median(times), "cpu": statistics.fmean(cpu),
            "sql": statements, "commits": commits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--requests", type=int, default=100, help="requests per page (default 100)")
    parser.add_argument("--cases", type=int, default=40, help="extra submitted cases (default 40)")
    parser.add_argument("--only", action="append", help="measure only these requests (repeatable)")
    parser.add_argument("--profile", action="store_true", help="print the top cProfile entries per request")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sql", action="store_true", help="print the SQL of one request")
    parser.add_argument("--inline-delivery", action="store_true",
                        help="mail the receipt inside the submission, as without Redis (default: left to a worker)")
    args = parser.parse_args()
    if not args.inline_delivery:
        hand_deliveries_to_a_worker()

    import logging

    logging.disable(logging.INFO)  # the request log line would dominate the output
    app = build_app(args.database_url, args.cases)
    from feedback.extensions import db

    with app.app_context():
        engine = db.engine
    counter = SqlCounter(engine)
    todo = requests_to_measure(app)
    names = ["healthz"] + [name for name in todo if name != "healthz" and (not args.only or name in args.only)]
    results = {}
    for name in names:
        call, status = todo[name]
        results[name] = measure(name, call, status, args.requests, counter)
        if args.sql and name != "healthz":
            counter.reset()
            call()
            print(f"--- SQL of one {name} request ({len(counter.statements)}) ---")
            for statement in counter.statements:
                print("  ", " ".join(statement.split())[:220])
        if args.profile and name != "healthz":
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.requests):
                call()
            profile.disable()
            print(f"--- cProfile, {args.requests} × {name}, by cumulative time ---")
            pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
            print(f"--- cProfile, {args.requests} × {name}, by own time ---")
            pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)
    base = results["healthz"]["cpu"]
    print(f"\n{'request':<12} {'mean ms':>8} {'median':>8} {'CPU ms':>7} {'SQL':>4} {'commits':>7} {'×healthz':>9}")
    for name, r in results.items():
        print(f"{name:<12} {r['mean']:8.2f} {r['median']:8.2f} {r['cpu']:7.2f} {r['sql']:4d} {r['commits']:7d}"
              f" {base / r['cpu']:9.2f}")


if __name__ == "__main__":
    main()
