"""The production topology under faults: a fresh PostgreSQL database, a private
redis-server, two gunicorns (two workers each), two ``rq worker``s with
``AppWorker`` and the cron runner, all as subprocesses on 127.0.0.1.

Counts are taken in the database and in the mailbox (the console mail backend
writes one ``.eml`` file per message sent, named after the notification id and
template). Run with ``./test.sh tests/test_topology_faults.py``; needs
FEEDBACK_TEST_PG_URL and a redis-server binary, which test.sh provides.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy
from itertools import pairwise
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from .conftest import postgresql_url, require_service, scratch_databases

pytestmark = [pytest.mark.topology, pytest.mark.redis, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
OFFICE_TZ = timezone(timedelta(hours=7))
N_CASES = 30
WAIT = 60  # seconds for any one wait


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def http(method: str, url: str, body: bytes | None = None, timeout: float = 15, key: str = "") -> int:
    headers = {"Content-Type": "application/json"} if body else {}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def submission_body(n: int, email: str = "") -> bytes:
    import json

    return json.dumps({
        "type": "report",
        "sender": {"kind": "individual", "name": f"Nguyễn Văn {n}", "address": "12 Lạch Tray, Ngô Quyền, Hải Phòng",
                   "phone": "0912 345 678", "email": email or f"citizen{n}@example.vn"},
        "category": "DAT-DAI", "title": f"Phản ánh số {n}",
        "content": "Hồ sơ đăng ký biến động đất đai nộp đã 30 ngày vẫn chưa có kết quả.",
        "publish_consent": True,
    }).encode()


def next_office_morning(after_days: int = 7) -> datetime:
    """09:00 Hải Phòng time on a Tuesday at least ``after_days`` from now: past
    the desk's classification deadline of a case submitted today."""
    day = date.today() + timedelta(days=after_days)
    while day.weekday() != 1:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=OFFICE_TZ)


# Services --------------------------------------------------------------------


def redis_binary() -> str:
    binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server") or ""
    require_service(bool(binary) and os.path.exists(binary), "redis-server not found (REDIS_SERVER_BIN)")
    return binary


