"""Asyncio connections to PostgreSQL, for the ingest endpoint's hot path.

A request handled on the event loop, with no hop to a worker thread, costs a fraction of the
CPU: on a 2-core machine the hop (and the GIL hand-over it causes) was a fifth of ingest's CPU.
Everything else keeps using the SQLAlchemy engine in threads.

Connections are in autocommit: a single statement commits by itself, and a multi-statement
unit of work opens `conn.transaction()` explicitly. A pool belongs to one event loop, so one is
made per loop (a test client and a server each run their own).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import URL
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql.elements import ClauseElement

POOL_SIZE = 8
"""Connections per process and event loop: in-flight ingest statements, not requests."""
CONNECT_TIMEOUT_SECONDS = 5.0
"""How long a request waits for a connection before it is answered 503 (the sender retries)."""


def conninfo(url: URL) -> str:
    """libpq's URI for a SQLAlchemy PostgreSQL URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncPostgres:
    """Autocommit asyncio connections to one database.

    A server opens a pool in its event loop at start-up (`open`, from the API's lifespan);
    requests on that loop borrow from it. A loop without a pool (a test client's per-request
    loop, a server run without its lifespan) gets one connection per request, closed after it,
    at most `size` at once: a pool tied to a short-lived loop would outlive it and hold its
    connections, and unbounded connections would exhaust the server's `max_connections`
    under a storm of alerts.
    """

    def __init__(self, url: URL, size: int = POOL_SIZE,
                 timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
        self._conninfo = conninfo(url)
        self._size = size
        self._timeout = timeout
        self._weeding: asyncio.Task[None] | None = None
        self._pools: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncConnectionPool[psycopg.AsyncConnection]
        ] = weakref.WeakKeyDictionary()
        self._unpooled: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    async def open(self) -> None:
        """Open the running loop's pool and wait for its connections. If the database is
        down, this raises after the timeout and the pool keeps reconnecting by itself."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = AsyncConnectionPool(
                self._conninfo, min_size=self._size, max_size=self._size,
                timeout=self._timeout, kwargs={"autocommit": True}, open=False,
                name="oncall-ingest",
            )
            self._pools[loop] = pool
            await pool.open(wait=False)
        await pool.wait(timeout=self._timeout)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is not None:
            borrowed: psycopg.AsyncConnection | None = None
            try:
                async with pool.connection() as borrowed:
                    yield borrowed
            except psycopg.OperationalError:
                if borrowed is not None and borrowed.broken:
                    self._weed(pool)
                raise
            return
        limit = self._unpooled.get(loop)
        if limit is None:
            limit = self._unpooled[loop] = asyncio.Semaphore(self._size)
        try:
            await asyncio.wait_for(limit.acquire(), self._timeout)
        except TimeoutError:
            raise PoolTimeout(f"no connection free within {self._timeout} s") from None
        try:
            conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True,
                                                         connect_timeout=int(self._timeout))
            async with conn:
                yield conn
        finally:
            limit.release()

    def _weed(self, pool: AsyncConnectionPool) -> None:
        """A connection broke (the server restarted, say): its idle siblings are most likely
        dead too. Check them all in the background, once at a time, so each does not fail a
        request of its own before the pool replaces it."""
        if self._weeding is not None and not self._weeding.done():
            return
        self._weeding = asyncio.get_running_loop().create_task(pool.check())

    async def close(self) -> None:
        """Close the running loop's pool (at shutdown)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()


class Compiled:
    """A SQLAlchemy Core statement compiled once for psycopg, so the module that owns a
    table's writes defines each statement once and it runs on a session and on these
    connections alike. Values are passed as the database takes them: JSON as text (it is cast
    by the statement), times as aware datetimes; no `IN` (write `= ANY` or `OR`)."""

    def __init__(self, statement: ClauseElement) -> None:
        done = statement.compile(dialect=_DIALECT)
        self.sql: str = str(done)
        if "POSTCOMPILE" in self.sql:
            raise ValueError("an IN is compiled per call: write the statement without one")
        self.defaults: dict[str, Any] = dict(done.params)

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.defaults, **values}

    async def execute(self, conn: psycopg.AsyncConnection, values: Mapping[str, Any]
                      ) -> psycopg.AsyncCursor[Any]:
        return await conn.execute(self.sql, self.params(values))

    async def execute_many(self, conn: psycopg.AsyncConnection,
                           rows: Sequence[Mapping[str, Any]]) -> None:
        async with conn.cursor() as cursor:
            await cursor.executemany(self.sql, [self.params(row) for row in rows])


_DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]
