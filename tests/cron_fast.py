"""A test schedule for ``feedback.cron_runner``: the sweep every two seconds."""
from rq import cron

from config import Config
from feedback.jobs import sweep_job

cron.register(sweep_job, Config.RQ_QUEUE, interval=2, job_timeout=60, result_ttl=60)
