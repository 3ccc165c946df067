#!/usr/bin/env python3
"""Request benchmark: each request's throughput as a fraction of the stack's own limit (/healthz).

For each size (``--sizes``, default 10,000 and 1,000,000 cases) it loads a
PostgreSQL database with ``bench_dashboard``'s COPY loader, starts the
production processes on 127.0.0.1 (gunicorn with ``deploy/gunicorn.conf.py``
and 2 sync workers, one ``rq worker --worker-class feedback.jobs.AppWorker``,
a private redis-server, a private PostgreSQL cluster), logs in through the
real login form, issues API tokens with ``flask tokens create``, and drives
each request with ``wrk -t2 -c16 -d10s --latency`` (``docs/benchmarks/wrk/
rotate.lua`` rotates over many case codes). Every figure is also given as a
ratio to ``/healthz`` in the same run: the machine is shared and noisy, the
ratio much less so. Then it streams one CSV export of every case (time, size,
peak RSS of the gunicorn worker) and times ``flask reminders scan --now ...``.

    .venv/bin/python docs/benchmarks/bench_requests.py                     # 10k and 1M
    .venv/bin/python docs/benchmarks/bench_requests.py --sizes 10000 --only inbox,lookup
    .venv/bin/python docs/benchmarks/bench_requests.py --keep-data /var/tmp/bench-data --markdown out.md

Rate limits are off (``RATELIMIT_ENABLED=false``): the benchmark measures the
request path, not the limiter's 429s. A new SECRET_KEY is generated per run.
Everything listens on 127.0.0.1 and is stopped (and its folders removed) on
the way out, also on errors and Ctrl-C. ``--keep-data DIR`` keeps the
PostgreSQL cluster with the loaded databases in DIR; each run then measures a
copy (``CREATE DATABASE ... TEMPLATE``), so submissions and the reminder scan
never change the kept data. Needs root (``runuser -u postgres``) or to be
run as the postgres user; ``/usr/lib/postgresql/15/bin``, ``redis-server``
and ``wrk`` on the PATH.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

# The app refuses to start on PostgreSQL without a strong key: one per run,
# set before config.py (imported by the loader) reads the environment.
os.environ["SECRET_KEY"] = secrets.token_urlsafe(48)

import bench_dashboard as loader  # noqa: E402
import requests  # noqa: E402
from load_submissions import free_port, http_ok, redis_pings, stop, wait_until  # noqa: E402

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
WRK_SCRIPT = HERE / "wrk" / "rotate.lua"
DESK = "desk@bench.vn"
OFFICER = "officer2-0@bench.vn"  # agency 2, the busiest of the loader's agencies
OFFICER_AGENCY = 2
CODES = 2000  # codes each rotating request goes through
REQUEST_TIMEOUT = 600
# Flask-Login's "strong" session protection ties a session to the address and
# the User-Agent: the login and wrk must send the same one.
USER_AGENT = "feedback-bench-requests"

# name -> (label, who: session email / "token:<email>" / None, method, goal: min ratio to /healthz)
REQUESTS: dict[str, tuple[str, str | None, str, float | None]] = {
    "healthz": ("/healthz (the stack's limit)", None, "GET", None),
    "inbox": ("officer inbox /staff/", OFFICER, "GET", 0.4),
    "desk": ("desk queue /staff/desk", DESK, "GET", 0.4),
    "api-list-desk": ("API list, desk token", f"token:{DESK}", "GET", 0.4),
    "api-list-officer": ("API list, officer token", f"token:{OFFICER}", "GET", 0.4),
    "case-page": ("staff case page", OFFICER, "GET", 0.3),
    "lookup": ("public /lookup?code=", None, "GET", 0.4),
    "api-case": ("public API case", None, "GET", 0.4),
    "submit": ("POST /api/v1/cases", None, "POST", 0.25),
    "dashboard": ("supervisor /dashboard/", loader.SUPERVISOR, "GET", None),
    "overdue": ("overdue list", loader.SUPERVISOR, "GET", None),
}
EXTRA = ("export", "scan")
READS = [name for name, spec in REQUESTS.items() if spec[2] == "GET" and name != "healthz"]
SUBMISSION = {
    "type": "report",
    "sender": {"kind": "individual", "name": "Nguyễn Văn An", "address": "12 Lạch Tray, Ngô Quyền, Hải Phòng",
               "phone": "0912 345 678", "email": "bench-{n}@example.vn"},
    "category": "CAT01",
    "title": "Thủ tục đất đai kéo dài",
    "content": "Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả.",
    "publish_consent": True,
}


class Interrupted(Exception):
    pass


def _terminate(signum, frame):  # SIGTERM: unwind through the finally blocks like Ctrl-C
    raise Interrupted(f"signal {signum}")


# Services ------------------------------------------------------------------------------------------


def _as_postgres(args: list[str]) -> list[str]:
    return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + args


@dataclass
class Cluster:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def cluster(folder: Path):
    """A private PostgreSQL 15 cluster in ``folder`` (created if new) on a free loopback port; stopped after."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data = folder / "data"
    if not (data / "PG_VERSION").exists():
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                     "-E", "UTF8", "--locale=C.UTF-8"]), check=True, capture_output=True)
    port = free_port()
    # fsync and the WAL settings only speed up the load (as in README.md); reads are unaffected.
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c synchronous_commit=off "
               f"-c full_page_writes=off -c max_wal_size=4GB")
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "pg.log"), "-w",
                                 "start", "-o", options]), check=True, capture_output=True)
    try:
        yield Cluster(folder, port)
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True)


