"""What the Huey tasks do, in the worker process: act on a row, then enqueue what follows."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from time import monotonic
from typing import TYPE_CHECKING

from oncall.observability import metrics
from oncall.store.outbox import Call, Dispatched
from oncall.worker.dispatcher import Send, in_turn
from oncall.worker.escalator import StepResult
from oncall.worker.runtime import Runtime

if TYPE_CHECKING:
    from oncall.worker.queue import Tasks

log = logging.getLogger("oncall.worker")

_runtime: Runtime | None = None
_lock = threading.Lock()

STEPS = "steps"
"""The lane of workflow steps: a backlog of webhook calls never queues ahead of a page."""
SENDS = "sends"
"""The provider calls of a batch's channels but one, each channel's side by side with the
others. Escalation steps and the claims and records of pages run in the threads that sweep
(the sweeper and the queue's)."""
_lane_threads = {STEPS: 8, SENDS: 16}
_sweep_interval = 0.25
"""The sweeper's interval (`oncall worker --sweep-interval`)."""
_last_sweep: list[float] = []
"""When the last sweep of this process started (monotonic)."""


def install(runtime: Runtime, step_threads: int | None = None,
            sweep_interval: float | None = None) -> None:
    """Hand this process's runtime (and so its context) to the tasks, once, with the threads
    of its steps lane and the sweeper's interval: the worker command does it at start-up with
    `--step-threads` and `--sweep-interval`."""
    global _runtime, _sweep_interval
    with _lock:
        _runtime = runtime
        if sweep_interval is not None:
            _sweep_interval = sweep_interval
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
    start and stop threads). Pages never wait in line behind workflow steps, however slow or
    many the steps are. Both lanes have more threads than cores: a step or a provider call
    mostly waits on its target, and waiting costs no CPU."""
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


def _run(kind: str, row_id: int, action: Callable[[int], object]) -> None:
    try:
        action(row_id)
    finally:
        _release(kind, row_id)


def _start(kind: str, row_id: int, action: Callable[[int], object],
           lane: str) -> Future[None] | None:
    """Hand the row to its lane's pool, unless this process already has it in hand."""
    if not _claim_locally(kind, row_id):
        return None
    return _executor(lane).submit(_run, kind, row_id, action)


TIMER_BATCH = 50
"""Escalation steps claimed and run in one transaction: a burst of new incidents costs a
handful of round trips per batch, not ten per incident."""
OUTBOX_BATCH = 100
"""Due pages and messages claimed in one statement by a sweep."""


def escalate(timer_id: int) -> None:
    """The queued task: run the step unless this process already is."""
    if _claim_locally("timer", timer_id):
        _run("timer", timer_id, lambda row_id: _escalate([row_id]))


def dispatch(notification_id: int) -> None:
    """The queued task: send the notification unless this process already is."""
    if _claim_locally("notification", notification_id):
        _run("notification", notification_id, lambda row_id: _send([row_id]))


def _escalate(ids: list[int] | None) -> int:
    """Run a batch of due steps (of `ids`, or the oldest due), then send their pages due now
    from this thread: the first page should not wait for a queue round trip. Later ones are
    queued for their time. How many timers ran."""
    rt = runtime()
    results = rt.run_due(TIMER_BATCH if ids is None else len(ids), ids)
    tasks = _tasks()
    now = rt.clock()
    due: list[int] = []
    for result in results:
        if result.next_timer is not None:
            tasks.timer_due(*result.next_timer)
        for notification_id, at in result.notifications:
            if at > now:
                tasks.notification_due(notification_id, at)
            else:
                due.append(notification_id)
    if due:
        outcomes = _send(due)
        _observe_first_pages(results, outcomes, rt.clock())
    return len(results)


def _observe_first_pages(results: list[StepResult], outcomes: dict[int, Dispatched],
                         now: datetime) -> None:
    """Alert to first page: each first step's pages sent at their first try, timed from the
    incident's trigger to the provider having taken them."""
    for result in results:
        for row_id, (channel, triggered_at) in result.first_pages.items():
            outcome = outcomes.get(row_id)
            if outcome is not None and outcome.outcome == "sent":
                metrics.observe_first_page(channel, (now - triggered_at).total_seconds())


