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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import URL

POOL_SIZE = 8
"""Connections per process and event loop: in-flight ingest statements, not requests."""
CONNECT_TIMEOUT_SECONDS = 5.0
"""How long a request waits for a connection before it is answered 503 (the sender retries)."""


def conninfo(url: URL) -> str:
    """libpq's URI for a SQLAlchemy PostgreSQL URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncPostgres:
    """Pools of autocommit asyncio connections to one database, one pool per event loop."""

    def __init__(self, url: URL, size: int = POOL_SIZE,
                 timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
        self._conninfo = conninfo(url)
        self._size = size
        self._timeout = timeout
        self._pools: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncConnectionPool[psycopg.AsyncConnection]
        ] = weakref.WeakKeyDictionary()

    async def _pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection]:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = AsyncConnectionPool(
                self._conninfo, min_size=self._size, max_size=self._size, timeout=self._timeout,
                kwargs={"autocommit": True}, open=False, name="oncall-ingest",
            )
            self._pools[loop] = pool
            await pool.open(wait=False)
        return pool

    async def open(self) -> None:
        """Open the running loop's pool and wait until its connections are established."""
        pool = await self._pool()
        await pool.wait(timeout=self._timeout)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        pool = await self._pool()
        async with pool.connection() as conn:
            yield conn

    async def close(self) -> None:
        """Close the pool of the running loop (at shutdown)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()