def start(stack: ExitStack, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    stack.callback(stop, process)
    return process


def sql(url: str, statement: str, *params) -> list[tuple]:
    with loader._admin(url) as conn:
        cursor = conn.execute(statement, params or None)
        return cursor.fetchall() if cursor.description else []


# Data ----------------------------------------------------------------------------------------------


def schema_fingerprint() -> str:
    """A hash of the models' tables, columns and indexes: a kept database
    loaded from other models (a table or index added since) is loaded again."""
    import hashlib

    import feedback.models  # noqa: F401  (the tables of the metadata)
    from feedback.extensions import db

    parts = []
    for table in sorted(db.metadata.tables.values(), key=lambda t: t.name):
        parts.append(table.name + ":" + ",".join(sorted(column.name for column in table.columns)))
        parts.extend(sorted(f"{index.name}({','.join(c.name for c in index.columns)})" for index in table.indexes))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def ensure_loaded(pg: Cluster, size: int, keep: Path | None, per_day: float) -> tuple[str, dict]:
    """The template database holding ``size`` cases (loaded now unless kept from an earlier run)."""
    name = f"bench_tpl_{size}"
    manifest = keep / "loaded.json" if keep else None
    known = json.loads(manifest.read_text()) if manifest and manifest.exists() else {}
    exists = sql(pg.url, "SELECT 1 FROM pg_database WHERE datname = %s", name)
    schema = schema_fingerprint()
    if exists and known.get(str(size), {}).get("schema") == schema:
        print(f"  {size:,} cases: reusing the database loaded {known[str(size)]['loaded_at']}", flush=True)
        return name, {**known[str(size)], "reused": True}
    if exists and str(size) in known:
        print(f"  {size:,} cases: the models changed since the kept load; loading again", flush=True)
    sql(pg.url, f'DROP DATABASE IF EXISTS "{name}"')
    sql(pg.url, f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    url = pg.database(name)
    loader.create_schema(url)
    counts = loader.seed(url, size, per_day, datetime.now(UTC))
    info = {"loaded_at": datetime.now(UTC).isoformat(timespec="seconds"), "counts": counts,
            "load_seconds": round(time.perf_counter() - started, 1), "schema": schema}
    print(f"  {size:,} cases: loaded {counts} in {info['load_seconds']:.0f} s", flush=True)
    if manifest:
        known[str(size)] = info
        manifest.write_text(json.dumps(known, indent=1))
    return name, {**info, "reused": False}


def flask(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
    return done


def prepare_accounts(url: str, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A desk account (the loader makes none) and a read token for the desk and the officer,
    through the operator commands. Returns the desk's password and the tokens by e-mail."""
    password = secrets.token_urlsafe(18)
    sql(url, "DELETE FROM user_account WHERE email = %s", DESK)
    flask(env, "users", "create", "--email", DESK, "--password", password, "--role", "desk",
          "--name", "Bộ phận tiếp nhận")
    tokens = {}
    for email in (DESK, OFFICER):
        out = flask(env, "tokens", "create", "--email", email, "--name", "bench", "--scope", "read")
        tokens[email] = out.stdout.strip().splitlines()[-1]
    return password, tokens


def sample_codes(url: str) -> dict[str, list[str]]:
    """Case codes to rotate over: any case (public pages), and the officer's agency's cases."""
    every = [r[0] for r in sql(url, 'SELECT code FROM "case" ORDER BY random() LIMIT %s', CODES)]
    agency = [r[0] for r in sql(url, 'SELECT code FROM "case" WHERE agency_id = %s ORDER BY random() LIMIT %s',
                                OFFICER_AGENCY, CODES)]
    return {"all": every, "agency": agency}


# Sessions ------------------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def login(base: str, email: str, password: str) -> str:
    """Log in through the login form (CSRF token read from the page); the Cookie header for wrk."""
    with requests.Session() as session:
        session.headers["User-Agent"] = USER_AGENT
        page = session.get(f"{base}/auth/login", timeout=30)
        found = CSRF.search(page.text)
        if page.status_code != 200 or not found:
            raise RuntimeError(f"login page: {page.status_code}, CSRF token {'found' if found else 'missing'}")
        answer = session.post(f"{base}/auth/login", timeout=30, allow_redirects=False,
                              data={"csrf_token": found.group(1) or found.group(2), "email": email,
                                    "password": password})
        if answer.status_code not in (302, 303):
            raise RuntimeError(f"login of {email} answered {answer.status_code}")
        return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


# Measuring -----------------------------------------------------------------------------------------


def run_wrk(base: str, paths: list[str], headers: dict[str, str], args, folder: Path, name: str,
            method: str = "GET", body: str | None = None) -> dict:
    paths_file = folder / f"{name}.paths"
    paths_file.write_text("\n".join(paths) + "\n")
    extra = [str(paths_file), method]
    if body is not None:
        body_file = folder / f"{name}.body"
        body_file.write_text(body)
        extra.append(str(body_file))
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
               "--timeout", "30s", "-s", str(WRK_SCRIPT)]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    done = subprocess.run([*command, base, "--", *extra], capture_output=True, text=True,
                          timeout=args.duration + 120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed for {name}: {done.stdout[-1500:]} {done.stderr[-1500:]}")
    figures = json.loads(line[len("WRK_JSON "):])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(figures[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return figures


def worker_pids(master: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    return []


def peak_rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure_export(base: str, cookie: str, master: int) -> dict:
    """Stream the CSV export of every case; the peak RSS of the gunicorn workers before and after."""
    before = {pid: peak_rss_mb(pid) for pid in worker_pids(master)}
    started = time.perf_counter()
    length = lines = 0
    status, error = 0, ""
    try:
        with requests.get(f"{base}/dashboard/export/cases.csv", headers={"Cookie": cookie, "User-Agent": USER_AGENT},
                          stream=True,
                          timeout=REQUEST_TIMEOUT) as response:
            status = response.status_code
            for piece in response.iter_content(1 << 16):
                length += len(piece)
                lines += piece.count(b"\n")
    except requests.RequestException as exc:
        error = f"{type(exc).__name__} after {time.perf_counter() - started:.0f} s"
    seconds = time.perf_counter() - started
    after = {pid: peak_rss_mb(pid) for pid in worker_pids(master)}
    grown = max(after, key=lambda p: after[p] - before.get(p, 0.0), default=None)
    return {"status": status, "error": error, "seconds": seconds, "rows": max(lines - 1, 0),
            "megabytes": length / 1e6, "rss_before_mb": before.get(grown, 0.0) if grown else 0.0,
            "rss_after_mb": after.get(grown, 0.0) if grown else 0.0}


def scan_time() -> datetime:
    """The next weekday at 09:00 in the office's time zone (office hours: the scan files reminders)."""
    from feedback.deadlines import OFFICE_TZ

    day = datetime.now(OFFICE_TZ).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=OFFICE_TZ)


def measure_scan(env: dict[str, str]) -> dict:
    """``flask reminders scan --now ...`` wall time, and the app's start-up alone for comparison."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, check=True, capture_output=True)
    startup = time.perf_counter() - started
    now = scan_time().isoformat()
    started = time.perf_counter()
    done = flask(env, "reminders", "scan", "--now", now, timeout=1800)
    seconds = time.perf_counter() - started
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return {"seconds": seconds, "startup_seconds": startup, "now": now, "summary": last}


def wait_for_outbox(url: str, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while True:
        left = sql(url, "SELECT count(*) FROM notification WHERE status IN ('pending', 'queued', 'sending')")[0][0]
        if left == 0 or time.monotonic() > deadline:
            return int(left)
        time.sleep(0.5)


def run_size(size: int, database: str, pg: Cluster, redis_url: str, folder: Path, args, only: set[str]) -> dict:
    """Start gunicorn and the RQ worker on ``database`` and measure every selected request."""
    url = pg.database(database)
    work = folder / f"size-{size}"
    work.mkdir()
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": os.environ["SECRET_KEY"], "REDIS_URL": redis_url,
           "FEEDBACK_ENV": "production", "FEEDBACK_RQ_QUEUE": "feedback", "FEEDBACK_MAIL_BACKEND": "console",
           "FEEDBACK_MAIL_FOLDER": str(work / "mail"), "FEEDBACK_UPLOAD_FOLDER": str(work / "uploads"),
           "FEEDBACK_BASE_URL": base, "FEEDBACK_SECRET_KEY_FILE": str(work / "secret_key"),
           "FEEDBACK_INPROCESS_SCHEDULER": "0", "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
           "FEEDBACK_WEB_WORKERS": "2", "FEEDBACK_WEB_THREADS": "1", "FEEDBACK_BIND": f"127.0.0.1:{web_port}",
           "RATELIMIT_ENABLED": "false", "FEEDBACK_LOG_LEVEL": "warning", "FEEDBACK_SECURE_COOKIES": "false"}
    password, tokens = prepare_accounts(url, env)
    codes = sample_codes(url)
    results: dict = {"requests": {}}
    with ExitStack() as stack:
        start(stack, [sys.executable, "-m", "rq.cli", "worker", "--url", redis_url, "--worker-class",
                      "feedback.jobs.AppWorker", "feedback"], env, work / "worker.log")
        web = start(stack, [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"], env,
                    work / "gunicorn.log")
        try:
            wait_until(lambda: http_ok(f"{base}/healthz"), "gunicorn", web, work / "gunicorn.log")
            cookies = {email: login(base, email, password if email == DESK else loader.PASSWORD)
                       for email in (DESK, OFFICER, loader.SUPERVISOR)}
            plans = {
                "healthz": ["/healthz"],
                "inbox": ["/staff/"],
                "desk": ["/staff/desk"],
                "api-list-desk": ["/api/v1/cases?per_page=20"],
                "api-list-officer": ["/api/v1/cases?per_page=20"],
                "case-page": [f"/staff/cases/{c}" for c in codes["agency"]],
                "lookup": [f"/lookup?code={c}" for c in codes["all"]],
                "api-case": [f"/api/v1/cases/{c}" for c in codes["all"]],
                "submit": ["/api/v1/cases"],
                "dashboard": ["/dashboard/"],
                "overdue": ["/dashboard/overdue"],
            }
            for name, (label, who, method, _goal) in REQUESTS.items():
                if name not in only:
                    continue
                headers = {"User-Agent": USER_AGENT}
                if who and who.startswith("token:"):
                    headers["Authorization"] = f"Bearer {tokens[who[len('token:'):]]}"
                elif who:
                    headers["Cookie"] = cookies[who]
                body = None
                if method == "POST":
                    headers["Content-Type"] = "application/json"
                    body = json.dumps(SUBMISSION, ensure_ascii=False)
                # One request first: a page that does not answer 2xx is a broken benchmark, not a slow page.
                probe = requests.request(method, base + plans[name][0], headers=headers, timeout=120,
                                         allow_redirects=False,
                                         data=body.replace("{n}", "0").encode() if body else None)
                if not 200 <= probe.status_code < 300:
                    raise RuntimeError(f"{name}: {plans[name][0]} answered {probe.status_code}")
                before = sql(url, 'SELECT count(*) FROM "case"')[0][0] if method == "POST" else 0
                figures = run_wrk(base, plans[name], headers, args, work, name, method, body)
                if method == "POST":
                    figures["cases_created"] = sql(url, 'SELECT count(*) FROM "case"')[0][0] - before
                    figures["ok_responses"] = figures["requests"] - figures["non2xx"]
                results["requests"][name] = figures
                print(f"    {label:34} {figures['rps']:8.1f} req/s  p95 {figures['p95_us'] / 1000:7.1f} ms  "
                      f"non-2xx {figures['non2xx']} (3xx {figures['3xx']}, 4xx {figures['4xx']}, "
                      f"5xx {figures['5xx']}), "
                      f"errors {figures['errors']}"
                      + (f"; cases created {figures['cases_created']}, 2xx {figures['ok_responses']}"
                         if method == "POST" else ""), flush=True)
            if "submit" in only:
                results["outbox_left"] = wait_for_outbox(url)
            if "export" in only:
                results["export"] = e = measure_export(base, cookies[loader.SUPERVISOR], web.pid)
                print(f"    CSV export: {e['rows']:,} rows, {e['megabytes']:.0f} MB in {e['seconds']:.1f} s, "
                      f"worker peak RSS {e['rss_before_mb']:.0f} -> {e['rss_after_mb']:.0f} MB"
                      + (f", FAILED: {e['error']}" if e["error"] or e["status"] != 200 else ""), flush=True)
            if "healthz" in only and len(only) > 1:
                again = run_wrk(base, plans["healthz"], {"User-Agent": USER_AGENT}, args, work, "healthz-again")
                results["healthz_again"] = again
                print(f"    /healthz again at the end: {again['rps']:.1f} req/s", flush=True)
        except Exception:
            log = work / "gunicorn.log"
            if log.exists():
                print(f"--- last lines of gunicorn's log ---\n{log.read_text()[-3000:]}", file=sys.stderr)
            raise
    if "scan" in only:  # the web processes are stopped: the scan runs alone
        results["scan"] = s = measure_scan(env)
        print(f"    reminder scan --now {s['now']}: {s['seconds']:.1f} s (start-up alone "
              f"{s['startup_seconds']:.1f} s): {s['summary']}", flush=True)
    return results


# Report --------------------------------------------------------------------------------------------


def table(results: dict[int, dict], markdown: bool) -> str:
    sizes = sorted(results)
    rows = [["request", "cases", "req/s", "× /healthz", "goal", "p50 ms", "p95 ms", "p99 ms", "non-2xx",
             "errors", "requests"]]
    for name, (label, _who, _method, goal) in REQUESTS.items():
        for size in sizes:
            r = results[size]["requests"].get(name)
            ref = results[size]["requests"].get("healthz")
            if r is None:
                continue
            ratio = r["rps"] / ref["rps"] if ref else float("nan")
            verdict = "" if goal is None else f"≥ {goal:g} {'ok' if ratio >= goal else 'MISSED'}"
            rows.append([label, f"{size:,}", f"{r['rps']:.1f}", f"{ratio:.2f}", verdict,
                         f"{r['p50_us'] / 1000:.1f}", f"{r['p95_us'] / 1000:.1f}", f"{r['p99_us'] / 1000:.1f}",
                         str(r["non2xx"]), str(r["errors"]), str(r["requests"])])
    out = [_render(rows, markdown)]
    notes = []
    for size in sizes:
        r = results[size]
        sub = r["requests"].get("submit")
        if sub:
            notes.append(f"{size:,} cases: submissions answered 2xx {sub['ok_responses']}, cases created "
                         f"{sub['cases_created']} (requests still in flight when wrk stopped are created but "
                         f"not counted by wrk); outbox left {r.get('outbox_left', '?')}")
        if "healthz_again" in r:
            notes.append(f"{size:,} cases: /healthz {r['requests']['healthz']['rps']:.1f} req/s first, "
                         f"{r['healthz_again']['rps']:.1f} at the end")
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        rows = [["request", f"p95 ms at {small:,}", f"p95 ms at {large:,}", "ratio", "goal ≤ 1.5 (reads)"]]
        for name, (label, _who, _method, _goal) in REQUESTS.items():
            a, b = results[small]["requests"].get(name), results[large]["requests"].get(name)
            if a and b:
                ratio = b["p95_us"] / a["p95_us"]
                goal = "" if name not in READS else ("ok" if ratio <= 1.5 else "MISSED")
                rows.append([label, f"{a['p95_us'] / 1000:.1f}", f"{b['p95_us'] / 1000:.1f}", f"{ratio:.2f}", goal])
        out.append(_render(rows, markdown))
    extra = [["cases", "CSV export", "export worker peak RSS", "reminder scan (start-up alone)", "scan said"]]
    for size in sizes:
        r = results[size]
        e, s = r.get("export"), r.get("scan")
        if not e and not s:
            continue
        export = "" if not e else (f"{e['rows']:,} rows, {e['megabytes']:.0f} MB in {e['seconds']:.1f} s"
                                   + (f" — FAILED ({e['error'] or e['status']})"
                                      if e["error"] or e["status"] != 200 else ""))
        rss = "" if not e else f"{e['rss_before_mb']:.0f} → {e['rss_after_mb']:.0f} MB"
        scan = "" if not s else f"{s['seconds']:.1f} s ({s['startup_seconds']:.1f} s)"
        extra.append([f"{size:,}", export, rss, scan, s["summary"] if s else ""])
    if len(extra) > 1:
        out.append(_render(extra, markdown))
    if notes:
        out.append("\n".join(f"- {n}" if markdown else n for n in notes))
    return "\n\n".join(out) + "\n"


def _render(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in
                                                                   range(len(rows[0]))) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(row, widths, strict=True))) for row in rows)


# Main ----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="comma-separated case counts")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per request")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--only", help="comma-separated names among: " + ", ".join([*REQUESTS, *EXTRA])
                        + " (/healthz always runs: it is the reference)")
    parser.add_argument("--keep-data", type=Path, help="keep the PostgreSQL cluster with the loaded databases here "
                        "and reuse them in later runs (each run measures a copy)")
    parser.add_argument("--per-day", type=float, default=10000 / 365, help="cases received per day (the loader's)")
    parser.add_argument("--markdown", type=Path, help="also write the tables as markdown to this file")
    parser.add_argument("--json", type=Path, help="also write the raw figures as JSON to this file")
    args = parser.parse_args()
    names = [*REQUESTS, *EXTRA]
    only = set(names) if not args.only else {"healthz", *args.only.split(",")}
    unknown = only - set(names)
    if unknown:
        parser.error(f"unknown names: {', '.join(sorted(unknown))}")
    for tool in ("wrk", "redis-server"):
        if not shutil.which(tool):
            parser.error(f"{tool} not found")
    sizes = [int(s) for s in args.sizes.split(",")]
    signal.signal(signal.SIGTERM, _terminate)
    results: dict[int, dict] = {}
    folder = Path(tempfile.mkdtemp(prefix="feedback-bench-requests-"))
    folder.chmod(0o755)  # the postgres user runs the cluster in a subfolder
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            stack.callback(shutil.rmtree, folder, True)
            pg_folder = args.keep_data.resolve() / "pg" if args.keep_data else folder / "pg"
            if args.keep_data:
                args.keep_data.mkdir(parents=True, exist_ok=True)
            pg = stack.enter_context(cluster(pg_folder))
            redis_port = free_port()
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            redis_dir = folder / "redis"
            redis_dir.mkdir()
            redis = start(stack, ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                                  "--appendonly", "no", "--dir", str(redis_dir)], dict(os.environ),
                          folder / "redis.log")
            wait_until(lambda: redis_pings(redis_url), "redis-server", redis, folder / "redis.log")
            for size in sizes:
                print(f"{size:,} cases …", flush=True)
                template, load = ensure_loaded(pg, size, args.keep_data, args.per_day)
                database = template
                if args.keep_data:  # measure a copy: the kept data stay as loaded
                    database = f"bench_run_{size}"
                    sql(pg.url, f'DROP DATABASE IF EXISTS "{database}"')
                    copy_started = time.perf_counter()
                    sql(pg.url, f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
                    stack.callback(sql, pg.url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                    print(f"  copied to {database} in {time.perf_counter() - copy_started:.0f} s", flush=True)
                from redis import Redis
                Redis.from_url(redis_url).flushall()
                results[size] = run_size(size, database, pg, redis_url, folder, args, only)
                results[size]["load"] = load
    except (KeyboardInterrupt, Interrupted):
        print("interrupted; everything started has been stopped", file=sys.stderr)
        return 130
    print(f"\nduration {time.monotonic() - started:.0f} s; wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s; gunicorn 2 sync workers; rate limits off\n")
    print(table(results, markdown=False))
    if args.markdown:
        args.markdown.write_text(table(results, markdown=True))
        print(f"markdown written to {args.markdown}")
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