def _send(ids: list[int] | None) -> dict[int, Dispatched]:
    """Claim and send due rows (of `ids`, or the oldest due pages and messages), their
    provider calls side by side; queue what follows. A workflow step a row released (the next
    of its run) is run at once from this thread, so a run's steps follow each other without a
    queue round trip or a sweep. The outcome of each row claimed."""
    rt = runtime()
    outcomes = rt.dispatch_many(ids, OUTBOX_BATCH, sends=_by_channel)
    tasks = _tasks()
    released: list[int] = []
    for notification_id, outcome in outcomes.items():
        if outcome.retry_at is not None:
            tasks.notification_due(notification_id, outcome.retry_at)
        for other in outcome.pulled_forward:
            tasks.notification_due(other, rt.clock())
        released.extend(outcome.released)
    for step in released:
        dispatch(step)
    return outcomes


def _by_channel(sends: list[Send]) -> Iterator[list[tuple[int, list[Call]]]]:
    """A batch's sends, one channel's after another in turn (`in_turn`), the channels side by
    side in the sends pool: a provider hanging until its timeout holds up the pages of its own
    channel only, while Slack, email, SMS and voice pages each go out, and are recorded, without
    waiting for the others. A batch of one channel (the usual case) runs in this thread."""
    by_channel: dict[str, list[int]] = {}
    for index, (channel, _send) in enumerate(sends):
        by_channel.setdefault(channel, []).append(index)
    if len(by_channel) == 1:
        yield from in_turn(sends, next(iter(by_channel.values())))
        return
    finished: queue.SimpleQueue[list[tuple[int, list[Call]]] | BaseException | None] = (
        queue.SimpleQueue())

    def one_channel(indexes: list[int]) -> None:
        try:
            for group in in_turn(sends, indexes):
                finished.put(group)
        except Exception as exc:  # noqa: BLE001 - handed to the batch's thread, which raises it
            finished.put(exc)
        finally:
            finished.put(None)

    pool = _executor(SENDS)
    for indexes in by_channel.values():
        pool.submit(one_channel, indexes)
    running = len(by_channel)
    while running:
        item = finished.get()
        if item is None:
            running -= 1
        elif isinstance(item, BaseException):
            raise item
        else:
            yield item


def _planned(rt: Runtime) -> list[int]:
    """Plan the workflows of the events written since the last sweep (the escalations just
    run included); their first steps are due now."""
    try:
        return rt.plan_workflows()
    except Exception:
        log.exception("planning workflows failed; the inbox keeps the events for the next sweep")
        return []


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


def _observe_sweep(rt: Runtime) -> None:
    """How late this sweep started after the one before was due to be followed (the sweep
    interval), and the queue's depth: a worker falling behind shows here first."""
    now = monotonic()
    with _lock:
        previous = _last_sweep[0] if _last_sweep else None
        _last_sweep[:] = [now]
    lag = 0.0 if previous is None else max(0.0, now - previous - _sweep_interval)
    metrics.observe_sweep(lag)
    _queue_depth(rt)


def _read_queue_depth(rt: Runtime) -> None:
    try:
        depth = int(rt.ctx.tasks().huey.pending_count())
    except Exception:  # noqa: BLE001 - a queue that cannot be read has no depth to show
        return
    metrics.observe_queue_depth(depth)


_queue_depth = Chore(1.0, _read_queue_depth, "reading the queue's depth failed", wakes=False)
"""Read once a second, not on every sweep: a burst of ingest kicks runs dozens of sweeps a
second, and each read is a round trip to the queue."""


def sweep() -> int:
    """Run every overdue timer and send its pages, plan the workflows of new incident events,
    send every due page and message, hand due workflow steps, mail and hooks to the steps lane,
    then (about once a second) sync the status pages, (about once a minute) queue the reminders
    of overdue action items and the notices of on-call handoffs, (every few seconds) open the
    incidents of missed heartbeats, and last ping the platform's dead man's switch
    (ONCALL_DEADMAN_URL) when one is due; returns how many timers and pages ran.

    Called by the sweeper thread of every worker and by the `kick` task. Timers and rows are
    claimed in batches that skip what another thread or process holds, so any number of
    sweeps may run at once and each takes its own share.
    """
    rt = runtime()
    count = 0
    _observe_sweep(rt)
    for work, batch in ((_escalate, TIMER_BATCH), (_send_due, OUTBOX_BATCH)):
        while True:  # a failure here (the database unreachable) fails the sweep: no ping
            done = work(None)
            count += done
            if done < batch:
                break
    for row_id in _planned(rt) + rt.due_background():
        _start("notification", row_id, _dispatch_one, STEPS)
    _sync_status_pages(rt)
    _remind_overdue(rt)
    _check_heartbeats(rt)
    _notify_handoffs(rt)
    if rt.deadman is not None:  # only a pass that got this far tells the outside we are alive
        rt.deadman.swept()
    return count


def _dispatch_one(notification_id: int) -> None:
    _send([notification_id])


def _send_due(_ids: None) -> int:
    return len(_send(None))
