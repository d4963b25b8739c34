"""The one process context: built once from `Settings`, handed to the API, worker and web app.

It holds what every face of the process shares: the settings, the engine, the stores of its
database, the clock, the applied-config cache and the queue that wakes a worker. Tests build
one with their own engine, clock or queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.db.applied import ConfigCache
from oncall.db.engine import engine_options, make_engine, read_session
from oncall.settings import Settings
from oncall.store import Stores, stores_for
from oncall.store.ratelimit import Limiter, limiter_for

if TYPE_CHECKING:
    from oncall.worker.queue import Tasks

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Waker(Protocol):
    """What wakes a worker: the Huey queue's `Tasks`, or a fake in tests."""

    def kick_soon(self) -> None: ...


@dataclass
class Context:
    """What a process is wired with; one per process (or per test)."""

    settings: Settings
    engine: Engine
    clock: Clock = utc_now
    configs: ConfigCache = field(default_factory=ConfigCache)
    queue: Waker | None = None
    """None: the Huey queue named by the settings, reached on the first wake."""
    limiter: Limiter | None = None
    """None: rate-limit buckets in the settings' Redis, else in the database (on first use)."""
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def build(cls, settings: Settings, engine: Engine | None = None, **fields: object) -> Context:
        """The context of a serving process; its own pooled engine unless one is given."""
        if engine is None:
            engine = make_engine(settings.database_url, **engine_options(settings.database_url))
        return cls(settings=settings, engine=engine, **fields)  # type: ignore[arg-type]

    @property
    def stores(self) -> Stores:
        return stores_for(self.engine)

    def now(self) -> datetime:
        return self.clock()

    def limits(self) -> Limiter:
        """The rate-limit buckets every process of the installation shares."""
        with self._guard:
            if self.limiter is None:
                self.limiter = limiter_for(self.engine, self.settings.redis_url)
            return self.limiter

    def config(self, session: Session | None = None) -> ConfigSet:
        """The applied config in force (rechecked at most every second)."""
        if session is not None:
            return self.configs.get(session)
        fresh = self.configs.fresh()
        if fresh is not None:
            return fresh
        with read_session(self.engine) as own:
            return self.configs.get(own)

    def tasks(self) -> Tasks:
        """The Huey tasks of this process's queue (the worker consumes and enqueues with them)."""
        from oncall.worker.queue import tasks_for

        return tasks_for(self.settings)

    def waker(self) -> Waker:
        with self._guard:
            if self.queue is None:
                self.queue = self.tasks()
            return self.queue

    def wake(self) -> None:
        """After a committed state change: ask a worker to act now, never blocking the caller.
        Every change (ingest, acknowledge, resolve, a reply, from any face) wakes the worker
        this one way; if the queue is down the workers' sweepers find the rows anyway."""
        try:
            self.waker().kick_soon()
        except Exception as exc:  # noqa: BLE001 - the committed rows are the promise
            log.warning("could not reach the worker queue: %s", exc)
