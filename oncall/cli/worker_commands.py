"""`oncall worker`: a Huey consumer plus the sweeper that keeps every promise in the database.

Stopping (SIGTERM, as systemd and container runtimes send, or SIGINT): the worker takes no new
work, gives the calls it has in flight up to `--grace` seconds to finish, then hands back the
outbox rows it still holds so another worker sends them at once instead of after their lease.
A second signal cuts the wait short.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

from huey.consumer import Consumer
from sqlalchemy.exc import SQLAlchemyError

from oncall.db.engine import write_connection
from oncall.db.migrate import DatabaseNotMigrated, require_current
from oncall.heap import freeze_long_lived
from oncall.settings import SettingsError
from oncall.store import outbox_claims

if TYPE_CHECKING:
    from oncall.worker.runtime import Runtime

log = logging.getLogger("oncall.worker")

GRACE_SECONDS = 20.0
"""Default `--grace`: longer than a provider's usual answer, well inside systemd's and the
container runtimes' stop timeouts (90 s and 30 s by default; set TimeoutStopSec or
--stop-timeout above `--grace` + a few seconds)."""
HELD_POLL_SECONDS = 0.1


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="run escalations and send notifications (a Huey consumer)")
    p.add_argument("--threads", type=int, default=4,
                   help="queue threads, each running a sweep or a single task at a time "
                        "(default 4; the work is mostly Python, so more threads than cores "
                        "contend for the GIL)")
    p.add_argument("--step-threads", type=int, default=8,
                   help="workflow steps run at once (default 8): a step mostly waits on its "
                        "webhook or runbook, so more than cores")
    p.add_argument("--send-threads", type=int, default=32,
                   help="provider calls in flight at once per channel (default 32): a page to "
                        "Slack, Twilio or SES mostly waits 0.1-0.5 s on the provider, so a "
                        "burst of incidents needs many side by side")
    p.add_argument(
        "--sweep-interval",
        type=float,
        default=0.25,
        metavar="SECONDS",
        help="how often overdue timers and notifications are swept up (default 0.25)",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=GRACE_SECONDS,
        metavar="SECONDS",
        help="on SIGTERM or SIGINT, how long calls in flight may finish before the rows still "
             f"held are handed back to other workers (default {GRACE_SECONDS:g})",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve this worker's histograms (sweep lag, first pages, provider calls) for "
             "Prometheus on PORT; not needed where PROMETHEUS_MULTIPROC_DIR is shared with the "
             "API on the same machine (docs/operations.md)",
    )
    p.set_defaults(handler=worker)


class _Consumer(Consumer):  # type: ignore[misc]
    """Huey's consumer (SIGTERM is its graceful stop), noting when it was told to stop: the
    grace period runs from then, through Huey's wait for its task threads and ours after."""

    stopping_at: float | None = None
    waiting = False
    cut_short = False
    """Huey gave up waiting for its busy task threads: a second signal (or the grace period is
    over). Either way, what is held is handed back now."""

    def stop(self, graceful: bool = False) -> None:
        if self.stopping_at is None:
            self.stopping_at = time.monotonic()
        self.waiting = graceful
        super().stop(graceful)

    def _interrupt_workers(self) -> None:
        # Huey 3.5 calls this after a graceful stop only when its wait was cut off; SIGINT (its
        # immediate stop) calls it at once, and our own wait follows.
        self.cut_short = self.cut_short or self.waiting
        super()._interrupt_workers()


def _wait_for_claims(runtime: Runtime, deadline: float, hurry: threading.Event) -> int:
    """Wait while this worker holds outbox rows (calls in flight in its pools), until the
    deadline or a second signal; how many it still holds."""
    while True:
        try:
            with runtime.engine.connect() as conn:
                held = outbox_claims.held(conn, runtime.worker_id)
        except SQLAlchemyError as exc:
            log.warning("stopping: cannot count the rows held: %s", exc.__class__.__name__)
            return -1
        if held == 0 or hurry.is_set() or time.monotonic() >= deadline:
            return held
        hurry.wait(min(HELD_POLL_SECONDS, max(deadline - time.monotonic(), 0)))


