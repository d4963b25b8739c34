"""What the Huey tasks do, in the worker process: act on a row, then enqueue what follows."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from time import monotonic
from typing import TYPE_CHECKING

from oncall.store.outbox import BACKGROUND_KINDS
from oncall.worker.runtime import Runtime

if TYPE_CHECKING:
    from oncall.worker.queue import Tasks

log = logging.getLogger("oncall.worker")

_runtime: Runtime | None = None
_lock = threading.Lock()

PAGING = "paging"
"""The lane of escalation timers, pages and messages."""
STEPS = "steps"
"""The lane of workflow steps: a backlog of webhook calls never queues ahead of a page."""
_lane_threads = {PAGING: 4, STEPS: 8}


def install(runtime: Runtime, sweep_threads: int | None = None,
            step_threads: int | None = None) -> None:
    """Hand this process's runtime (and so its context) to the tasks, once, with the threads
    of its lanes: the worker command does it at start-up with `--threads` and
    `--step-threads`."""
    global _runtime
    with _lock:
        _runtime = runtime
        if sweep_threads is not None:
            _lane_threads[PAGING] = sweep_threads
        if step_threads is not None:
            _lane_threads[STEPS] = step_threads


def runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            import os

            _runtime = Runtime.from_env(os.environ)
        return _runtime


def _tasks() -> Tasks:
    return runtime().ctx.tasks()


_inflight: set[tuple[str, int]] = set()
_pools: dict[str, ThreadPoolExecutor] = {}


def _executor(lane: str) -> ThreadPoolExecutor:
    """The process's pool for one lane, made once (a sweep four times a second should not
    start and stop threads). Pages and timers never wait in line behind workflow steps,
    however slow or many the steps are; the steps lane has more threads, because a step
    mostly waits on its target (a runbook may take seconds) and waiting costs no CPU."""
    with _lock:
        pool = _pools.get(lane)
        if pool is None:
            pool = _pools[lane] = ThreadPoolExecutor(max_workers=_lane_threads[lane],
                                                     thread_name_prefix=f"sweep-{lane}")
        return pool


def _claim_locally(kind: str, row_id: int) -> bool:
    """Whether this process may act on the row: not if one of its threads already has it
    (queued or running). The database claims keep processes apart; this keeps a backlog from
    being handed out again by every sweep and task, which under load cost more than the work."""
    with _lock:
        if (kind, row_id) in _inflight:
            return False
        _inflight.add((kind, row_id))
        return True


def _release(kind: str, row_id: int) -> None:
    with _lock:
        _inflight.discard((kind, row_id))


def _run(kind: str, row_id: int, action: Callable[[int], None]) -> None:
    try:
        action(row_id)
    finally:
        _release(kind, row_id)


def _start(kind: str, row_id: int, action: Callable[[int], None],
           lane: str = PAGING) -> Future[None] | None:
    """Hand the row to its lane's pool, unless this process already has it in hand."""
    if not _claim_locally(kind, row_id):
        return None
    return _executor(lane).submit(_run, kind, row_id, action)


def escalate(timer_id: int) -> None:
    """The queued task: run the step unless this process already is."""
    if _claim_locally("timer", timer_id):
        _run("timer", timer_id, _escalate)


def dispatch(notification_id: int) -> None:
    """The queued task: send the notification unless this process already is."""
    if _claim_locally("notification", notification_id):
        _run("notification", notification_id, _dispatch)


def _escalate(timer_id: int) -> None:
    """Run the step, then send its pages due now from this thread: the first page should not
    wait for a queue round trip, nor behind the steps a sweep has handed out (sent side by side
    through the pool, they were slower on both backends at 50 incidents/s). Later ones are
    queued for their time. A hanging provider holds the next page for at most its timeout,
    and only until its circuit opens."""
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


def _dispatch(notification_id: int) -> None:
    """Send the row. A workflow step it released (the next of its run) is run at once from
    this thread, so a run's steps follow each other without a queue round trip or a sweep."""
    rt = runtime()
    outcome = rt.dispatch(notification_id)
    tasks = _tasks()
    if outcome.retry_at is not None:
        tasks.notification_due(notification_id, outcome.retry_at)
    for other in outcome.pulled_forward:
        tasks.notification_due(other, rt.clock())
    for step in outcome.released:
        dispatch(step)


