"""Rate-limit buckets shared by every process: in Redis when one is configured, else in the
database (`rate_limits`, written only here).

Each bucket is one number (`core.ratelimit`, GCRA) moved atomically: a Lua script in Redis, one
conditional UPDATE in the database, written once for both (no GREATEST/MAX: a CASE). A refusal
is counted beside the bucket, so `/metrics` and the services page show refusals from every
process. Redis keys expire once their bucket is full again, so idle keys cost nothing.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterable
from typing import Any, Protocol, cast

import anyio.to_thread
from sqlalchemy import Connection, Engine, Table, case, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from oncall.core.ratelimit import LEASE_SECONDS, Decision, Lease, Limit, lease_size, take
from oncall.db.engine import read_connection, write_connection
from oncall.db.models import RateLimitRow, fit

_T = cast(Table, RateLimitRow.__table__)
REDIS_PREFIX = "oncall:ratelimit:"
REFUSED_SUFFIX = ":refused"


class Limiter(Protocol):
    def take(self, key: str, limit: Limit, now: float, conn: Connection | None = None,
             cost: int = 1) -> Decision:
        """`cost` requests (all or none) against `key`'s bucket at `now` (seconds since the
        epoch); in the database, in `conn`'s transaction when one is given. A refusal is
        counted only for a single request: a refused lease (`Leasing`) is no refused call."""

    async def atake(self, key: str, limit: Limit, now: float, cost: int = 1) -> Decision:
        """`take` from an event loop (ingest): on the loop itself where the store has an
        asyncio client, else in a worker thread."""

    def refused(self, keys: Iterable[str]) -> dict[str, int]:
        """How many requests each of `keys` has refused, since the bucket was first used."""


def _start(now: Any) -> Any:
    return case((_T.c.tat > now, _T.c.tat), else_=now)


def _refusal(limit: Limit, tat: float, now: float, cost: int = 1) -> Decision:
    """A refusal the store decided, with when to retry (at least a millisecond)."""
    return Decision(False, tat, max(take(limit, tat, now, cost).retry_after, 0.001))


class DatabaseLimiter:
    """Buckets as rows: one UPDATE that moves the TAT only if the request fits, else one that
    counts the refusal; a first request inserts the row."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def atake(self, key: str, limit: Limit, now: float, cost: int = 1) -> Decision:
        return await anyio.to_thread.run_sync(self.take, key, limit, now, None, cost)

    def take(self, key: str, limit: Limit, now: float, conn: Connection | None = None,
             cost: int = 1) -> Decision:
        key = fit(_T.c.key, key)
        if conn is not None:
            return self._take(conn, key, limit, now, cost, nested=True)
        for _ in range(3):
            try:
                with write_connection(self.engine) as own:
                    return self._take(own, key, limit, now, cost, nested=False)
            except IntegrityError:  # another process made the bucket meanwhile: take from it
                continue
        raise RuntimeError(f"rate limit bucket {key!r} could not be made")

    def _take(self, conn: Connection, key: str, limit: Limit, now: float, cost: int,
              nested: bool) -> Decision:
        now_p, interval_p = literal(now), literal(cost * limit.interval)
        fits = _start(now_p) + interval_p - now_p <= literal(limit.window + 1e-9)
        tat = conn.scalar(
            update(_T).where(_T.c.key == key, fits).values(tat=_start(now_p) + interval_p)
            .returning(_T.c.tat))
        if tat is not None:
            return Decision(True, float(tat), 0.0)
        # Refused only if it still does not fit: a bucket another process has just made (not
        # there for the first statement, there for this one) is taken from, not counted as full.
        current = conn.scalar(
            update(_T).where(_T.c.key == key, ~fits)
            .values(refused=_T.c.refused + (1 if cost == 1 else 0))
            .returning(_T.c.tat))
        if current is not None:
            return _refusal(limit, float(current), now, cost)
        first = take(limit, None, now, cost)  # never used: the first request makes the bucket
        if not first.allowed:
            return first  # a lease larger than the whole burst: nothing to make it from
        if not nested:
            conn.execute(insert(_T).values(key=key, tat=first.tat, refused=0))
            return first
        try:
            with conn.begin_nested():
                conn.execute(insert(_T).values(key=key, tat=first.tat, refused=0))
        except IntegrityError:
            return self._take(conn, key, limit, now, cost, nested=True)
        return first

    def refused(self, keys: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        with read_connection(self.engine) as conn:
            rows = conn.execute(select(_T.c.key, _T.c.refused).where(_T.c.key.in_(wanted)))
            return {k: int(n) for k, n in rows}


_SCRIPT = """
local tat = tonumber(redis.call('GET', KEYS[1]))
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
if tat == nil or tat < now then tat = now end
local new = tat + interval
if new - now <= window + 1e-9 then
  redis.call('SET', KEYS[1], string.format('%.6f', new), 'PX',
             math.ceil((new - now) * 1000) + 1000)
  return {1, string.format('%.6f', new)}
end
if ARGV[4] == '1' then redis.call('INCR', KEYS[2]) end
return {0, string.format('%.6f', tat)}
"""


def _script_args(limit: Limit, now: float, cost: int) -> list[str]:
    return [repr(now), repr(cost * limit.interval), repr(limit.window), "1" if cost == 1 else "0"]


class RedisLimiter:
    """Buckets as Redis strings moved by one script (atomic on the server). Ingest takes from
    its event loop through an asyncio client of that loop: a thread hop per delivery cost more
    than the round trip itself."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(_SCRIPT)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary())

    def take(self, key: str, limit: Limit, now: float, conn: Connection | None = None,
             cost: int = 1) -> Decision:
        bucket = REDIS_PREFIX + key
        allowed, tat = self.script(keys=[bucket, bucket + REFUSED_SUFFIX],
                                   args=_script_args(limit, now, cost))
        return _decided(limit, int(allowed), float(tat), now, cost)

    async def atake(self, key: str, limit: Limit, now: float, cost: int = 1) -> Decision:
        loop = asyncio.get_running_loop()
        script = self._loops.get(loop)
        if script is None:  # a client per loop: an asyncio connection belongs to its loop
            import redis.asyncio

            script = self._loops[loop] = redis.asyncio.Redis.from_url(self.url) \
                .register_script(_SCRIPT)
        bucket = REDIS_PREFIX + key
        allowed, tat = await script(keys=[bucket, bucket + REFUSED_SUFFIX],
                                    args=_script_args(limit, now, cost))
        return _decided(limit, int(allowed), float(tat), now, cost)

    def refused(self, keys: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        counts = cast(list[Any], self.client.mget(
            [REDIS_PREFIX + k + REFUSED_SUFFIX for k in wanted]))
        return {k: int(n) for k, n in zip(wanted, counts, strict=True) if n is not None}


def _decided(limit: Limit, allowed: int, tat: float, now: float, cost: int) -> Decision:
    """The script's answer as a decision."""
    if allowed:
        return Decision(True, tat, 0.0)
    return _refusal(limit, tat, now, cost)


class Leasing:
    """A store's buckets, taken from a few tokens at a time on the ingest path (`atake`):
    under a storm one round trip to Redis or the database admits a lease's worth of
    deliveries (`core.ratelimit.lease_size`), not one. The process spends a lease for at most
    `LEASE_SECONDS`; a lease the bucket cannot give falls back to a single request, so a
    nearly empty bucket still admits and refuses exactly as without leases. Calls of the API
    and the web app (`take`) go to the store one by one."""

    def __init__(self, store: Limiter, seconds: float = LEASE_SECONDS) -> None:
        self.store = store
        self.seconds = seconds
        self._leases: dict[str, Lease] = {}
        self._short: dict[str, float] = {}
        """Buckets found too low for a lease, until when: single requests only meanwhile."""
        self._lock = threading.Lock()

    def take(self, key: str, limit: Limit, now: float, conn: Connection | None = None,
             cost: int = 1) -> Decision:
        return self.store.take(key, limit, now, conn, cost)

    async def atake(self, key: str, limit: Limit, now: float, cost: int = 1) -> Decision:
        with self._lock:
            lease = self._leases.get(key)
            if cost == 1 and lease is not None and lease.spend(now):
                return Decision(True, lease.until, 0.0)
            short = self._short.get(key, 0.0) > now
        size = lease_size(limit) if cost == 1 and not short else 1
        if size > 1:
            leased = await self.store.atake(key, limit, now, size)
            with self._lock:
                if leased.allowed:
                    self._leases[key] = Lease(size - 1, now + self.seconds)
                    return leased
                self._short[key] = now + self.seconds
        return await self.store.atake(key, limit, now, cost)

    def refused(self, keys: Iterable[str]) -> dict[str, int]:
        return self.store.refused(keys)


def limiter_for(engine: Engine, redis_url: str | None) -> Limiter:
    """Redis when the process has one configured, else the database."""
    if redis_url:
        return Leasing(RedisLimiter(redis_url))
    return Leasing(DatabaseLimiter(engine))
