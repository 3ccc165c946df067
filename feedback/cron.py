"""RQ cron configuration: ``rq cron --url "$REDIS_URL" feedback.cron``.

Run exactly one such process (the jobs it enqueues are safe to run twice,
but there is no point). Workers (``rq worker``) pick the jobs up.

RQ 2.x evaluates cron strings in UTC (RQ 3.0 switches to the server's local
time; requirements.txt pins 2.x on purpose), so the times below are UTC:
Hải Phòng is UTC+7 all year. tests/test_reminders.py checks this.
"""
from rq import cron

from config import Config
from feedback.jobs import digest_job, scan_job, sweep_job

QUEUE = Config.RQ_QUEUE

# Every minute: dispatch due retries, re-enqueue what Redis lost.
SWEEP_INTERVAL_SECONDS = 60
# Every five minutes: reminders (in office hours) and automatic closing.
SCAN_CRON = "*/5 * * * *"
# 07:30, 08:30, 09:30 and 10:30 in Hải Phòng, Monday to Saturday (a Saturday
# may be a worked swap day; the job checks the working calendar). The digest
# goes out once a day: the later runs only catch up if the first was missed.
DIGEST_CRON = "30 0-3 * * 1-6"

cron.register(sweep_job, QUEUE, interval=SWEEP_INTERVAL_SECONDS, job_timeout=600, result_ttl=600)
cron.register(scan_job, QUEUE, cron=SCAN_CRON, job_timeout=1800, result_ttl=3600)
cron.register(digest_job, QUEUE, cron=DIGEST_CRON, job_timeout=600, result_ttl=86400)