def _timers(rt: Runtime) -> list[tuple[int, bool]]:
    return [(timer_id, True) for timer_id in rt.due_timers()]


def _planned(rt: Runtime) -> list[tuple[int, bool]]:
    """Plan the workflows of the events written since the last sweep (the escalations just
    run included); their first steps, due now, sent without the sweep waiting for them."""
    try:
        return [(row_id, False) for row_id in rt.plan_workflows()]
    except Exception:
        log.exception("planning workflows failed; the inbox keeps the events for the next sweep")
        return []


def _notifications(rt: Runtime) -> list[tuple[int, bool]]:
    """Due outbox rows; the sweep waits for pages and messages, not for workflow steps nor a
    status page's mail to its subscribers."""
    return [(row_id, kind not in BACKGROUND_KINDS) for row_id, kind in rt.due_rows()]


class Chore:
    """Work the sweep does besides the due rows, at most once per `seconds` per process: the
    sweep also runs on every ingest kick, up to 40 times a second. A failure is logged and
    tried again at the next interval; with `wakes`, what it queued or opened wakes the
    dispatcher."""

    def __init__(self, seconds: float, run: Callable[[Runtime], object], failure: str,
                 wakes: bool = True) -> None:
        self.seconds, self.run, self.failure, self.wakes = seconds, run, failure, wakes
        self.at: float | None = None

    def __call__(self, rt: Runtime) -> None:
        now = monotonic()
        with _lock:
            if self.at is not None and now - self.at < self.seconds:
                return
            self.at = now
        try:
            done = self.run(rt)
        except Exception:
            log.exception(self.failure)
            return
        if self.wakes and done:
            rt.ctx.wake()


_sync_status_pages = Chore(
    1.0, lambda rt: rt.sync_status_pages(),
    "status page sync failed; retried at the next sweep", wakes=False)
"""A page need not follow faster than once a second."""
_remind_overdue = Chore(
    60.0, lambda rt: rt.remind_overdue(),
    "reminding owners of overdue action items failed; retried in a minute")
"""A reminder is daily and the claim on the item keeps workers from sending it twice."""
_check_heartbeats = Chore(
    15.0, lambda rt: rt.check_heartbeats(),
    "looking for missed heartbeats failed; retried at the next interval")
"""A heartbeat's interval is at least a minute; the claim on a miss keeps workers from
opening it twice."""
_notify_handoffs = Chore(
    60.0, lambda rt: rt.notify_handoffs(),
    "telling people of on-call handoffs failed; retried in a minute")
"""A handoff is told once per its key in the outbox, whichever worker looks first."""


def sweep() -> int:
    """Run every overdue timer, plan the workflows of new incident events, send every due
    notification and workflow step, then (about once a second) sync the status pages,
    (about once a minute) queue the reminders of overdue action items and the notices of
    on-call handoffs, (every few seconds) open the incidents of missed heartbeats, and last
    ping the platform's dead man's switch (ONCALL_DEADMAN_URL) when one is due; returns how
    many rows ran.

    Called by the sweeper thread of every worker and by the `kick` task. Claims in the database
    make it safe to run in any number of threads and processes at once.
    """
    rt = runtime()
    count = 0
    for kind, due, action in (("timer", _timers, _escalate),
                              ("notification", _planned, _dispatch),
                              ("notification", _notifications, _dispatch)):
        futures: dict[int, Future[None] | None] = {}
        for row_id, waited in due(rt):
            if not waited:  # a workflow step: its own lane, and the sweep does not wait
                count += _start(kind, row_id, action, STEPS) is not None
                continue
            future = _start(kind, row_id, action)
            futures[row_id] = future
        for row_id, future in futures.items():
            if future is None:
                continue
            try:
                future.result()
                count += 1
            except Exception:
                log.exception("%s(%s) failed; the row stays due and is retried", kind, row_id)
    _sync_status_pages(rt)
    _remind_overdue(rt)
    _check_heartbeats(rt)
    _notify_handoffs(rt)
    if rt.deadman is not None:  # only a pass that got this far tells the outside we are alive
        rt.deadman.swept()
    return count
