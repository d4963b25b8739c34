"""What the Huey tasks do, in the worker process: act on a row, then enqueue what follows."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import partial
from time import monotonic
from typing import TYPE_CHECKING

from oncall.observability import metrics
from oncall.store.outbox import Call, Dispatched
from oncall.worker.dispatcher import RECORD_WITHIN, Send, in_turn
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
"""The provider calls of a batch's pages and messages, a pool per channel (`sends-slack`,
`sends-email`, ...), each of `--send-threads`. Escalation steps and the claims and records of
pages run in the threads that sweep (the sweeper and the queue's)."""
_lane_threads = {STEPS: 8, SENDS: 32}
_sweep_interval = 0.25
"""The sweeper's interval (`oncall worker --sweep-interval`)."""
_last_sweep: list[float] = []
"""When the last sweep of this process started (monotonic)."""


def install(runtime: Runtime, step_threads: int | None = None,
            sweep_interval: float | None = None, send_threads: int | None = None) -> None:
    """Hand this process's runtime (and so its context) to the tasks, once, with the threads
    of its steps lane and of each channel's sends, and the sweeper's interval: the worker
    command does it at start-up with `--step-threads`, `--send-threads` and
    `--sweep-interval`."""
    global _runtime, _sweep_interval
    with _lock:
        _runtime = runtime
        if sweep_interval is not None:
            _sweep_interval = sweep_interval
        if step_threads is not None:
            _lane_threads[STEPS] = step_threads
        if send_threads is not None:
            _lane_threads[SENDS] = send_threads


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
            threads = _lane_threads[lane.split("-", 1)[0]]
            pool = _pools[lane] = ThreadPoolExecutor(max_workers=threads,
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
    outcomes = rt.dispatch_many(ids, OUTBOX_BATCH, sends=_side_by_side)
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


START_WITHIN = 0.05
"""Seconds a send may wait behind the sends before it in its thread: a batch's sends are
dealt out to as many threads as keep each one's wait under this, by how long its channel's
calls have been taking in this process."""
_send_seconds: dict[str, float] = {}
"""How long a send takes per channel, a moving average of this process's latest sends."""
FIRST_GUESS = 0.1
"""Seconds a channel's send is taken to last before this process has timed one: a provider
across the internet."""


def _timed(channel: str, call: Callable[[], list[Call]]) -> list[Call]:
    started = monotonic()
    try:
        return call()
    finally:
        took = monotonic() - started
        with _lock:
            _send_seconds[channel] = 0.8 * _send_seconds.get(channel, took) + 0.2 * took


Turns = list[list[int]]
"""Sends dealt to one thread: turns of indexes, each turn the sends of one incident to one
address (`Send.turn`) in the order of their rows (a post before its update)."""


def _dealt(sends: list[Send]) -> list[tuple[str, Turns]]:
    """The batch's sends dealt out to threads, each a channel and its turns: as many sends
    to a thread as its channel's calls take to fill `START_WITHIN`, at least one turn."""
    turns: dict[tuple[str, tuple[str, int | None]], list[int]] = {}
    for index, send in enumerate(sends):
        turns.setdefault((send.channel, send.turn), []).append(index)
    with _lock:
        per_thread = {channel: int(START_WITHIN / max(seconds, 1e-6))
                      for channel, seconds in _send_seconds.items()}
    dealt: list[tuple[str, Turns]] = []
    newest: dict[str, Turns] = {}
    room: dict[str, int] = {}
    """Sends the channel's newest thread may still take."""
    for (channel, _turn), indexes in turns.items():
        if channel not in newest or len(indexes) > room[channel]:
            newest[channel] = []
            dealt.append((channel, newest[channel]))
            room[channel] = per_thread.get(channel, int(START_WITHIN / FIRST_GUESS))
        newest[channel].append(indexes)
        room[channel] -= len(indexes)
    return dealt


def _side_by_side(sends: list[Send]) -> Iterator[list[tuple[int, list[Call]]]]:
    """A batch's sends, side by side as far as their calls wait (`_dealt`), each channel's in
    a pool of its own; yielded in groups as they finish (`RECORD_WITHIN`, and at once after a
    failure, so its circuit is counted before more calls go to its provider).

    A provider call across the internet takes 0.1-0.5 s, nearly all of it waiting: one after
    another, a batch of 50 incidents' pages would reach its last person many seconds late;
    against a provider answering within a millisecond, threads handing the GIL to each other
    would cost more than they save. A thread whose provider turned slow deals the turns it has
    not started out to threads of their own, and a provider hanging until its timeout holds up
    its own channel's pages only, while the other channels' go out and are recorded. A batch of
    one turn (a queued row's path) runs in this thread."""
    sends = [send._replace(call=partial(_timed, send.channel, send.call)) for send in sends]
    dealt = _dealt(sends)
    if len(dealt) == 1 and len(dealt[0][1]) == 1:
        yield from in_turn(sends, dealt[0][1][0])
        return
    finished: queue.SimpleQueue[tuple[int, list[Call]] | BaseException | int] = (
        queue.SimpleQueue())

    def one_thread(channel: str, turns: Turns) -> None:
        try:
            for n, turn in enumerate(turns):
                started = monotonic()
                for index in turn:
                    finished.put((index, sends[index].call()))
                if monotonic() - started > START_WITHIN and len(turns) - n > 2:
                    # the provider turned slow: the rest side by side, counted before any of
                    # them can finish
                    rest = turns[n + 1:]
                    finished.put(len(rest))
                    for turn_left in rest:
                        _executor(f"{SENDS}-{channel}").submit(one_thread, channel, [turn_left])
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the batch's thread, which raises it
            finished.put(exc)
        finally:
            finished.put(-1)

    for channel, turns in dealt:
        _executor(f"{SENDS}-{channel}").submit(one_thread, channel, turns)
    running = len(dealt)
    group: list[tuple[int, list[Call]]] = []
    since = 0.0
    while running:
        try:
            item = finished.get(timeout=max(0.0, since + RECORD_WITHIN - monotonic())
                                if group else None)
        except queue.Empty:
            yield group
            group = []
            continue
        if isinstance(item, int):  # a thread done (-1), or threads dealt the rest of its sends
            running += item
        elif isinstance(item, BaseException):
            raise item
        else:
            if not group:
                since = monotonic()
            group.append(item)
            if not item[1][-1].result.ok:
                yield group
                group = []
    if group:
        yield group


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


def _start_background(rt: Runtime) -> None:
    for row_id in rt.due_background():
        _start("notification", row_id, _dispatch_one, STEPS)


_hand_out_background = Chore(
    0.2, _start_background, "looking for due workflow steps, mail and hooks failed; retried "
    "at the next sweep", wakes=False)
"""Due workflow steps (retries, waits), mail and hooks: looked for by each process's sweeper
pass, not on every ingest kick, where the query cost the worker 5% of its CPU at 100 new
incidents a second. A workflow's first steps do not wait for it: the sweep that plans them
starts them."""
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
    """Run every overdue timer and send its pages, plan the workflows of new incident events
    and start their first steps, send every due page and message, then the chores, each at
    most once per its interval in a process: (every 0.2 s) hand due workflow steps, mail and
    hooks to the steps lane, (about once a second) sync the status pages, (about once a minute)
    queue the reminders of overdue action items and the notices of on-call handoffs, (every
    few seconds) open the incidents of missed heartbeats; last ping the platform's dead man's
    switch (ONCALL_DEADMAN_URL) when one is due; returns how many timers and pages ran.

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
    for row_id in _planned(rt):
        _start("notification", row_id, _dispatch_one, STEPS)
    _hand_out_background(rt)
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
