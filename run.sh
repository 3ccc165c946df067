#!/usr/bin/env bash
# Set up and run the system on its embedded defaults: SQLite, in-process
# jobs, mail to the console and instance/mail, demo data.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/pybabel compile -d feedback/translations >/dev/null 2>&1
export FLASK_APP=wsgi
.venv/bin/flask db upgrade
.venv/bin/flask seed-demo
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
# E-mailed links point at this address, so they follow the port chosen.
export FEEDBACK_BASE_URL=${FEEDBACK_BASE_URL:-http://$HOST:$PORT}
echo
echo "The feedback system is running at http://$HOST:$PORT/  (Ctrl+C to stop)"
exec .venv/bin/flask run --host "$HOST" --port "$PORT"
