"""`oncall worker`: a Huey consumer plus the sweeper that keeps every promise in the database."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from oncall.db.migrate import DatabaseNotMigrated, require_current
from oncall.heap import freeze_long_lived
from oncall.settings import SettingsError

log = logging.getLogger("oncall.worker")


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="run escalations and send notifications (a Huey consumer)")
    p.add_argument("--threads", type=int, default=4,
                   help="threads for queued tasks, and as many for sweeps (default 4; the work "
                        "is mostly Python, so more threads than cores contend for the GIL)")
    p.add_argument("--step-threads", type=int, default=8,
                   help="workflow steps run at once (default 8): a step mostly waits on its "
                        "webhook or runbook, so more than cores")
    p.add_argument(
        "--sweep-interval",
        type=float,
        default=0.25,
        metavar="SECONDS",
        help="how often overdue timers and notifications are swept up (default 0.25)",
    )
    p.set_defaults(handler=worker)


def _sweeper(stop: threading.Event, interval: float) -> None:
    from oncall.worker import handlers

    while not stop.wait(interval):
        try:
            handlers.sweep()
        except Exception:
            log.exception("sweep failed; trying again in %.0f s", interval)


def worker(args: argparse.Namespace) -> int:
    from oncall.worker import handlers
    from oncall.worker.queue import tasks_for
    from oncall.worker.runtime import Runtime

    logging.basicConfig(
        level=os.environ.get("ONCALL_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.threads < 1 or args.step_threads < 1 or args.sweep_interval <= 0:
        print("oncall: error: --threads, --step-threads and --sweep-interval must be positive",
              file=sys.stderr)
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
    handlers.install(runtime, sweep_threads=args.threads, step_threads=args.step_threads)
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
    consumer = tasks.huey.create_consumer(
        workers=args.threads,
        worker_type="thread",
        periodic=False,
        initial_delay=0.05,
        backoff=1.5,
        max_delay=0.5,
        scheduler_interval=1,
    )
    try:
        consumer.run()
    finally:
        stop.set()
    return 0
