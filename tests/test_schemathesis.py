"""Schemathesis fuzzes the API from its own OpenAPI document, on a live
server on 127.0.0.1 with rate limits off, and finds no server error, no
undocumented status or content type and no answer that breaks its schema.

Bounded: a fixed seed, a few examples per operation, one worker, and a
timeout on the whole run.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from feedback.extensions import db
from feedback.models import Procedure
from feedback.text import fold

from .api_support import issue_token, live_server, submission
from .conftest import require_service

CHECKS = ",".join((
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance",
    "response_headers_conformance", "negative_data_rejection", "unsupported_method",
))
MAX_EXAMPLES = 20
TIMEOUT_SECONDS = 420


@pytest.fixture
def seeded(client, make):
    """Agencies, categories, a procedure, a case and a supervisor's token to fuzz with."""
    desk = make.desk_agency()
    land = make.agency(code="SO-NNMT", name="Sở Nông nghiệp và Môi trường")
    category = make.category(agency=land, code="DAT-DAI", name="Đất đai")
    db.session.add(Procedure(code="DD-01", title="Đăng ký đất đai", search_text=fold("DD-01 Đăng ký đất đai"),
                             category_id=category.id))
    db.session.commit()
    assert client.post("/api/v1/cases", json=submission(category)).status_code == 201
    return issue_token(make.user("supervisor", agency=desk))


def test_schemathesis_finds_no_server_errors_or_schema_violations(app, seeded, tmp_path):
    try:
        import schemathesis  # noqa: F401
    except ImportError:  # pragma: no cover - requirements.txt installs it
        require_service(False, "schemathesis is not installed")
    assert app.config["RATELIMIT_ENABLED"] is False
    with live_server(app) as base:
        result = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/v1/openapi.json",
             "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--workers", "1", "--seed", "20260302",
             "--phases", "examples,coverage,fuzzing", "--request-timeout", "20", "--no-color",
             "--header", f"Authorization: Bearer {seeded}", "--suppress-health-check", "all",
             "--report", "junit", "--report-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=TIMEOUT_SECONDS, cwd=tmp_path,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "No issues found" in output or "passed" in output.lower(), output[-3000:]
