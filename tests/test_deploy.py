"""The gunicorn configuration in deploy/: two workers on 127.0.0.1 serving a
migrated SQLite database, /metrics adding up the requests of both workers
(Prometheus multiprocess mode) and the access log carrying the request id."""
from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "deploy-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, **headers) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def stop(process: subprocess.Popen) -> None:
    """Stop gunicorn as systemd does (SIGTERM), killing it if it hangs."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def gunicorn(tmp_path):
    database = f"sqlite:///{tmp_path / 'feedback.db'}"
    env = {**os.environ, "DATABASE_URL": database, "SECRET_KEY": secrets.token_urlsafe(48), "REDIS_URL": "",
           "FEEDBACK_INPROCESS_SCHEDULER": "0", "FEEDBACK_METRICS_TOKEN": TOKEN,
           "FEEDBACK_UPLOAD_FOLDER": str(tmp_path / "uploads"), "FEEDBACK_MAIL_FOLDER": str(tmp_path / "mail"),
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "FEEDBACK_WEB_WORKERS": "2",
           "RATELIMIT_ENABLED": "false"}
    upgrade = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=180)
    assert upgrade.returncode == 0, upgrade.stderr
    port = free_port()
    env["FEEDBACK_BIND"] = f"127.0.0.1:{port}"
    with open(tmp_path / "gunicorn.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield base, tmp_path
    finally:
        stop(process)


def healthz_count(text: str) -> float:
    match = re.search(r'^feedback_http_request_duration_seconds_count\{endpoint="health.healthz",'
                      r'status_class="2xx"\} (\S+)$', text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


def test_metrics_add_up_the_requests_of_every_gunicorn_worker(gunicorn):
    base, tmp_path = gunicorn
    def probe(n: int) -> None:
        status, headers, _ = get(f"{base}/healthz", **{"X-Request-ID": f"deploy-{n}"})
        assert status == 200 and headers["X-Request-ID"] == f"deploy-{n}"

    with ThreadPoolExecutor(6) as pool:  # concurrent, so that both workers answer some
        list(pool.map(probe, range(30)))
    assert get(f"{base}/metrics")[0] == 401
    counts = set()
    for _ in range(4):  # whichever worker answers the scrape, it reports all of them
        status, _headers, text = get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}")
        assert status == 200
        counts.add(healthz_count(text))
        assert "feedback_outbox_oldest_undelivered_seconds 0.0" in text
    assert len(counts) == 1 and counts.pop() >= 31  # the 30 above and the start-up probes
    pids = {re.search(r"_(\d+)\.db$", name.name).group(1) for name in (tmp_path / "metrics").glob("*.db")}
    assert 1 <= len(pids) <= 2  # one file set per worker that answered
    log = (tmp_path / "gunicorn.log").read_text()
    assert "request_id=deploy-7" in log  # gunicorn's access line
    assert '"request_id": "deploy-7"' in log  # the app's JSON line


def test_a_long_streamed_response_outlives_the_worker_timeout(tmp_path):
    """The committed config runs threads (gthread), so gunicorn's timeout
    replaces a stopped worker, not one busy streaming a long export: a sync
    worker with a 2 s timeout would be killed mid-response here."""
    port = free_port()
    env = {**os.environ, "FEEDBACK_BIND": f"127.0.0.1:{port}", "FEEDBACK_WEB_WORKERS": "1",
           "FEEDBACK_WEB_TIMEOUT": "2", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    env.pop("FEEDBACK_WEB_THREADS", None)
    with open(tmp_path / "gunicorn.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "tests.slow_stream_app:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        began = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?seconds=6", timeout=20) as response:
            body = response.read().decode()
        assert time.monotonic() - began >= 6
        assert body.splitlines() == [f"row {n}" for n in range(24)]  # every row, none cut off
        assert "WORKER TIMEOUT" not in (tmp_path / "gunicorn.log").read_text()
    finally:
        stop(process)


def test_a_production_install_gets_no_test_tool():
    """requirements.txt is what a server installs: pinned, and without the
    tools that only tests and development use (those are in requirements-dev.txt,
    which installs requirements.txt first)."""
    def packages(name: str) -> dict[str, str]:
        lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
        pins = [line.split("#")[0].strip() for line in lines]
        return dict(pin.lower().replace("_", "-").split("==", 1) for pin in pins if pin and not pin.startswith("-"))

    production, development = packages("requirements.txt"), packages("requirements-dev.txt")
    test_tools = {"pytest", "pytest-xdist", "playwright", "schemathesis", "hypothesis", "aiosmtpd", "georeport",
                  "ruff", "mypy", "pre-commit", "axe-playwright-python"}
    assert not test_tools & set(production)
    assert test_tools <= set(development)
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert all(line.split("#")[0].strip() == "" or "==" in line
               for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