def _drain(runtime: Runtime, threads: Iterable[threading.Thread], deadline: float) -> list[int]:
    """Let the work in flight finish until `deadline`, then hand back what is still held."""
    hurry = threading.Event()

    def cut_short(signum: int, _frame: FrameType | None) -> None:
        log.warning("%s again: handing back what is held now", signal.Signals(signum).name)
        hurry.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, cut_short)
    for thread in threads:  # joined in slices: a second signal must not wait for a join
        while thread.is_alive() and not hurry.is_set() and time.monotonic() < deadline:
            thread.join(min(HELD_POLL_SECONDS, max(deadline - time.monotonic(), 0)))
    held = _wait_for_claims(runtime, deadline, hurry)
    if held == 0:
        return []
    try:
        with write_connection(runtime.engine) as conn:
            released = outbox_claims.release(conn, runtime.worker_id, datetime.now(UTC))
    except SQLAlchemyError as exc:
        log.error("stopping: handing back the rows held failed (%s); they are taken over "
                  "when their lease runs out", exc.__class__.__name__)
        return []
    if released:
        log.warning("worker %s: handed back %d notification(s) still in flight after the "
                    "grace period: %s", runtime.worker_id, len(released),
                    ", ".join(map(str, released)))
    return released


def _sweeper(stop: threading.Event, interval: float) -> None:
    from oncall.worker import handlers

    while not stop.wait(interval):
        try:
            handlers.sweep()
        except Exception:
            log.exception("sweep failed; trying again in %.0f s", interval)


def worker(args: argparse.Namespace) -> int:
    from oncall.observability import metrics
    from oncall.worker import handlers
    from oncall.worker.logs import quiet_outages
    from oncall.worker.queue import tasks_for
    from oncall.worker.runtime import Runtime

    logging.basicConfig(
        level=os.environ.get("ONCALL_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if (args.threads < 1 or args.step_threads < 1 or args.send_threads < 1
            or args.sweep_interval <= 0 or args.grace < 0):
        print("oncall: error: --threads, --step-threads, --send-threads and --sweep-interval "
              "must be positive, "
              "--grace not negative", file=sys.stderr)
        return 2
    try:
        runtime = Runtime.from_env(os.environ)
        require_current(runtime.engine)
    except (SettingsError, DatabaseNotMigrated) as exc:
        print(f"oncall: error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(
            f"oncall: error: cannot reach the database: {exc.__class__.__name__}", file=sys.stderr
        )
        return 1
    quiet_outages()
    handlers.install(runtime, step_threads=args.step_threads,
                     sweep_interval=args.sweep_interval, send_threads=args.send_threads)
    if args.metrics_port is not None:
        metrics.serve(args.metrics_port)
    tasks = tasks_for(runtime.settings)
    channels = ", ".join(sorted(c.value for c in runtime.chains.enabled)) or "none"
    log.info(
        "worker %s: channels %s; queue %s", runtime.worker_id, channels, type(tasks.huey).__name__
    )
    stop = threading.Event()
    sweeper = threading.Thread(
        target=_sweeper, args=(stop, args.sweep_interval), name="sweeper", daemon=True
    )
    sweeper.start()
    handlers.sweep()  # whatever fell due while no worker ran
    runtime.config()
    freeze_long_lived()
    consumer = _Consumer(
        tasks.huey,
        workers=args.threads,
        worker_type="thread",
        periodic=False,
        initial_delay=0.05,
        backoff=1.5,
        max_delay=0.5,
        scheduler_interval=1,
        shutdown_timeout=args.grace,
        graceful_signal="TERM",
    )
    try:
        consumer.run()
    finally:
        stop.set()
    deadline = (consumer.stopping_at or time.monotonic()) + args.grace
    if consumer.cut_short:
        deadline = time.monotonic()
    threads = [sweeper, consumer.scheduler, *(thread for _, thread in consumer.worker_threads)]
    _drain(runtime, threads, deadline)
    log.info("worker %s stopped", runtime.worker_id)
    logging.shutdown()
    # A call still running past the grace period must not record its row after it was handed
    # back, and the pools must not start queued work: end here, without joining their threads.
    os._exit(0)
