"""What the Huey tasks do, in the worker process: act on a row, then enqueue what follows."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from oncall.worker.runtime import Runtime

if TYPE_CHECKING:
    from oncall.worker.queue import Tasks

log = logging.getLogger("oncall.worker")

_runtime: Runtime | None = None
_lock = threading.Lock()


def install(runtime: Runtime) -> None:
    """Set this process's runtime (the worker command does it at start-up)."""
    global _runtime
    with _lock:
        _runtime = runtime


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


def escalate(timer_id: int) -> None:
    result = runtime().run_timer(timer_id)
    if not result.ran:
        return
    tasks = _tasks()
    for notification_id, due in result.notifications:
        tasks.notification_due(notification_id, due)
    if result.next_timer is not None:
        tasks.timer_due(*result.next_timer)


def dispatch(notification_id: int) -> None:
    outcome = runtime().dispatch(notification_id)
    tasks = _tasks()
    if outcome.retry_at is not None:
        tasks.notification_due(notification_id, outcome.retry_at)
    for other in outcome.pulled_forward:
        tasks.notification_due(other, runtime().clock())


def sweep(threads: int = 8) -> int:
    """Run every overdue timer and send every due notification; returns how many rows ran.

    Called by the sweeper thread of every worker and by the `kick` task. Claims in the database
    make it safe to run in any number of threads and processes at once.
    """
    rt = runtime()
    count = 0
    for batch, action in ((rt.due_timers(), escalate), (rt.due_notifications(), dispatch)):
        if not batch:
            continue
        with ThreadPoolExecutor(max_workers=min(threads, len(batch))) as pool:
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
