"""Rate-limit buckets shared by every process: in Redis when one is configured, else in the
database (`rate_limits`, written only here).

Each bucket is one number (`core.ratelimit`, GCRA) moved atomically: a Lua script in Redis, one
conditional UPDATE in the database, written once for both (no GREATEST/MAX: a CASE). A refusal
is counted beside the bucket, so `/metrics` and the services page show refusals from every
process. Redis keys expire once their bucket is full again, so idle keys cost nothing.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable
from typing import Any, Protocol, cast

import anyio.to_thread
from sqlalchemy import Connection, Engine, Table, case, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from oncall.core.ratelimit import Decision, Limit, take
from oncall.db.engine import write_connection
from oncall.db.models import RateLimitRow, fit

_T = cast(Table, RateLimitRow.__table__)
REDIS_PREFIX = "oncall:ratelimit:"
REFUSED_SUFFIX = ":refused"


class Limiter(Protocol):
    def take(self, key: str, limit: Limit, now: float, conn: Connection | None = None
             ) -> Decision:
        """One request against `key`'s bucket at `now` (seconds since the epoch); in the
        database, in `conn`'s transaction when one is given."""

    async def atake(self, key: str, limit: Limit, now: float) -> Decision:
        """`take` from an event loop (ingest): on the loop itself where the store has an
        asyncio client, else in a worker thread."""

    def refused(self, keys: Iterable[str]) -> dict[str, int]:
        """How many requests each of `keys` has refused, since the bucket was first used."""


def _start(now: Any) -> Any:
    return case((_T.c.tat > now, _T.c.tat), else_=now)


def _refusal(limit: Limit, tat: float, now: float) -> Decision:
    """A refusal the store decided, with when to retry (at least a millisecond)."""
    return Decision(False, tat, max(take(limit, tat, now).retry_after, 0.001))


class DatabaseLimiter:
    """Buckets as rows: one UPDATE that moves the TAT only if the request fits, else one that
    counts the refusal; a first request inserts the row."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def atake(self, key: str, limit: Limit, now: float) -> Decision:
        return await anyio.to_thread.run_sync(self.take, key, limit, now)

    def take(self, key: str, limit: Limit, now: float, conn: Connection | None = None
             ) -> Decision:
        key = fit(_T.c.key, key)
        if conn is not None:
            return self._take(conn, key, limit, now, nested=True)
        for _ in range(3):
            try:
                with write_connection(self.engine) as own:
                    return self._take(own, key, limit, now, nested=False)
            except IntegrityError:  # another process made the bucket meanwhile: take from it
                continue
        raise RuntimeError(f"rate limit bucket {key!r} could not be made")

    def _take(self, conn: Connection, key: str, limit: Limit, now: float, nested: bool
              ) -> Decision:
        now_p, interval_p = literal(now), literal(limit.interval)
        fits = _start(now_p) + interval_p - now_p <= literal(limit.window + 1e-9)
        tat = conn.scalar(
            update(_T).where(_T.c.key == key, fits).values(tat=_start(now_p) + interval_p)
            .returning(_T.c.tat))
        if tat is not None:
            return Decision(True, float(tat), 0.0)
        # Refused only if it still does not fit: a bucket another process has just made (not
        # there for the first statement, there for this one) is taken from, not counted as full.
        current = conn.scalar(
            update(_T).where(_T.c.key == key, ~fits).values(refused=_T.c.refused + 1)
            .returning(_T.c.tat))
        if current is not None:
            return _refusal(limit, float(current), now)
        first = take(limit, None, now)  # never used: the first request makes the bucket
        if not nested:
            conn.execute(insert(_T).values(key=key, tat=first.tat, refused=0))
            return first
        try:
            with conn.begin_nested():
                conn.execute(insert(_T).values(key=key, tat=first.tat, refused=0))
        except IntegrityError:
            return self._take(conn, key, limit, now, nested=True)
        return first

    def refused(self, keys: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
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
redis.call('INCR', KEYS[2])
return {0, string.format('%.6f', tat)}
"""


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

    def take(self, key: str, limit: Limit, now: float, conn: Connection | None = None
             ) -> Decision:
        bucket = REDIS_PREFIX + key
        allowed, tat = self.script(keys=[bucket, bucket + REFUSED_SUFFIX],
                                   args=[repr(now), repr(limit.interval), repr(limit.window)])
        return _decided(limit, int(allowed), float(tat), now)

    async def atake(self, key: str, limit: Limit, now: float) -> Decision:
        loop = asyncio.get_running_loop()
        script = self._loops.get(loop)
        if script is None:  # a client per loop: an asyncio connection belongs to its loop
            import redis.asyncio

            script = self._loops[loop] = redis.asyncio.Redis.from_url(self.url) \
                .register_script(_SCRIPT)
        bucket = REDIS_PREFIX + key
        allowed, tat = await script(keys=[bucket, bucket + REFUSED_SUFFIX],
                                    args=[repr(now), repr(limit.interval), repr(limit.window)])
        return _decided(limit, int(allowed), float(tat), now)

    def refused(self, keys: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        counts = cast(list[Any], self.client.mget(
            [REDIS_PREFIX + k + REFUSED_SUFFIX for k in wanted]))
        return {k: int(n) for k, n in zip(wanted, counts, strict=True) if n is not None}


def _decided(limit: Limit, allowed: int, tat: float, now: float) -> Decision:
    """The script's answer as a decision."""
    if allowed:
        return Decision(True, tat, 0.0)
    return _refusal(limit, tat, now)


def limiter_for(engine: Engine, redis_url: str | None) -> Limiter:
    """Redis when the process has one configured, else the database."""
    if redis_url:
        return RedisLimiter(redis_url)
    return DatabaseLimiter(engine)
