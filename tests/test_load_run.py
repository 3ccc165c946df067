"""A short load run (docs/benchmarks/load_submissions.py): gunicorn with the
committed config and 2 workers, a private redis-server and 2 RQ workers on
127.0.0.1, 4 clients submitting for about 8 seconds, half through the web
form and half through the API. Every successful submission is one case, each
case gets one receipt mail, and nothing answers 5xx.

The database is a scratch PostgreSQL database on FEEDBACK_TEST_PG_URL when
test.sh provides one, SQLite otherwise."""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import require_service

pytestmark = [pytest.mark.load, pytest.mark.redis]

SCRIPT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "load_submissions.py"


def load_script():
    spec = importlib.util.spec_from_file_location("load_submissions", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_concurrent_submissions_make_one_case_and_one_receipt_each_without_a_5xx():
    binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server")
    require_service(bool(binary) and os.path.exists(binary or ""), "redis-server not found (REDIS_SERVER_BIN)")
    script = load_script()

    summary = script.load_run(os.environ.get("FEEDBACK_TEST_PG_URL") or None, clients=4, seconds=8,
                              redis_server=binary)

    report = script.report(summary)
    assert summary["successes"] > 0, report
    assert all(c["successes"] > 0 for c in summary["channels"].values()), report  # both channels worked
    assert summary["cases_match"] and summary["cases"] == summary["successes"], report
    assert summary["one_receipt_each"] and summary["receipts"] == summary["cases"], report
    assert summary["server_errors"] == 0 and summary["not_answered"] == 0, report
    assert summary["outbox_left"] == 0 and summary["failed_mails"] == 0, report
