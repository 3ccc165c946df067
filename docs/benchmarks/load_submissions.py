#!/usr/bin/env python3
"""Load run: concurrent submissions against the production topology on loopback.

Starts, on 127.0.0.1 only: a scratch database (a new PostgreSQL database next
to the one in ``--database-url`` or ``FEEDBACK_TEST_PG_URL``, or a SQLite file
when neither is given), ``flask db upgrade`` and a minimal seed (the receiving
desk, one department, one category), a private ``redis-server``, gunicorn with
``deploy/gunicorn.conf.py`` and 2 workers, and 2 ``rq worker --worker-class
feedback.jobs.AppWorker`` processes writing console mail into a temporary
folder. Rate limits are off (``RATELIMIT_ENABLED=false``).

Then ``--clients`` clients submit in a loop for ``--seconds`` seconds: half
through the three-step web form (each step fetched, the CSRF token and the
one-time form token read from the page, the answers posted back), half
through ``POST /api/v1/cases``. Afterwards it waits for the outbox to drain and
checks that the database holds exactly one case per successful submission,
that each case got exactly one receipt mail (``.eml`` files counted per case
code) and that no answer was a 5xx. It prints a table and exits 1 when a check
fails.

    .venv/bin/python docs/benchmarks/load_submissions.py --clients 8 --seconds 20 \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres

Every request has a timeout; every process started is stopped on the way out.
"""
from __future__ import annotations

