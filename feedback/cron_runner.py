"""The cron process that survives a Redis outage:
``python -m feedback.cron_runner --url "$REDIS_URL"`` (``deploy/systemd/feedback-cron.service``).

It runs RQ's cron scheduler on the schedule in ``feedback.cron`` exactly as
``rq cron --url "$REDIS_URL" feedback.cron`` does, except that a lost Redis
connection does not end the process: it waits (1, 2, 4 … 30 s) until Redis
answers and carries on with the same schedule. A stock ``rq cron`` dies on
the first connection error and enqueues nothing until restarted.
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from contextlib import suppress

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.cron import CronScheduler
from rq.exceptions import SchedulerNotFound, StopRequested

log = logging.getLogger("feedback.cron_runner")

RECONNECT_FIRST_WAIT = 1.0
RECONNECT_MAX_WAIT = 30.0


class ResilientCronScheduler(CronScheduler):
    """RQ's ``CronScheduler`` whose loop resumes after a Redis connection error."""

    def start(self) -> None:
        self.log.info("CronScheduler %s: starting...", self.name)
        self._install_signal_handlers()
        wait = RECONNECT_FIRST_WAIT
        try:
            while True:
                try:
                    self.register_birth()
                    while True:
                        if self.enqueue_jobs():
                            self.save()
                        self.heartbeat()
                        wait = RECONNECT_FIRST_WAIT
                        sleep_time = self.calculate_sleep_interval()
                        if sleep_time > 0:
                            time.sleep(sleep_time)
                except (RedisConnectionError, RedisTimeoutError) as exc:
                    log.warning("cron: Redis unreachable (%s); trying again in %.0f s", exc, wait)
                    time.sleep(wait)
                    wait = min(wait * 2, RECONNECT_MAX_WAIT)
        except KeyboardInterrupt:
            self.log.info("CronScheduler %s: received KeyboardInterrupt", self.name)
        except StopRequested:
            self.log.info("CronScheduler %s: stop requested", self.name)
        finally:
            with suppress(RedisError, SchedulerNotFound):  # Redis gone, or restarted empty
                self.register_death()
            self.log.info("CronScheduler %s: shutdown complete", self.name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m feedback.cron_runner", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("REDIS_URL", ""), help="Redis URL (default: $REDIS_URL)")
    parser.add_argument("config", nargs="?", default="feedback.cron", help="the schedule module")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("no Redis URL: pass --url or set REDIS_URL")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    connection = Redis.from_url(args.url, socket_connect_timeout=5, socket_timeout=30)
    scheduler = ResilientCronScheduler(connection=connection)
    scheduler.load_config_from_file(args.config)
    scheduler.start()


if __name__ == "__main__":
    main()
