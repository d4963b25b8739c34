"""Rate-limit buckets shared between processes, in the database (SQLite, PostgreSQL) and in
Redis: the same answers as the pure GCRA, refusals counted, and no more let through by many
threads at once than the limit allows."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, event

from oncall.core.ratelimit import LEASE_SECONDS, Decision, Limit, take
from oncall.store.ratelimit import DatabaseLimiter, Leasing, Limiter, RedisLimiter

from .table_owner import Owned

REDIS_DB = 12
RATE_LIMITS = Owned("oncall/store/ratelimit.py", {"RateLimitRow"}, {"rate_limits"})


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}",
                                  socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379 and CI=true")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    yield client
    client.flushdb()


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def limiter(request: pytest.FixtureRequest, migrated_engine: Engine) -> Limiter:
    if request.param == "redis":
        request.getfixturevalue("redis_client")  # reachable, and emptied before and after
        return RedisLimiter(f"redis://127.0.0.1:6379/{REDIS_DB}")
    return DatabaseLimiter(migrated_engine)


TIMES = [100.0, 100.0, 100.0, 100.0, 100.2, 100.5, 100.5, 101.0, 105.0, 105.0, 105.0, 105.0]


def test_the_store_answers_as_the_algorithm(limiter: Limiter) -> None:
    limit = Limit(2, 3)
    tat: float | None = None
    expected = []
    for now in TIMES:
        decision = take(limit, tat, now)
        tat = decision.tat
        expected.append((decision.allowed, round(decision.retry_after, 3)))
    got = [limiter.take("integration:grafana-prod", limit, now) for now in TIMES]
    assert [(d.allowed, round(d.retry_after, 3)) for d in got] == expected
    refusals = sum(1 for allowed, _ in expected if not allowed)
    assert refusals > 0
    assert limiter.refused(["integration:grafana-prod", "integration:other"]) == {
        "integration:grafana-prod": refusals}


def test_buckets_are_kept_apart(limiter: Limiter) -> None:
    limit = Limit(1, 1)
    assert limiter.take("api-key:1", limit, 50.0).allowed
    assert not limiter.take("api-key:1", limit, 50.0).allowed
    assert limiter.take("api-key:2", limit, 50.0).allowed


def test_many_threads_at_once_get_exactly_the_burst(limiter: Limiter) -> None:
    limit = Limit(0.001, 10)  # no refill during the test: only the burst gets through
    allowed: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def hammer() -> None:
        barrier.wait()
        for _ in range(5):
            decision = limiter.take("integration:busy", limit, 1000.0)
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (allowed.count(True), allowed.count(False)) == (10, 30)
    assert limiter.refused(["integration:busy"]) == {"integration:busy": 30}


def test_only_the_store_writes_rate_limits() -> None:
    assert RATE_LIMITS.violations() == []


def test_from_an_event_loop_the_store_answers_as_it_does_from_a_thread(limiter: Limiter) -> None:
    """Ingest takes from its event loop (`atake`): the same bucket, the same answers."""
    limit = Limit(2, 3)
    key = "integration:grafana-prod"
    expected = [(d.allowed, round(d.retry_after, 3))
                for d in (limiter.take(key + ":thread", limit, now) for now in TIMES)]

    async def takes() -> list[tuple[bool, float]]:
        return [(d.allowed, round(d.retry_after, 3))
                for d in [await limiter.atake(key, limit, now) for now in TIMES]]

    assert asyncio.run(takes()) == expected
    assert limiter.refused([key]) == {key: sum(1 for allowed, _ in expected if not allowed)}


def test_a_bucket_made_meanwhile_by_another_process_is_taken_from(migrated_engine: Engine
                                                                   ) -> None:
    """A first request finds no bucket, and another process makes it before this one counts a
    refusal: the request is let through (the bucket is nearly full), never refused."""
    limiter = DatabaseLimiter(migrated_engine)
    made: list[str] = []

    def make_it_meanwhile(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not made and statement.lstrip().upper().startswith("UPDATE RATE_LIMITS SET TAT"):
            made.append(statement)
            conn.connection.dbapi_connection.cursor().execute(
                "INSERT INTO rate_limits (key, tat, refused) "
                "VALUES ('integration:storm', 1000.01, 0)")

    event.listen(migrated_engine, "after_cursor_execute", make_it_meanwhile)
    try:
        decision = limiter.take("integration:storm", Limit(100, 1000), 1000.0)
    finally:
        event.remove(migrated_engine, "after_cursor_execute", make_it_meanwhile)
    assert made and decision.allowed
    assert limiter.refused(["integration:storm"]) == {"integration:storm": 0}


class Counting:
    """A store that counts the calls reaching it."""

    def __init__(self, store: Limiter) -> None:
        self.store = store
        self.calls = 0

    def take(self, *args: Any, **kwargs: Any) -> Decision:
        self.calls += 1
        return self.store.take(*args, **kwargs)

    async def atake(self, *args: Any, **kwargs: Any) -> Decision:
        self.calls += 1
        return await self.store.atake(*args, **kwargs)

    def refused(self, keys: Any) -> dict[str, int]:
        return self.store.refused(keys)


def test_a_storm_takes_leases_and_admits_exactly_the_burst(limiter: Limiter) -> None:
    """Two processes leasing from one bucket at one instant: together they admit the burst,
    not a request more, with a store call per lease rather than per delivery; the refused
    deliveries are counted, the leases that did not fit are not."""
    limit = Limit(100, 200)  # leases of 5
    store = Counting(limiter)
    processes = [Leasing(store), Leasing(store)]

    async def storm(deliveries: int) -> list[bool]:
        return [(await processes[n % 2].atake("integration:storm", limit, 500.0)).allowed
                for n in range(deliveries)]

    assert asyncio.run(storm(200)) == [True] * 200
    assert store.calls == 200 / 5
    assert asyncio.run(storm(100)) == [False] * 100
    assert store.calls == 200 / 5 + 2 + 100  # a lease tried once per process, then singles
    assert limiter.refused(["integration:storm"]) == {"integration:storm": 100}


def test_a_lease_left_unspent_ends(limiter: Limiter) -> None:
    """Tokens leased are spent by this process for LEASE_SECONDS at most: then the bucket
    is asked again, so a process that went quiet does not keep a stale allowance."""
    limit = Limit(100, 50)  # leases of 5
    store = Counting(limiter)
    leasing = Leasing(store)

    async def run(times: list[float]) -> list[bool]:
        return [(await leasing.atake("integration:slow", limit, now)).allowed for now in times]

    assert asyncio.run(run([100.0, 100.01, 100.0 + LEASE_SECONDS - 0.001])) == [True] * 3
    assert store.calls == 1
    assert asyncio.run(run([100.0 + LEASE_SECONDS])) == [True]
    assert store.calls == 2
