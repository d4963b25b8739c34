"""Concurrent repeat triggers, sent together in one round trip and one commit (PostgreSQL).

Under an alert storm most deliveries are repeats of alerts already firing, each of them one
statement (`ingest_postgres.REPEAT_SQL`). What costs the ingest process and PostgreSQL their CPU
is the round trip and the commit, not the statement: sending, waking on the reply, flushing the WAL.
So the repeats that arrive while earlier ones are in flight wait for the next free flusher,
which sends them in one pipeline (psycopg's pipeline mode): one network round trip, one
transaction, one WAL flush. A repeat that finds a flusher free is sent at once, so a quiet
system waits for nothing; batches form only when the flushers are busy, which is when they
pay. Each statement is the single-delivery one, so a batch writes what its deliveries one by
one would have written.

The first delivery of a new alert usually has company: its repeats arrive before it commits,
find nothing to repeat, and would each take a connection and queue on the alert's advisory
lock (`PostgresIngest`'s open), crowding out every other delivery. Instead, while one delivery
of an alert is being opened in this process, the others wait for it holding nothing, then
repeat it. Across processes the advisory lock still decides.

A batch commits before any of its callers answers, so a 202 still means stored; if it fails,
every caller in it sees the error (and goes on to the single-delivery path or a 503). Within a
batch the statements run in (integration, fingerprint) order: the same order for every batch,
so two batches never wait for each other's rows in opposite orders.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from oncall.core.alerts import Alert
from oncall.db.aio import AsyncPostgres

Rows = list[tuple[Any, ...]]

FLUSHERS = 4
"""Batches in flight at once per event loop: half the loop's pool, so new alerts, which take
a connection of their own, find one."""
MAX_BATCH = 32
"""Repeats per batch at most: enough to drain a storm, few enough to keep the transaction (and
the row locks it holds) short."""


@dataclass
class _Repeat:
    params: dict[str, Any]
    future: asyncio.Future[Rows]

    def order(self) -> tuple[str, str]:
        return self.params["integration"], self.params["fp"]


@dataclass
class _Queue:
    pending: list[_Repeat] = field(default_factory=list)
    flushing: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    opening: dict[tuple[str, str], asyncio.Future[None]] = field(default_factory=dict)


class RepeatBatcher:
    """`submit` the parameters of one repeat statement (`sql`, with `integration` and `fp`
    among them): the rows it returned. State is per event loop, like the pools of
    `AsyncPostgres`."""

    def __init__(self, postgres: AsyncPostgres, sql: str, flushers: int = FLUSHERS,
                 max_batch: int = MAX_BATCH) -> None:
        self._postgres = postgres
        self._sql = sql
        self._flushers = flushers
        self._max_batch = max_batch
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary())

    def _queue(self) -> tuple[asyncio.AbstractEventLoop, _Queue]:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        return loop, queue

    async def wait_for_opener(self, integration: str, alert: Alert) -> bool:
        """Wait while another delivery of this alert is being opened in this event loop; True
        if there was one (so a repeat is worth trying again)."""
        _, queue = self._queue()
        opener = queue.opening.get((integration, alert.dedup_key))
        if opener is None:
            return False
        await asyncio.shield(opener)
        return True

    @asynccontextmanager
    async def opening(self, integration: str, alert: Alert) -> AsyncIterator[None]:
        """Around opening an alert: its other deliveries in this event loop wait for it."""
        loop, queue = self._queue()
        key = (integration, alert.dedup_key)
        if key in queue.opening:  # another opener after all: the advisory lock orders them
            yield
            return
        opener = queue.opening[key] = loop.create_future()
        try:
            yield
        finally:
            del queue.opening[key]
            opener.set_result(None)

    async def submit(self, params: dict[str, Any]) -> Rows:
        loop, queue = self._queue()
        item = _Repeat(params, loop.create_future())
        queue.pending.append(item)
        if queue.flushing < self._flushers:
            queue.flushing += 1
            task = loop.create_task(self._flush(queue))
            queue.tasks.add(task)  # the loop keeps only a weak reference to its tasks
            task.add_done_callback(queue.tasks.discard)
        return await item.future

    async def _flush(self, queue: _Queue) -> None:
        try:
            while queue.pending:
                batch = sorted(queue.pending[:self._max_batch], key=_Repeat.order)
                del queue.pending[:self._max_batch]
                try:
                    results = await self._send(batch)
                except BaseException as exc:
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for item, result in zip(batch, results, strict=True):
                    if not item.future.done():  # else its request went away; the rows stand
                        item.future.set_result(result)
        finally:
            queue.flushing -= 1

    async def _send(self, batch: list[_Repeat]) -> list[Rows]:
        async with self._postgres.connection() as conn:
            if len(batch) == 1:
                cursor = await conn.execute(self._sql, batch[0].params)
                return [await cursor.fetchall()]
            async with conn.pipeline():
                cursors = [await conn.execute(self._sql, item.params) for item in batch]
            # leaving the pipeline sent its Sync: the batch is committed, the results are in
            return [await cursor.fetchall() for cursor in cursors]