class Processes:
    """Subprocesses of one test: each logs to a file; all are ended in ``close``."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], **extra_env: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(args, cwd=ROOT, env={**self.env, **extra_env}, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        process = self.running.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def close(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                with _quiet():
                    os.killpg(process.pid, signal.SIGTERM)
        for name, process in list(self.running.items()):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with _quiet():
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            del self.running[name]


def _quiet() -> suppress:
    return suppress(ProcessLookupError)


def flask(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


class Topology:
    """The processes of a production installation, started on demand."""

    def __init__(self, tmp: Path, database_url: str, redis_url: str, procs: Processes) -> None:
        self.tmp, self.database_url, self.redis_url, self.procs = tmp, database_url, redis_url, procs
        self.mail = tmp / "mail"
        self.engine: Engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.web: list[str] = []

    def gunicorn(self, name: str) -> str:
        port = free_port()
        self.procs.start(name, [PY, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
                         FEEDBACK_BIND=f"127.0.0.1:{port}", FEEDBACK_WEB_WORKERS="2",
                         PROMETHEUS_MULTIPROC_DIR=str(self.tmp / f"metrics-{name}"))
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert self.procs.running[name].poll() is None, self.procs.log(name)
            try:
                return http("GET", f"{base}/healthz", timeout=2) == 200
            except OSError:
                return False

        wait_for(up, f"{name} to answer")
        self.web.append(base)
        return base

    def worker(self, name: str) -> subprocess.Popen:
        queue = self.procs.env["FEEDBACK_RQ_QUEUE"]
        return self.procs.start(name, [PY, "-m", "rq.cli", "worker", "--url", self.redis_url,
                                       "--worker-class", "feedback.jobs.AppWorker", queue])

    def cron(self) -> subprocess.Popen:
        return self.procs.start("cron", [PY, "-m", "feedback.cron_runner", "--url", self.redis_url, "tests.cron_fast"])

    def start_redis(self, binary: str) -> None:
        """redis-server on the port of ``redis_url``, without persistence: a
        restart comes back empty, as after a crash."""
        port = str(Redis.from_url(self.redis_url).connection_pool.connection_kwargs["port"])
        self.procs.start("redis", [binary, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"])
        wait_for(lambda: _redis_up(self.redis_url), "redis-server", timeout=10)

    def scalar(self, sql: str, **params) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar() or 0)

    def ids(self, sql: str, **params) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.execute(text(sql), params).scalars())

    def mails(self, template: str) -> Counter:
        """How many .eml files each notification id of ``template`` has."""
        return Counter(int(path.name.split("-")[1]) for path in self.mail.glob(f"*-{template}.eml"))

    def recipients(self, template: str) -> Counter:
        return Counter(message_from_bytes(path.read_bytes(), policy=policy.default)["To"]
                       for path in self.mail.glob(f"*-{template}.eml"))

    def scan(self, now: datetime, **extra_env: str) -> subprocess.Popen:
        return subprocess.Popen([PY, "-m", "flask", "--app", "wsgi", "reminders", "scan", "--now", now.isoformat()],
                                cwd=ROOT, env={**self.procs.env, **extra_env}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def python(self, code: str) -> str:
        result = subprocess.run([PY, "-c", code], cwd=ROOT, env=self.procs.env, capture_output=True, text=True,
                                timeout=WAIT)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def submit(self, count: int, start: int = 0) -> list[int]:
        def one(n: int) -> int:
            base = self.web[n % len(self.web)]
            return http("POST", f"{base}/api/v1/cases", submission_body(n), timeout=30)

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(start, start + count)))


@pytest.fixture
def topology(tmp_path) -> Iterator[Topology]:
    binary = redis_binary()
    with scratch_databases("topology") as (scratch,):
        database_url = scratch.replace("postgresql+psycopg://", "postgresql://", 1)  # as an operator writes it
        rport = free_port()
        redis_url = f"redis://127.0.0.1:{rport}/0"
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
               "FEEDBACK_RQ_QUEUE": "feedback-topology", "SECRET_KEY": secrets.token_urlsafe(48),
               "FEEDBACK_MAIL_BACKEND": "console", "FEEDBACK_MAIL_FOLDER": str(tmp_path / "mail"),
               "FEEDBACK_UPLOAD_FOLDER": str(tmp_path / "uploads"), "FEEDBACK_INPROCESS_SCHEDULER": "0",
               "RATELIMIT_ENABLED": "false", "FEEDBACK_BASE_URL": "http://127.0.0.1"}
        procs = Processes(tmp_path, env)
        topo = Topology(tmp_path, database_url, redis_url, procs)
        try:
            topo.start_redis(binary)
            upgrade = flask(env, "db", "upgrade")
            assert upgrade.returncode == 0, upgrade.stderr
            seeded = subprocess.run(
                [PY, "-c", "from wsgi import app\nfrom feedback.demo import seed_demo\n"
                           "with app.app_context(): seed_demo()"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            assert seeded.returncode == 0, seeded.stderr
            yield topo
        finally:
            procs.close()
            topo.engine.dispose()


def _redis_up(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1).ping())
    except RedisError:
        return False


# 1. The production topology --------------------------------------------------


def test_two_webs_two_workers_one_cron_deliver_each_receipt_and_reminder_once(topology):
    started = time.monotonic()
    topology.gunicorn("web1")
    topology.gunicorn("web2")
    topology.worker("worker1")
    topology.worker("worker2")
    topology.cron()

    statuses = topology.submit(N_CASES)
    assert statuses == [201] * N_CASES
    assert topology.scalar("SELECT count(*) FROM \"case\"") == N_CASES

    def receipts_sent() -> bool:
        return topology.scalar("SELECT count(*) FROM notification WHERE template = 'receipt' "
                               "AND status = 'sent'") == N_CASES

    wait_for(receipts_sent, "every receipt to be sent")
    assert topology.scalar("SELECT count(*) FROM notification WHERE template = 'receipt'") == N_CASES
    receipts = topology.mails("receipt")
    assert len(receipts) == N_CASES and set(receipts.values()) == {1}
    assert len(topology.recipients("receipt")) == N_CASES  # one per citizen

    # Past the deadlines: two scans at once, from two processes.
    now = next_office_morning()
    scans = [topology.scan(now) for _ in range(2)]
    outputs = [scan.communicate(timeout=WAIT)[0] for scan in scans]
    assert [scan.returncode for scan in scans] == [0, 0], outputs
    filed = topology.scalar("SELECT count(*) FROM reminder_delivery")
    assert filed > 0, outputs
    assert topology.scalar("SELECT count(*) FROM notification WHERE template = 'reminder'") == filed

    def reminders_done() -> bool:
        return topology.scalar("SELECT count(*) FROM notification WHERE template = 'reminder' "
                               "AND status IN ('sent', 'failed')") == filed

    wait_for(reminders_done, "every reminder to be sent")
    assert topology.scalar("SELECT count(*) FROM notification WHERE template = 'reminder' "
                           "AND status = 'sent'") == filed
    reminders = topology.mails("reminder")
    assert len(reminders) == filed and set(reminders.values()) == {1}

    again = topology.scan(now)
    assert again.wait(timeout=WAIT) == 0
    assert topology.scalar("SELECT count(*) FROM reminder_delivery") == filed
    print(f"topology: {N_CASES} cases, {N_CASES} receipts, {filed} reminders "
          f"in {time.monotonic() - started:.1f} s")


# 2. A worker killed mid-delivery, a scan killed midway ------------------------


class SlowSmtp:
    """aiosmtpd on 127.0.0.1 that records every message as DATA arrives and,
    for ``slow`` recipients, keeps the client waiting for the reply."""

    def __init__(self, slow: str) -> None:
        import threading

        from aiosmtpd.controller import Controller

        self.slow = slow
        self.received: list[str] = []
        self.slow_started = threading.Event()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        self.received.extend(envelope.rcpt_tos)
        if self.slow in envelope.rcpt_tos:
            self.slow_started.set()
            await asyncio.sleep(60)
        return "250 Message accepted for delivery"


def test_a_worker_killed_while_sending_leaves_one_uncertain_row_and_no_double(topology):
    from rq import Worker

    from feedback.jobs import delivery_job_id

    smtp = SlowSmtp("slow@example.vn")
    smtp.controller.start()
    try:
        topology.procs.env.update({"FEEDBACK_MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1",
                                   "MAIL_PORT": str(smtp.port), "MAIL_USE_TLS": "false"})
        base = topology.gunicorn("web1")
        workers = {name: topology.worker(name) for name in ("worker1", "worker2")}
        assert http("POST", f"{base}/api/v1/cases", submission_body(0, "slow@example.vn")) == 201
        assert smtp.slow_started.wait(WAIT), topology.procs.log("worker1") + topology.procs.log("worker2")
        slow_id = topology.scalar("SELECT id FROM notification WHERE recipient = 'slow@example.vn'")
        assert topology.scalar("SELECT count(*) FROM notification WHERE id = :i AND status = 'sending'",
                               i=slow_id) == 1
        redis = Redis.from_url(topology.redis_url)
        sending = [w for w in Worker.all(connection=redis) if w.get_current_job_id() == delivery_job_id(slow_id)]
        assert len(sending) == 1, [w.get_current_job_id() for w in Worker.all(connection=redis)]
        victim = next(name for name, process in workers.items() if process.pid == sending[0].pid)
        topology.procs.kill(victim)  # SIGKILL the worker and its work horse mid-SMTP
        topology.worker("worker3")

        others = 10
        assert topology.submit(others, start=1) == [201] * others
        wait_for(lambda: topology.scalar("SELECT count(*) FROM notification WHERE template = 'receipt' "
                                         "AND status = 'sent'") == others,
                 "the other receipts to be sent")
        report = topology.python(
            "from datetime import timedelta\nfrom wsgi import app\nfrom feedback.jobs import sweep\n"
            "from feedback.models import utcnow\n"
            "with app.app_context(): print(sweep(now=utcnow() + timedelta(minutes=16)).uncertain)")
        assert report.strip() == f"[{slow_id}]"
        assert topology.scalar("SELECT count(*) FROM notification WHERE id = :i AND status = 'failed' "
                               "AND last_error LIKE 'uncertain%'", i=slow_id) == 1
        time.sleep(3)  # nothing more goes out
        counts = Counter(r for r in smtp.received if r.endswith("@example.vn"))
        assert counts.pop("slow@example.vn") == 1
        assert len(counts) == others and set(counts.values()) == {1}
        assert topology.scalar("SELECT count(*) FROM notification WHERE template = 'receipt' "
                               "AND status = 'sent'") == others
        print(f"killed worker: 1 uncertain row, {others} receipts sent once")
    finally:
        smtp.controller.stop()


SCAN_LEASE = 12  # seconds (FEEDBACK_SCAN_LOCK_SECONDS): renewed every 4 s while a scan runs


def test_a_scan_killed_midway_files_every_reminder_once_after_its_lease(topology):
    count = 20
    lock_key = "feedback:lock:reminder-scan"
    redis = Redis.from_url(topology.redis_url)
    topology.procs.env["FEEDBACK_SCAN_LOCK_SECONDS"] = str(SCAN_LEASE)
    topology.gunicorn("web1")
    topology.worker("worker1")
    assert topology.submit(count) == [201] * count
    wait_for(lambda: topology.scalar("SELECT count(*) FROM notification WHERE template = 'receipt' "
                                     "AND status = 'sent'") == count,
             "the receipts to be sent")
    now = next_office_morning()
    # Hold the reminder table so that the scan stops inside its transaction.
    blocker = topology.engine.connect()
    try:
        transaction = blocker.begin()
        blocker.execute(text("LOCK TABLE reminder_delivery IN EXCLUSIVE MODE"))
        scan = topology.scan(now)
        wait_for(lambda: topology.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE '%reminder_delivery%'") >= 1, "the scan to wait on the reminder table")
        ttls = []
        for _ in range(24):  # 6 s, longer than one renewal interval
            ttls.append(redis.pttl(lock_key))
            time.sleep(0.25)
        assert any(later > earlier for earlier, later in pairwise(ttls)), ttls  # renewed while blocked
        os.killpg(scan.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        busy = topology.scan(now)  # at once: nobody renews the killed scan's lease, but it still runs
        scan.wait(timeout=10)
        transaction.rollback()
    finally:
        blocker.close()
    wait_for(lambda: topology.scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == 0,
             "the killed scan's session to end")
    assert topology.scalar("SELECT count(*) FROM reminder_delivery") == 0  # nothing half-filed

    # Within the lease the killed scan still holds the lock: the next scan says
    # so and files nothing. Nobody renews it, so it expires on its own.
    assert "another scan is running" in busy.communicate(timeout=WAIT)[0]
    busy_after = time.monotonic() - killed_at
    wait_for(lambda: not redis.exists(lock_key), "the killed scan's lease to run out", timeout=SCAN_LEASE + 5)
    freed_after = time.monotonic() - killed_at
    assert freed_after <= SCAN_LEASE + 1
    for _ in range(2):
        again = topology.scan(now)
        output = again.communicate(timeout=WAIT)[0]
        assert again.returncode == 0, output
        assert "another scan is running" not in output
    filed = topology.scalar("SELECT count(*) FROM reminder_delivery")
    assert filed >= count
    assert topology.scalar("SELECT count(*) FROM notification WHERE template = 'reminder'") == filed
    wait_for(lambda: topology.scalar("SELECT count(*) FROM notification WHERE template = 'reminder' "
                                     "AND status = 'sent'") == filed, "the reminders to be sent")
    reminders = topology.mails("reminder")
    assert len(reminders) == filed and set(reminders.values()) == {1}
    print(f"killed scan: busy {busy_after:.1f} s after the kill, lock free after {freed_after:.1f} s "
          f"(lease {SCAN_LEASE} s); "
          f"{filed} reminders filed and sent once")


# 3. PostgreSQL restarted while serving ----------------------------------------


def pg_bin() -> str:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return str(folder)
    initdb = shutil.which("initdb")
    require_service(initdb is not None, "initdb/pg_ctl not found: cannot start a PostgreSQL of our own")
    return str(Path(initdb or "").parent)


class PgCluster:
    """A throw-away PostgreSQL cluster this test may stop and start (as test.sh
    starts one: the postgres account when running as root)."""

    def __init__(self) -> None:
        import tempfile

        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="feedback-topology-pg-"))
        self.root.chmod(0o755)
        if os.getuid() == 0:
            require_service(_has_postgres_account(), "running as root without a postgres account")
            shutil.chown(self.root, "postgres")
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/feedback"

    def pg(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [f"{self.bin}/{tool}", *args]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def ctl(self, *args: str) -> None:
        result = self.pg("pg_ctl", "-D", str(self.data), *args)
        assert result.returncode == 0, result.stdout + result.stderr

    def start(self) -> None:
        self.ctl("-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                 "-c synchronous_commit=off -c full_page_writes=off", "-l", str(self.root / "pg.log"), "-w", "start")

    def create(self) -> None:
        result = self.pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                         "--locale=C.UTF-8")
        assert result.returncode == 0, result.stderr
        self.start()
        result = self.pg("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "feedback")
        assert result.returncode == 0, result.stderr

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _has_postgres_account() -> bool:
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


def test_postgresql_restarted_under_a_running_gunicorn_loses_no_case(tmp_path):
    import threading

    postgresql_url()  # the same requirement as the other tests: PostgreSQL is part of the run
    cluster = PgCluster()
    env = {**os.environ, "DATABASE_URL": cluster.url, "REDIS_URL": "", "SECRET_KEY": secrets.token_urlsafe(48),
           "FEEDBACK_MAIL_BACKEND": "console", "FEEDBACK_MAIL_FOLDER": str(tmp_path / "mail"),
           "FEEDBACK_UPLOAD_FOLDER": str(tmp_path / "uploads"), "FEEDBACK_INPROCESS_SCHEDULER": "0",
           "RATELIMIT_ENABLED": "false", "FEEDBACK_BASE_URL": "http://127.0.0.1", "FEEDBACK_WEB_TIMEOUT": "30"}
    procs = Processes(tmp_path, env)
    topology = Topology(tmp_path, cluster.url, "", procs)
    try:
        cluster.create()
        assert flask(env, "db", "upgrade").returncode == 0
        topology.python("from wsgi import app\nfrom feedback.demo import seed_demo\n"
                        "with app.app_context(): seed_demo()")
        base = topology.gunicorn("web1")
        assert topology.submit(4) == [201] * 4
        topology.engine.dispose()

        results: list[tuple[int, int | str, float]] = []
        stop = threading.Event()

        def traffic(first: int) -> None:
            n = first
            while not stop.is_set():
                began = time.monotonic()
                try:
                    status: int | str = http("POST", f"{base}/api/v1/cases", submission_body(n), timeout=40,
                                             key=f"topology-{n}")
                except OSError as exc:
                    status = type(exc).__name__
                results.append((n, status, time.monotonic() - began))
                n += 2
                time.sleep(0.05)

        threads = [threading.Thread(target=traffic, args=(1000 + i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1)
            cluster.ctl("-m", "fast", "-w", "stop")
            time.sleep(3)  # requests meet a database that is gone
            cluster.start()
            time.sleep(2)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        statuses = Counter(status for _, status, _ in results)
        assert all(isinstance(status, int) and (status == 201 or status >= 500) for status in statuses), statuses
        assert max(seconds for _, _, seconds in results) < 35, results
        failed = sum(n for status, n in statuses.items() if status != 201)
        assert failed > 0, statuses  # the outage was seen

        # Back without restarting gunicorn: stale pooled connections are replaced.
        assert topology.submit(6, start=2000) == [201] * 6
        succeeded = 4 + statuses[201] + 6
        # A request cut off after its commit answers 5xx although its case
        # exists: complete (with its receipt row), and the client's retry with
        # the same Idempotency-Key gets that case back instead of a second one.
        committed_but_failed = topology.scalar('SELECT count(*) FROM "case"') - succeeded
        assert 0 <= committed_but_failed <= failed
        retried = Counter(http("POST", f"{base}/api/v1/cases", submission_body(n), timeout=30, key=f"topology-{n}")
                          for n, status, _ in results if status != 201)
        assert retried == Counter({201: failed}), retried
        succeeded += failed
        assert topology.scalar('SELECT count(*) FROM "case"') == succeeded == 10 + len(results)
        assert topology.scalar("SELECT count(*) FROM notification WHERE template = 'receipt'") == succeeded
        # The sweeper, 16 minutes on: a receipt whose in-process delivery was
        # cut off is delivered now (queued) or, if its claim had committed,
        # marked uncertain for a person (at most once, never a second copy).
        topology.python(
            "from datetime import timedelta\nfrom wsgi import app\nfrom feedback.jobs import sweep\n"
            "from feedback.models import utcnow\n"
            "with app.app_context(): sweep(now=utcnow() + timedelta(minutes=16))")
        sent_ids = topology.ids("SELECT id FROM notification WHERE template = 'receipt' AND status = 'sent'")
        uncertain_ids = topology.ids("SELECT id FROM notification WHERE template = 'receipt' "
                                     "AND status = 'failed' AND last_error LIKE 'uncertain%'")
        sent, uncertain = len(sent_ids), len(uncertain_ids)
        assert sent + uncertain == succeeded and uncertain <= 2
        receipts = topology.mails("receipt")
        # Every sent receipt was mailed exactly once. An uncertain one is
        # uncertain because its mail may have gone out before the database
        # went away: it may be in the mailbox (once) or not, never twice.
        assert set(receipts.values()) == {1}
        assert sent_ids <= set(receipts) <= sent_ids | uncertain_ids
        assert procs.running["web1"].poll() is None
        print(f"postgresql restart: {len(results)} requests during, {statuses[201]} succeeded, "
              f"{failed} failed cleanly ({dict(statuses)}), {committed_but_failed} of them committed; "
              f"after retries {succeeded} cases, {sent} receipts sent, {uncertain} uncertain")
    finally:
        procs.close()
        topology.engine.dispose()
        cluster.destroy()


# 4. Redis stopped during submissions, rate limits on ---------------------------


def test_redis_stopped_during_submissions_loses_no_case_and_the_running_cron_delivers_each_receipt_once(topology):
    from feedback.jobs.heartbeat import HEARTBEAT_KEY

    before, waves, per_wave, pause = 4, 3, 4, 2.5  # 16 submissions: under the anonymous 20 per hour
    receipts_sent = "SELECT count(*) FROM notification WHERE template = 'receipt' AND status = 'sent'"
    topology.procs.env["RATELIMIT_ENABLED"] = "true"  # counted in REDIS_URL, the Redis stopped below
    topology.gunicorn("web1")
    topology.worker("worker1")
    topology.cron()
    redis = Redis.from_url(topology.redis_url, socket_connect_timeout=1)
    assert topology.submit(before) == [201] * before
    wait_for(lambda: topology.scalar(receipts_sent) == before, "the receipts before the outage")
    assert redis.keys("LIMITS*"), "the submissions were not counted in Redis"

    topology.procs.kill("redis")
    stopped_at = time.monotonic()
    during: list[int] = []
    slowest = 0.0
    for wave in range(waves):  # the outage spans several 2-second cron intervals
        began = time.monotonic()
        during += topology.submit(per_wave, start=before + wave * per_wave)
        slowest = max(slowest, time.monotonic() - began)
        time.sleep(pause)
    assert during == [201] * waves * per_wave
    assert topology.scalar(receipts_sent) == before  # nothing could be queued meanwhile
    topology.start_redis(redis_binary())
    down_for = time.monotonic() - stopped_at
    back_at, restarted_at = time.time(), time.monotonic()

    succeeded = before + len(during)
    wait_for(lambda: topology.scalar(receipts_sent) == succeeded, "every receipt to be sent by the running cron")
    delivered_after = time.monotonic() - restarted_at
    assert float(redis.get(HEARTBEAT_KEY) or 0) >= back_at  # the cron's sweep, not this test, did it
    time.sleep(5)  # more sweeps: nothing goes out twice
    assert all(topology.procs.running[name].poll() is None for name in ("web1", "worker1", "cron"))
    assert topology.scalar('SELECT count(*) FROM "case"') == succeeded
    assert topology.scalar("SELECT count(*) FROM notification WHERE template = 'receipt'") == succeeded
    assert topology.scalar(receipts_sent) == succeeded  # so none failed, none uncertain
    receipts = topology.mails("receipt")
    assert len(receipts) == succeeded and set(receipts.values()) == {1}
    assert len(topology.recipients("receipt")) == succeeded
    print(f"redis outage: {down_for:.1f} s down (cron every 2 s), {len(during)} submissions during it, all 201 "
          f"(slowest wave of {per_wave} in {slowest:.2f} s); {succeeded} cases, {succeeded} receipts sent once, "
          f"all within {delivered_after:.1f} s of Redis returning")
