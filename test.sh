#!/usr/bin/env bash
# Set up and run the whole test suite.
#
# Always: ruff and mypy (settings in pyproject.toml), then the suite on
# SQLite. When the machine has them: a throw-away PostgreSQL cluster (the
# suite runs again against it), a Redis server and Chromium for the browser
# tests. What is missing is skipped and said so at
# the end; with FEEDBACK_STRICT=1 (CI) a missing service fails its tests.
# A lint or type error fails the run, but the suite still runs so that every
# failure is seen at once.
# Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv || exit 1
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt || exit 1
.venv/bin/pybabel compile -d feedback/translations >/dev/null 2>&1 || exit 1

echo "=== Lint: ruff check and mypy ==="
lint=passed
.venv/bin/ruff check . || lint=failed
.venv/bin/mypy || lint=failed

STATE=$(mktemp -d /tmp/feedback-test.XXXXXX)
chmod 755 "$STATE"
PIDS=()
missing=()
cleanup() {
  [ -n "${PGBIN:-}" ] && [ -d "$STATE/pg" ] && as_pg "$PGBIN/pg_ctl" -D "$STATE/pg" -m immediate stop >/dev/null 2>&1
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  rm -rf "$STATE"
}
trap cleanup EXIT

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# PostgreSQL refuses to run as root: use the postgres account when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Redis
if command -v redis-server >/dev/null; then
  RPORT=$(free_port)
  redis-server --bind 127.0.0.1 --port "$RPORT" --save "" --appendonly no --daemonize no >"$STATE/redis.log" 2>&1 &
  PIDS+=($!)
  export REDIS_TEST_URL="redis://127.0.0.1:$RPORT/0"
  export REDIS_SERVER_BIN=$(command -v redis-server)
else
  missing+=("Redis (redis-server not found): the real-queue and worker tests were skipped")
fi

# Chromium
if [ -x /usr/bin/chromium ]; then
  export FEEDBACK_CHROMIUM=/usr/bin/chromium
else
  missing+=("Chromium (/usr/bin/chromium not found): the browser tests were skipped")
fi

# PostgreSQL
PGBIN=""
for dir in /usr/lib/postgresql/*/bin "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"; do
  if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/createdb" ]; then PGBIN=$dir; break; fi
done
PG_URL=""
if [ -n "$PGBIN" ] && { [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1; }; then
  [ "$(id -u)" = 0 ] && chown postgres "$STATE"
  PGPORT=$(free_port)
  if as_pg "$PGBIN/initdb" -D "$STATE/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 \
     && as_pg "$PGBIN/pg_ctl" -D "$STATE/pg" -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $STATE -c fsync=off -c synchronous_commit=off -c full_page_writes=off" -l "$STATE/pg.log" -w start >/dev/null 2>&1; then
    as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres feedback_test
    PG_URL="postgresql://postgres@127.0.0.1:$PGPORT/feedback_test"
    # Tests that need PostgreSQL itself (migrations) use it in both passes.
    export FEEDBACK_TEST_PG_URL="$PG_URL"
  else
    missing+=("PostgreSQL (could not start a cluster from $PGBIN; see initdb/pg logs): the PostgreSQL run was skipped")
    cat "$STATE/initdb.log" "$STATE/pg.log" 2>/dev/null | tail -5
  fi
else
  missing+=("PostgreSQL (initdb not found): the suite ran on SQLite only")
fi

run_suite() {
  local label=$1; shift
  echo
  echo "=== Test suite on $label ==="
  "$@" .venv/bin/python -m pytest -ra -p no:cacheprovider "${EXTRA[@]}"
  local rc=$?
  if [ $rc -eq 5 ]; then echo "No tests were collected on $label: failing."; rc=1; fi
  return $rc
}

EXTRA=("$@")
[ ${#EXTRA[@]} -eq 0 ] && EXTRA=(tests)
status=0
[ "$lint" = passed ] || status=1
run_suite "SQLite" env -u DATABASE_URL || status=1
if [ -n "$PG_URL" ]; then
  run_suite "PostgreSQL" env DATABASE_URL="$PG_URL" || status=1
elif [ "${FEEDBACK_STRICT:-0}" = 1 ]; then
  echo "strict mode: PostgreSQL is required but could not be started"; status=1
fi

echo
if [ "$lint" = passed ]; then
  echo "Lint passed: ruff check and mypy found nothing."
else
  echo "Lint failed: see the ruff and mypy output before the test suite."
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "Skipped because a service is missing on this machine:"
  for m in "${missing[@]}"; do echo "  - $m"; done
  [ "${FEEDBACK_STRICT:-0}" = 1 ] && { echo "strict mode: missing services are failures"; status=1; }
else
  echo "All services present: SQLite, PostgreSQL, Redis and Chromium were tested."
fi
exit $status
