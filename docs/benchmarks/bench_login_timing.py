#!/usr/bin/env python3
"""Does a failed login take as long for an unknown address as for a known one?

Posts the login form ``--requests`` times (default 40) for a known account
with a wrong password and for an address that has no account, alternating,
against the app with the production password hash (scrypt) on a temporary
SQLite database, through the Flask test client. Prints the median and mean
time of each in milliseconds and their ratio; the goal is a ratio within
20 % of 1 (the login checks a dummy scrypt hash when there is no account, so
the time does not tell who has one).

    .venv/bin/python docs/benchmarks/bench_login_timing.py --requests 40
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from config import Config  # noqa: E402
from feedback import create_app  # noqa: E402
from feedback.extensions import db  # noqa: E402
from feedback.models import Role, User  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="logins of each kind")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-login-"))

    class BenchConfig(Config):
        SECRET_KEY = secrets.token_urlsafe(48)
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{folder / 'bench.db'}"
        PASSWORD_HASH_METHOD = "scrypt"  # what production uses
        RATELIMIT_ENABLED = False
        WTF_CSRF_ENABLED = False
        MAIL_BACKEND = "memory"
        REDIS_URL = ""

    app = create_app(BenchConfig)
    with app.app_context():
        db.create_all()
        user = User(email="known@example.vn", role=Role.desk.value, full_name="Cán bộ")
        user.set_password("mat-khau-that-su-dai")
        db.session.add(user)
        db.session.commit()

    client = app.test_client()
    timings: dict[str, list[float]] = {"known account, wrong password": [], "unknown account": []}
    emails = {"known account, wrong password": "known@example.vn", "unknown account": "nobody@example.vn"}
    client.post("/auth/login", data={"email": "warm@example.vn", "password": "x" * 12})  # warm-up
    for _ in range(args.requests):
        for kind, email in emails.items():
            started = time.perf_counter()
            response = client.post("/auth/login", data={"email": email, "password": "sai-mat-khau-roi"})
            timings[kind].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 401, response.status_code

    print(f"{args.requests} failed logins of each kind, scrypt, SQLite")
    for kind, values in timings.items():
        print(f"  {kind:32} median {statistics.median(values):7.1f} ms   mean {statistics.mean(values):7.1f} ms")
    known, unknown = (statistics.median(v) for v in timings.values())
    ratio = unknown / known
    print(f"  ratio unknown / known (median): {ratio:.2f}  ({'within' if abs(ratio - 1) <= 0.2 else 'OUTSIDE'} 20 %)")


if __name__ == "__main__":
    main()
