"""The Huey queue: the fast path from a committed row to a worker acting on it.

`ONCALL_REDIS_URL` set: RedisHuey, for any number of workers on any number of machines.
Unset: SqliteHuey in a file next to the SQLite database, the embedded default. Tasks carry only
row ids; the rows say what to do, so a lost or repeated task is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey

from oncall.db.engine import sqlite_file
from oncall.settings import Settings
from oncall.worker import handlers

log = logging.getLogger("oncall.worker")

QUEUE_NAME = "oncall"


def queue_path(settings: Settings) -> str:
    """The SQLite queue file: beside the SQLite database, or in the working directory."""
    database = sqlite_file(settings.database_url)
    if database is not None:
        return str(database.with_name(database.stem + "-queue.db"))
    return "oncall-queue.db"


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(QUEUE_NAME, url=settings.redis_url, utc=True)
    return SqliteHuey(QUEUE_NAME, filename=queue_path(settings), utc=True, timeout=30)


KICK_INTERVAL = 0.05
"""At most one sweep request per process every 50 ms; a request inside that gap is deferred
to its end, never dropped, so a burst of alerts costs a handful of queue entries."""


@dataclass
class Tasks:
    """The task wrappers of one Huey instance; enqueueing only needs ids."""

    huey: Huey
    escalate: Any
    dispatch: Any
    sweep: Any
    _kick_lock: threading.Lock = field(default_factory=threading.Lock)
    _last_kick: float = 0.0
    _kick_pending: bool = False

    def kick_soon(self) -> None:
        """Ask a worker to sweep now (after ingest opened incidents), debounced.

        Never blocks the caller: the enqueue happens on a short-lived thread, so a slow or
        unreachable queue cannot hold up an HTTP answer."""
        with self._kick_lock:
            now = time.monotonic()
            wait = self._last_kick + KICK_INTERVAL - now
            if wait <= 0:
                self._last_kick = now
            elif self._kick_pending:
                return
            else:
                self._kick_pending = True
        if wait <= 0:
            threading.Thread(target=self.kick, daemon=True).start()
            return
        timer = threading.Timer(wait, self._deferred_kick)
        timer.daemon = True
        timer.start()

    def _deferred_kick(self) -> None:
        with self._kick_lock:
            self._kick_pending = False
            self._last_kick = time.monotonic()
        self.kick()

    def timer_due(self, timer_id: int, due: datetime) -> None:
        self._enqueue(self.escalate, timer_id, due)

    def notification_due(self, notification_id: int, due: datetime) -> None:
        self._enqueue(self.dispatch, notification_id, due)

    def kick(self) -> None:
        """Ask a worker to look for due rows now (after ingest created an incident)."""
        try:
            self.sweep()
        except Exception as exc:  # noqa: BLE001 - the sweeper picks the rows up anyway
            log.warning("could not enqueue a sweep: %s", exc)

    def _enqueue(self, task: Any, row_id: int, due: datetime) -> None:
        try:
            task.schedule((row_id,), eta=due)
        except Exception as exc:  # noqa: BLE001 - the row is the promise; the sweeper acts on it
            log.warning("could not enqueue %s(%s): %s", task.name, row_id, exc)


_lock = threading.Lock()
_tasks: dict[tuple[str, str | None], Tasks] = {}


def tasks_for(settings: Settings) -> Tasks:
    """The (cached) Tasks for these settings; the same names in every process."""
    key = (settings.database_url, settings.redis_url)
    with _lock:
        if key not in _tasks:
            _tasks[key] = _register(make_huey(settings))
        return _tasks[key]


def _register(huey: Huey) -> Tasks:
    escalate = huey.task(name="oncall.escalate")(handlers.escalate)
    dispatch = huey.task(name="oncall.dispatch")(handlers.dispatch)
    sweep = huey.task(name="oncall.sweep")(handlers.sweep)
    return Tasks(huey, escalate, dispatch, sweep)
