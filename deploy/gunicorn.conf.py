"""gunicorn settings: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Everything can be changed from the environment (``/etc/feedback/feedback.env``
under systemd): ``FEEDBACK_BIND``, ``FEEDBACK_WEB_WORKERS``,
``FEEDBACK_WEB_THREADS``, ``FEEDBACK_WEB_TIMEOUT``, ``FEEDBACK_FORWARDED_ALLOW_IPS``.

Metrics: ``PROMETHEUS_MULTIPROC_DIR`` is set here, before any worker imports
the app, so ``/metrics`` adds up the request counters of every worker.
The directory is emptied when gunicorn starts and a dead worker's files are
marked dead (``child_exit``).
"""
import multiprocessing
import os
import tempfile

# Only the reverse proxy on this machine talks to gunicorn.
bind = os.environ.get("FEEDBACK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("FEEDBACK_WEB_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
# Two threads a worker (gunicorn's "gthread" worker). Besides overlapping a
# request's database waits with another's Python, this keeps a long streamed
# export alive: a CSV of a million cases streams for over a minute, and a
# sync worker busy that long is killed by ``timeout`` mid-file, handing the
# supervisor a silently cut-off file. With threads the worker's main loop
# keeps reporting in while requests run, so ``timeout`` only replaces a
# worker that has stopped altogether. FEEDBACK_WEB_THREADS=1 gives sync
# workers back (then set FEEDBACK_WEB_TIMEOUT above the longest export).
threads = int(os.environ.get("FEEDBACK_WEB_THREADS") or 2)
worker_class = "gthread" if threads > 1 else "sync"
# A worker that stops reporting in for this long is replaced (with sync
# workers: any request that takes longer).
timeout = int(os.environ.get("FEEDBACK_WEB_TIMEOUT") or 60)
# On restart or reload, requests in flight get this long to finish.
graceful_timeout = 30
keepalive = 5
# Renew workers now and then (memory growth); the jitter keeps them from all restarting at once.
max_requests = 2000
max_requests_jitter = 200
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# X-Forwarded-Proto is believed only from the proxy (same machine by default);
# the app's FEEDBACK_TRUSTED_PROXIES says how many proxies stand in front.
forwarded_allow_ips = os.environ.get("FEEDBACK_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs to stderr: the journal under systemd. The app writes its own JSON line
# per request (logger feedback.request); this access line carries the same id.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("FEEDBACK_LOG_LEVEL", "info")
access_log_format = ('%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s '
                     'agent="%(a)s"')
proc_name = "feedback-web"

# Prometheus multiprocess mode (see the module docstring).
metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(os.environ.get("RUNTIME_DIRECTORY") or tempfile.gettempdir(), "feedback-metrics"),
)


def on_starting(server):
    # Counters of a previous run must not be added to this one.
    if os.path.isdir(metrics_dir):
        for name in os.listdir(metrics_dir):
            if name.endswith(".db"):
                os.remove(os.path.join(metrics_dir, name))
    os.makedirs(metrics_dir, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, metrics_dir)
