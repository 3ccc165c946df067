"""The scan lock is a lease on a real Redis: renewed while the scan runs,
released when it ends, and its loss is logged without stopping the scan.

Needs REDIS_TEST_URL (a Redis to use); test.sh provides it.
"""
from __future__ import annotations

import logging
import time
from uuid import uuid4

import pytest
from redis import Redis

from feedback.jobs import exclusive

from .test_rq_real import rq_setup, shared_redis  # noqa: F401  (fixtures)

pytestmark = pytest.mark.redis

LEASE = 1  # second: the block below outlives it several times


@pytest.fixture
def lease_on_redis(app, monkeypatch, rq_setup, shared_redis):  # noqa: F811
    """A one-second lease on the shared Redis, under a name of this test's own."""
    rq_setup(shared_redis)
    monkeypatch.setitem(app.config, "SCAN_LOCK_SECONDS", LEASE)
    name = f"lease-test-{uuid4().hex[:10]}"
    connection = Redis.from_url(shared_redis)
    yield name, connection
    connection.delete(f"feedback:lock:{name}")
    connection.close()


def test_a_block_longer_than_the_lease_keeps_it_and_releases_it_at_the_end(lease_on_redis):
    name, connection = lease_on_redis
    refused, ttls = [], []
    with exclusive(name) as mine:
        assert mine
        deadline = time.monotonic() + 3.5 * LEASE
        while time.monotonic() < deadline:
            with exclusive(name) as second:
                refused.append(not second)
            ttls.append(connection.pttl(f"feedback:lock:{name}"))
            time.sleep(0.2)
    assert len(refused) >= 15 and all(refused)
    assert all(0 < ttl <= LEASE * 1000 for ttl in ttls), ttls
    assert not connection.exists(f"feedback:lock:{name}")   # released, not left to expire
    with exclusive(name) as next_one:
        assert next_one


def test_a_lost_lease_is_logged_and_the_work_goes_on(lease_on_redis, caplog):
    name, connection = lease_on_redis
    finished = False
    with caplog.at_level(logging.WARNING, logger="feedback.jobs.queue"), exclusive(name) as mine:
        assert mine
        connection.delete(f"feedback:lock:{name}")          # as if it had expired during a stall
        time.sleep(LEASE)                                    # at least one renewal falls due
        finished = True
    assert finished
    assert any("lost the lock" in record.getMessage() for record in caplog.records), caplog.text
