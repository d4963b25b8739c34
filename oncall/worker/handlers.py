"""What the Huey tasks do, in the worker process: act on a row, then enqueue what follows."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

from oncall.worker.runtime import Runtime

if TYPE_CHECKING:
    from oncall.worker.queue import Tasks

log = logging.getLogger("oncall.worker")

_runtime: Runtime | None = None
_sweep_threads = 4
_lock = threading.Lock()


def install(runtime: Runtime, sweep_threads: int | None = None) -> None:
    """Set this process's runtime, and the threads its sweeps use (the worker command does it
    at start-up with its `--threads`)."""
    global _runtime, _sweep_threads
    with _lock:
        _runtime = runtime
        if sweep_threads is not None:
            _sweep_threads = sweep_threads


def runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            import os

            _runtime = Runtime.from_env(os.environ)
        return _runtime


def _tasks() -> Tasks:
    from oncall.worker.queue import tasks_for

    return tasks_for(runtime().settings)


_inflight: set[tuple[str, int]] = set()


@contextmanager
def _exclusive(kind: str, row_id: int) -> Iterator[bool]:
    """Whether this thread may act on the row: not if another thread of this process already
    does. The database claims keep processes apart; this keeps a backlog from being queued
    once per sweep and per task, which under load cost more than the work itself."""
    key = (kind, row_id)
    with _lock:
        mine = key not in _inflight
        _inflight.add(key)
    try:
        yield mine
    finally:
        if mine:
            with _lock:
                _inflight.discard(key)


def _not_in_flight(kind: str, ids: list[int]) -> list[int]:
    with _lock:
        return [row_id for row_id in ids if (kind, row_id) not in _inflight]


def escalate(timer_id: int) -> None:
    """Run the step; the pages due now are sent from this thread at once (the first page should
    not wait for a queue round trip), later ones are queued for their time."""
    with _exclusive("timer", timer_id) as mine:
        if mine:
            _escalate(timer_id)


def _escalate(timer_id: int) -> None:
    rt = runtime()
    result = rt.run_timer(timer_id)
    if not result.ran:
        return
    tasks = _tasks()
    if result.next_timer is not None:
        tasks.timer_due(*result.next_timer)
    now = rt.clock()
    for notification_id, due in result.notifications:
        if due > now:
            tasks.notification_due(notification_id, due)
    for notification_id, due in result.notifications:
        if due <= now:
            dispatch(notification_id)


def dispatch(notification_id: int) -> None:
    with _exclusive("notification", notification_id) as mine:
        if mine:
            _dispatch(notification_id)


def _dispatch(notification_id: int) -> None:
    outcome = runtime().dispatch(notification_id)
    tasks = _tasks()
    if outcome.retry_at is not None:
        tasks.notification_due(notification_id, outcome.retry_at)
    for other in outcome.pulled_forward:
        tasks.notification_due(other, runtime().clock())


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per size for the process's lifetime: a sweep twice a second should not start
    and stop threads each time."""
    with _lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(max_workers=threads,
                                                        thread_name_prefix="sweep")
        return pool


def sweep(threads: int | None = None) -> int:
    """Run every overdue timer and send every due notification; returns how many rows ran.

    Called by the sweeper thread of every worker and by the `kick` task. Claims in the database
    make it safe to run in any number of threads and processes at once.
    """
    rt = runtime()
    count = 0
    pool = _pool(threads or _sweep_threads)
    for kind, ids, action in (("timer", rt.due_timers(), escalate),
                              ("notification", rt.due_notifications(), dispatch)):
        batch = _not_in_flight(kind, ids)
        if not batch:
            continue
        futures = {pool.submit(action, row_id): row_id for row_id in batch}
        for future, row_id in futures.items():
            try:
                future.result()
                count += 1
            except Exception:
                log.exception(
                    "%s(%s) failed; the row stays due and is retried", action.__name__, row_id
                )
    return count