import argparse
import email
import email.policy
import math
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parents[2]
REQUEST_TIMEOUT = 30  # seconds, for every HTTP request
START_TIMEOUT = 60
CODE = re.compile(r"PAKN\.\d{8}\.\d{4,}")
CATEGORY_CODE = "LOAD-DAT-DAI"
SEED = f"""
from flask_migrate import upgrade
from wsgi import app
from feedback.extensions import db
from feedback.models import Agency, Category
with app.app_context():
    upgrade()  # flask db upgrade
    desk = Agency(code="BP-TIEP-NHAN", name="Bộ phận tiếp nhận", kind="desk", is_desk=True)
    land = Agency(code="SO-NNMT", name="Sở Nông nghiệp và Môi trường")
    db.session.add_all([desk, land])
    db.session.flush()
    db.session.add(Category(code="{CATEGORY_CODE}", name="Đất đai", default_agency_id=land.id))
    db.session.commit()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sqlalchemy_url(url: str) -> str:
    """The URL as the app reads it (plain postgresql:// means psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# Processes ------------------------------------------------------------------------------------------


@dataclass
class Topology:
    base_url: str
    database_url: str
    mail_folder: Path
    logs: Path
    engine: Engine


@contextmanager
def scratch_database(database_url: str | None, folder: Path) -> Iterator[str]:
    """A new empty PostgreSQL database next to ``database_url`` (dropped afterwards), or a SQLite file."""
    if not database_url:
        yield f"sqlite:///{folder / 'load.db'}"
        return
    admin = create_engine(sqlalchemy_url(database_url), isolation_level="AUTOCOMMIT")
    name = f"feedback_load_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(sqlalchemy_url(database_url)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_until(check, what: str, process: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not check():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-3000:] if log else ''}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start in {START_TIMEOUT} s")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start(stack: ExitStack, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    stack.callback(stop, process)
    return process


def redis_pings(url: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1).ping())
    except RedisError:
        return False


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@contextmanager
def topology(database_url: str | None, folder: Path, redis_server: str, web_workers: int = 2,
             rq_workers: int = 2) -> Iterator[Topology]:
    """The production processes on 127.0.0.1; all stopped (and a PostgreSQL scratch database dropped) on exit."""
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database(database_url, folder))
        web_port, redis_port = free_port(), free_port()
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        base_url = f"http://127.0.0.1:{web_port}"
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secrets.token_urlsafe(48),
               "REDIS_URL": redis_url, "FEEDBACK_RQ_QUEUE": "feedback",
               "FEEDBACK_MAIL_BACKEND": "console", "FEEDBACK_MAIL_FOLDER": str(folder / "mail"),
               "FEEDBACK_UPLOAD_FOLDER": str(folder / "uploads"), "FEEDBACK_BASE_URL": base_url,
               "FEEDBACK_SECRET_KEY_FILE": str(folder / "secret_key"), "FEEDBACK_INPROCESS_SCHEDULER": "0",
               "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"), "FEEDBACK_WEB_WORKERS": str(web_workers),
               "FEEDBACK_BIND": f"127.0.0.1:{web_port}", "RATELIMIT_ENABLED": "false",
               "FEEDBACK_LOG_LEVEL": "warning"}
        # flask db upgrade and the seed in one process (one app start-up instead of two)
        done = subprocess.run([sys.executable, "-c", SEED], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"migration or seed failed: {done.stderr[-3000:]}")

        redis = start(stack, [redis_server, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                              "--appendonly", "no"], env, logs / "redis.log")
        wait_until(lambda: redis_pings(redis_url), "redis-server", redis, logs / "redis.log")
        for n in range(rq_workers):
            start(stack, [sys.executable, "-m", "rq.cli", "worker", "--url", redis_url,
                          "--worker-class", "feedback.jobs.AppWorker", "feedback"], env, logs / f"worker-{n}.log")
        web = start(stack, [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"], env,
                    logs / "gunicorn.log")
        wait_until(lambda: http_ok(f"{base_url}/healthz"), "gunicorn", web, logs / "gunicorn.log")
        engine = create_engine(sqlalchemy_url(url))
        stack.callback(engine.dispose)
        yield Topology(base_url, url, folder / "mail", logs, engine)


# Clients --------------------------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """What a browser posts from the page's submission form, unchanged."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_form = False
        self.fields: dict[str, str] = {}
        self.select: str | None = None
        self.options: dict[str, list[str]] = {}
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post" and a.get("action", "").endswith("/submit"):
            self.in_form = True
        if not self.in_form:
            return
        kind = a.get("type", "text").lower()
        if tag == "input" and a.get("name") and kind not in ("submit", "button", "file", "reset", "image"):
            if kind not in ("checkbox", "radio") or "checked" in a:  # unchecked boxes are not sent
                self.fields[a["name"]] = a.get("value", "on" if kind in ("checkbox", "radio") else "")
        elif tag == "select":
            self.select = a.get("name", "")
            self.options[self.select] = []
        elif tag == "option" and self.select is not None:
            self.options[self.select].append(a.get("value", ""))
            if "selected" in a:
                self.fields[self.select] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a.get("name", "")
            self.fields[self.textarea] = ""

    def handle_data(self, data):
        if self.textarea is not None:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.fields[self.textarea] = self.fields[self.textarea].removeprefix("\n")
            self.textarea = None


def page_form(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    if "csrf_token" not in parser.fields or "form_token" not in parser.fields:
        raise ValueError("the page has no submission form with its tokens")
    return parser


SENDER = {"full_name": "Nguyễn Văn An", "address": "12 Lạch Tray, phường Ngô Quyền, Hải Phòng",
          "phone": "0912 345 678", "title": "Thủ tục đất đai kéo dài",
          "content": "Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả."}


@dataclass
class Result:
    channel: str          # "web" or "api"
    step: str             # which request
    status: str           # HTTP status, or "timeout"/"error"
    seconds: float


@dataclass
class Submission:
    channel: str
    ok: bool
    code: str = ""
    requests: list[Result] = field(default_factory=list)


def _request(session: requests.Session, sub: Submission, step: str, method: str, url: str,
             **kwargs) -> requests.Response | None:
    began = time.perf_counter()
    try:
        response = session.request(method, url, timeout=REQUEST_TIMEOUT, allow_redirects=False, **kwargs)
    except requests.Timeout:
        sub.requests.append(Result(sub.channel, step, "timeout", time.perf_counter() - began))
        return None
    except requests.RequestException:
        sub.requests.append(Result(sub.channel, step, "error", time.perf_counter() - began))
        return None
    sub.requests.append(Result(sub.channel, step, str(response.status_code), time.perf_counter() - began))
    return response


def submit_web(session: requests.Session, base: str, n: int) -> Submission:
    """The three steps: triage page, details, check and send; then the receipt page."""
    sub = Submission("web", False)
    page = _request(session, sub, "get form", "GET", f"{base}/submit?triage=scope")
    if page is None or page.status_code != 200:
        return sub
    form = page_form(page.text)
    data = dict(form.fields)
    category = next(v for v in form.options.get("category_id", []) if v)
    data.update(SENDER, sender_kind="individual", type="report", category_id=category,
                email=f"web-{n}@example.vn", step="details")
    check = _request(session, sub, "post details", "POST", f"{base}/submit", data=data)
    if check is None or check.status_code != 200:
        return sub
    data = {**page_form(check.text).fields, "step": "send"}
    sent = _request(session, sub, "post send", "POST", f"{base}/submit", data=data)
    if sent is None or sent.status_code != 303:
        return sub
    receipt = _request(session, sub, "get receipt", "GET", f"{base}/submit/receipt")
    found = CODE.search(receipt.text) if receipt is not None and receipt.status_code == 200 else None
    if found:
        sub.ok, sub.code = True, found.group(0)
    return sub


def submit_api(session: requests.Session, base: str, n: int) -> Submission:
    sub = Submission("api", False)
    body = {"type": "report", "category": CATEGORY_CODE, "title": SENDER["title"], "content": SENDER["content"],
            "publish_consent": True,
            "sender": {"kind": "individual", "name": SENDER["full_name"], "address": SENDER["address"],
                       "phone": SENDER["phone"], "email": f"api-{n}@example.vn"}}
    response = _request(session, sub, "post case", "POST", f"{base}/api/v1/cases", json=body)
    if response is not None and response.status_code == 201:
        sub.ok, sub.code = True, response.json()["code"]
    return sub


def run_load(base_url: str, clients: int, seconds: float) -> tuple[list[Submission], float]:
    """``clients`` threads submitting until ``seconds`` have passed (a submission under way finishes)."""
    submissions: list[Submission] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        submit = submit_web if index % 2 == 0 else submit_api
        n = 0
        with requests.Session() as session:
            while time.monotonic() < deadline:
                n += 1
                try:
                    sub = submit(session, base_url, index * 1_000_000 + n)
                except (ValueError, StopIteration, KeyError) as error:  # a page without the expected form
                    sub = Submission("web" if index % 2 == 0 else "api", False)
                    sub.requests.append(Result(sub.channel, f"unexpected page: {error}", "error", 0.0))
                with lock:
                    submissions.append(sub)

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 4 * REQUEST_TIMEOUT + 10)
    return submissions, time.monotonic() - began


# Checks ---------------------------------------------------------------------------------------------


def wait_for_outbox(engine: Engine, timeout: float = 120) -> int:
    """Wait until no notification is pending, queued or sending; returns how many still are."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            left = conn.execute(text(
                "SELECT count(*) FROM notification WHERE status IN ('pending', 'queued', 'sending')")).scalar_one()
        if left == 0 or time.monotonic() > deadline:
            return int(left)
        time.sleep(0.5)


def receipts_per_code(mail_folder: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in mail_folder.glob("*-receipt.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain", "html"))
        found = set(CODE.findall(str(message["Subject"] or "") + (body.get_content() if body else "")))
        for code in found:
            counts[code] += 1
    return counts


def summarise(submissions: list[Submission], elapsed: float, top: Topology) -> dict:
    left = wait_for_outbox(top.engine)
    with top.engine.connect() as conn:
        cases = set(conn.execute(text('SELECT code FROM "case"')).scalars())
        failed_mails = conn.execute(text("SELECT count(*) FROM notification WHERE status = 'failed'")).scalar_one()
    codes = [s.code for s in submissions if s.ok]
    receipts = receipts_per_code(top.mail_folder)
    results = [r for s in submissions for r in s.requests]
    channels = {}
    for channel in ("web", "api"):
        subs = [s for s in submissions if s.channel == channel]
        reqs = [r for r in results if r.channel == channel]
        final = [r.seconds for r in reqs if r.step in ("post send", "post case") and r.status[0] in "23"]
        channels[channel] = {
            "submissions": len(subs), "successes": sum(s.ok for s in subs), "requests": len(reqs),
            "failures": Counter(r.status for r in reqs if r.status[0] not in "23"),
            "latencies": sorted(r.seconds for r in reqs), "submission_latencies": final,
            "failed_submissions": sum(not s.ok for s in subs),
        }
    return {
        "elapsed": elapsed, "channels": channels, "successes": len(codes), "cases": len(cases),
        "receipts": sum(receipts[c] for c in cases), "outbox_left": left, "failed_mails": int(failed_mails),
        "lost": len(set(codes) - cases) + sum(1 for c in cases if receipts[c] == 0),
        "doubled": (len(codes) - len(set(codes))) + len(cases - set(codes))
                   + sum(1 for c in cases if receipts[c] > 1),
        "server_errors": sum(1 for r in results if r.status.startswith("5")),
        "not_answered": sum(1 for r in results if r.status in ("timeout", "error")),
        "cases_match": cases == set(codes) and len(codes) == len(set(codes)),
        "one_receipt_each": all(receipts[c] == 1 for c in cases),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]  # nearest rank


def report(summary: dict) -> str:
    elapsed = summary["elapsed"]
    lines = [f"{'channel':<8}{'subm.':>7}{'ok':>7}{'requests':>10}{'req/s':>8}{'subm/s':>8}"
             f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  failures by status"]
    for channel, c in summary["channels"].items():
        lat = c["latencies"]
        failures = ", ".join(f"{k}: {v}" for k, v in sorted(c["failures"].items())) or "none"
        lines.append(f"{channel:<8}{c['submissions']:>7}{c['successes']:>7}{c['requests']:>10}"
                     f"{c['requests'] / elapsed:>8.1f}{c['successes'] / elapsed:>8.1f}"
                     f"{percentile(lat, 50) * 1000:>9.0f}{percentile(lat, 95) * 1000:>9.0f}"
                     f"{percentile(lat, 99) * 1000:>9.0f}  {failures}")
    web = summary["channels"]["web"]["submission_latencies"]
    lines.append(f"web 'send' step alone: p50 {percentile(web, 50) * 1000:.0f} ms, "
                 f"p95 {percentile(web, 95) * 1000:.0f} ms, p99 {percentile(web, 99) * 1000:.0f} ms")
    lines.append(f"duration {elapsed:.1f} s; successes {summary['successes']}; cases {summary['cases']}; "
                 f"receipts {summary['receipts']}; lost {summary['lost']}; doubled {summary['doubled']}; "
                 f"5xx {summary['server_errors']}; unanswered {summary['not_answered']}; "
                 f"outbox left {summary['outbox_left']}; failed mails {summary['failed_mails']}")
    return "\n".join(lines)


def problems(summary: dict) -> list[str]:
    found = []
    if not summary["cases_match"]:
        found.append(f"cases in the database ({summary['cases']}) != successful submissions "
                     f"({summary['successes']})")
    if not summary["one_receipt_each"]:
        found.append("not exactly one receipt mail per case")
    if summary["server_errors"]:
        found.append(f"{summary['server_errors']} answers were 5xx")
    if summary["outbox_left"] or summary["failed_mails"]:
        found.append("the outbox did not drain cleanly")
    return found


def load_run(database_url: str | None, clients: int, seconds: float, redis_server: str,
             keep: Path | None = None) -> dict:
    """Start the topology, run the load, check; returns the summary."""
    folder = Path(tempfile.mkdtemp(prefix="feedback-load-"))
    try:
        with topology(database_url, folder, redis_server) as top:
            submissions, elapsed = run_load(top.base_url, clients, seconds)
            summary = summarise(submissions, elapsed, top)
            summary["database"] = make_url(top.database_url).get_backend_name()
            return summary
    finally:
        if keep is not None:
            shutil.copytree(folder / "logs", keep, dirs_exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--database-url", default=os.environ.get("FEEDBACK_TEST_PG_URL") or None,
                        help="a PostgreSQL server to create the scratch database on (default "
                             "FEEDBACK_TEST_PG_URL; SQLite when neither is set)")
    parser.add_argument("--redis-server", default=os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server"))
    parser.add_argument("--keep-logs", type=Path, help="copy the process logs here")
    args = parser.parse_args()
    if not args.redis_server:
        parser.error("redis-server not found (--redis-server or REDIS_SERVER_BIN)")
    summary = load_run(args.database_url, args.clients, args.seconds, args.redis_server, args.keep_logs)
    print(f"{args.clients} clients, {args.seconds:g} s, {summary['database']}, gunicorn 2 workers, 2 RQ workers, "
          f"{os.cpu_count()} CPUs")
    print(report(summary))
    found = problems(summary)
    for problem in found:
        print(f"FAILED: {problem}")
    if not found:
        print("checks passed: one case per success, one receipt per case, no 5xx")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
