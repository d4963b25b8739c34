"""What each kind of alert costs to ingest: CPU of the API process and of the database per
alert that opens an incident, repeats an open one, or resolves one.

    .venv/bin/python bench/ingest_cost.py [--backend production|embedded] [--alerts 1500]
        [--connections 8]

One `oncall api --workers 1` process on the paging benchmark's organisation and no worker, so
nothing but ingest runs. Phases of `--alerts` alerts each, posted by `--connections` senders
as fast as they are answered: new alerts (each opens an incident), the same alerts again
(repeats), then their resolves. CPU is read from /proc for the API process and for every
PostgreSQL process; the wall time of a phase is its throughput at `--connections` in flight.
The soak showed its ingest p99 climb once resolves begin: this tells which kind of alert the
server spends its time on.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from cputime import CpuMeter, cpu_reference, named, tree
from paging import SECRET, running_stack

PATH = "/api/v1/integrations/hooks/alerts"


def post_all(api: str, bodies: list[dict[str, Any]], connections: int) -> int:
    """Post every body, `connections` at a time; how many were not answered 202."""
    client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=connections))
    pending = iter(bodies)
    lock = threading.Lock()
    errors = 0

    def sender() -> None:
        nonlocal errors
        while True:
            with lock:
                body = next(pending, None)
            if body is None:
                return
            r = client.post(f"{api}{PATH}", json=body,
                            headers={"Authorization": f"Bearer {SECRET}"})
            if r.status_code != 202:
                with lock:
                    errors += 1

    threads = [threading.Thread(target=sender) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    return errors


def phase(name: str, api: str, bodies: list[dict[str, Any]], connections: int,
          groups: dict[str, Callable[[dict[int, tuple[str, int, float]]], Iterable[int]]]
          ) -> None:
    meter = CpuMeter(**groups)
    meter.start()
    started = time.perf_counter()
    errors = post_all(api, bodies, connections)
    wall = time.perf_counter() - started
    cpu = meter.stop()
    n = len(bodies)
    costs = "  ".join(f"{group} {1000 * seconds / n:5.2f} ms" for group, seconds in cpu.items())
    print(f"| {name:8} | {n} | {errors} | {costs} | {n / wall:7.0f}/s |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("production", "embedded"), default="production")
    parser.add_argument("--alerts", type=int, default=1500)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with cpu_reference(), running_stack(args.backend, 0, 1, {},
                                        api_args=("--workers", "1")) as stack:
        api_pid = stack.procs.procs[0].pid
        groups = {"api": tree(api_pid)}
        if args.backend == "production":
            groups["postgres"] = named("postgres")
        keys = [f"cost-{n}" for n in range(args.alerts)]
        warm = [{"summary": f"warm {n}", "severity": "critical", "dedup_key": f"warm-{n}"}
                for n in range(200)]
        post_all(stack.api, warm, args.connections)
        print(f"{args.backend}, {args.alerts} alerts a phase, {args.connections} connections; "
              "CPU per alert")
        print("| phase | alerts | errors | CPU per alert | throughput |")
        print("|---|---|---|---|---|")
        opens = [{"summary": f"{key} error rate high", "severity": "critical", "dedup_key": key}
                 for key in keys]
        phase("open", stack.api, opens, args.connections, groups)
        phase("repeat", stack.api, opens, args.connections, groups)
        phase("resolve", stack.api, [{"event_action": "resolve", "dedup_key": key}
                                     for key in keys], args.connections, groups)


if __name__ == "__main__":
    main()
