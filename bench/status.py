"""Status page benchmark: public readers under load while incidents come and go.

Creates a scratch PostgreSQL database, applies the example organisation, starts `oncall api`
and `oncall worker` (Redis as the queue) and drives the public page `northwind-status` from a
separate load-generator process: half the requests for the HTML page `/status/<page>`, half
for `/status/<page>/api/v2/summary.json`, over keep-alive loopback connections. The generator
is open-loop (requests are scheduled at `--rate` and latency counts from the scheduled time,
so queueing in a saturated server shows). Meanwhile a thread opens a P1 incident on
checkout-api (the page's "Checkout and payments") through the ingest API, waits until
`/status/<page>/api/v2/components.json` shows the component in a major outage (polled every
100 ms), resolves it and waits until the component is operational again: the delay from the
ingest's 202 to the change showing is the "change visible" time. Targets: reader p99 under
200 ms, every change visible within 5 s.

    .venv/bin/python bench/status.py --rate 500 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from cputime import CpuMeter, cpu_speed, named, tree
from ingest import _p99, _read_response, drop_database, free_port, prepare, scratch_database

ROOT = Path(__file__).resolve().parents[1]
CORES = os.cpu_count() or 1
ONCALL = str(ROOT / ".venv" / "bin" / "oncall")
SECRET = "bench-s3cret"
PAGE = "northwind-status"
COMPONENT = "Checkout and payments"
REDIS_URL = "redis://127.0.0.1:6379/13"
POLL_SECONDS = 0.1
VISIBLE_WITHIN_S = 5.0


# --- the load generator (its own process) -------------------------------------------------------


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


async def _drive(port: int, rate: float, seconds: float, connections: int,
                 window: float) -> dict[str, Any]:
    total = int(rate * seconds)
    paths = [f"/status/{PAGE}", f"/status/{PAGE}/api/v2/summary.json"]
    requests = [_get(paths[i % 2]) for i in range(total)]
    latencies: list[float] = []
    by_path: dict[int, list[float]] = {0: [], 1: []}
    by_window: dict[int, list[float]] = {}
    statuses: dict[int, int] = {}
    next_index = 0
    start = 0.0
    connected = 0
    go = asyncio.Event()

    async def worker() -> None:
        nonlocal next_index, connected, start
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        connected += 1
        if connected == connections:  # the clock starts once every connection is open
            start = time.perf_counter() + 0.05
            go.set()
        await go.wait()
        try:
            while True:
                i = next_index
                if i >= total:
                    return
                next_index += 1
                scheduled = start + i / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(requests[i])
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - scheduled)
                by_path[i % 2].append(latencies[-1])
                by_window.setdefault(int(i / rate / window), []).append(latencies[-1])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": total,
        "elapsed": elapsed,
        "rate": total / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * _p99(latencies),
        "max_ms": 1000 * latencies[-1],
        "generator_cpu": time.process_time() - cpu,
        "window_p99_ms": [1000 * _p99(sorted(w)) for _, w in sorted(by_window.items())],
        "path_p99_ms": {paths[k]: 1000 * _p99(sorted(v)) for k, v in by_path.items() if v},
        "errors": sum(n for status, n in statuses.items() if status != 200),
        "statuses": statuses,
    }


def _generator(queue: Any, *args: Any) -> None:
    queue.put(asyncio.run(_drive(*args)))


# --- status changes (a thread of this process) --------------------------------------------------


@dataclass
class Changes:
    """Delays from an ingest's 202 to the page's JSON showing the change, by kind."""

    opened: list[float] = field(default_factory=list)
    resolved: list[float] = field(default_factory=list)
    missed: int = 0
    """Changes not visible within the poll's limit."""
    errors: int = 0


def _component_status(client: httpx.Client, api: str) -> str | None:
    r = client.get(f"{api}/status/{PAGE}/api/v2/components.json")
    if r.status_code != 200:
        return None
    for part in r.json()["components"]:
        if part["name"] == COMPONENT:
            return str(part["status"])
    return None


def _visible(client: httpx.Client, api: str, want: str, limit: float) -> float | None:
    """Seconds until the component shows `want`, polled every 100 ms; None past `limit`."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if _component_status(client, api) == want:
            return time.monotonic() - start
        time.sleep(POLL_SECONDS)
    return None


def make_changes(api: str, stop: threading.Event, result: Changes, hold: float,
                 limit: float) -> None:
    """Open a P1 incident, wait for it to show, hold, resolve it, wait again; until `stop`."""
    client = httpx.Client(timeout=10)
    run = uuid.uuid4().hex[:8]
    n = 0
    while not stop.is_set():
        key = f"status-bench-{run}-{n}"
        n += 1
        for action, want, delays in (("trigger", "major_outage", result.opened),
                                     ("resolve", "operational", result.resolved)):
            r = client.post(
                f"{api}/api/v1/integrations/synthetic-checks/alerts",
                json={"summary": f"Checkout journey failing {key}", "dedup_key": key,
                      "severity": "critical", "event_action": action,
                      "labels": {"env": "prod", "alertname": "CheckoutJourneyFailing"}},
                headers={"Authorization": f"Bearer {SECRET}"})
            if r.status_code != 202:
                result.errors += 1
                continue
            delay = _visible(client, api, want, limit)
            if delay is None:
                result.missed += 1
            else:
                delays.append(delay)
            stop.wait(hold)
    client.close()


# --- the servers --------------------------------------------------------------------------------


@dataclass
class Servers:
    base: str
    """The API's base URL."""
    api: int
    worker: int
    """The processes' ids, for their CPU."""


@contextmanager
def running(url: str, args: argparse.Namespace) -> Iterator[Servers]:
    """`oncall api` and `oncall worker` on `url`."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ONCALL_")},
           "ONCALL_DATABASE_URL": url, "ONCALL_REDIS_URL": REDIS_URL,
           "ONCALL_LOG_LEVEL": "WARNING", "SYNTHETICS_WEBHOOK_TOKEN": SECRET,
           "PROM_PROD_WEBHOOK_SECRET": "x", "DATADOG_WEBHOOK_SECRET": "x"}
    queue = redis.Redis.from_url(REDIS_URL)
    queue.flushdb()
    api = subprocess.Popen([ONCALL, "api", "--port", str(port), "--workers",
                            str(args.workers), "--threads", str(args.threads)], env=env)
    worker = subprocess.Popen([ONCALL, "worker"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/status/{PAGE}/api/v2/status.json",
                             timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{base} did not come up")
            time.sleep(0.2)
        # the worker's first sync writes the components: start from an operational page
        with httpx.Client(timeout=5) as client:
            if _visible(client, base, "operational", 30) is None:
                raise RuntimeError("the worker did not sync the page within 30 s")
        yield Servers(base, api.pid, worker.pid)
    finally:
        for process in (api, worker):
            process.terminate()
        for process in (api, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        queue.flushdb()


def measure(servers: Servers, args: argparse.Namespace) -> tuple[dict[str, Any], Changes]:
    """The readers' figures (from the generator process, with the CPU each group of processes
    used meanwhile) and the changes made meanwhile."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    base = servers.base
    port = int(base.rsplit(":", 1)[1])
    warm = ctx.Process(target=_generator, args=(queue, port, args.rate, args.warmup,
                                                args.connections, args.window))
    warm.start()
    queue.get()
    warm.join()
    changes = Changes()
    stop = threading.Event()
    changer = threading.Thread(target=make_changes, args=(
        base, stop, changes, args.hold, args.limit))
    process = ctx.Process(target=_generator, args=(queue, port, args.rate, args.seconds,
                                                   args.connections, args.window))
    meter = CpuMeter(api=tree(servers.api), worker=tree(servers.worker),
                     postgres=named("postgres"), everything=lambda procs: list(procs))
    meter.start()
    process.start()
    changer.start()
    readers: dict[str, Any] = queue.get()
    readers["cpu"] = meter.stop()
    readers["steal"] = meter.steal
    stop.set()
    process.join()
    changer.join()
    return readers, changes


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="page requests per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds of load before measuring (fresh processes)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="database threads per worker")
    parser.add_argument("--window", type=float, default=5.0,
                        help="seconds per window of the per-window p99")
    parser.add_argument("--hold", type=float, default=1.0,
                        help="seconds an incident stays open (and resolved) once visible")
    parser.add_argument("--limit", type=float, default=15.0,
                        help="seconds a change is polled for before it counts as missed")
    args = parser.parse_args()

    loop = cpu_speed()
    url, user = scratch_database()
    try:
        prepare(url)
        with running(url, args) as servers:
            readers, changes = measure(servers, args)
    finally:
        drop_database(url, user)

    print(f"CPU speed: `python -c \"for i in range(10_000_000): pass\"` {loop:.2f} s")
    print(f"readers: offered {args.rate:.0f}/s for {args.seconds:.0f} s over "
          f"{args.connections} connections ({args.workers} API process x {args.threads} "
          f"threads, 1 worker): achieved {readers['rate']:.1f}/s, "
          f"p50 {readers['p50_ms']:.1f} ms, p99 {readers['p99_ms']:.1f} ms, "
          f"max {readers['max_ms']:.1f} ms, errors {readers['errors']} {readers['statuses']}")
    print("  p99 by document: " + ", ".join(
        f"{path} {p:.1f} ms" for path, p in readers["path_p99_ms"].items()))
    print(f"  p99 per {args.window:g} s window: "
          + " ".join(f"{p:.0f}" for p in readers["window_p99_ms"]) + " ms")
    cpu = readers["cpu"]
    ours = cpu["api"] + cpu["worker"] + cpu["postgres"] + readers["generator_cpu"]
    busy = cpu["everything"] / readers["elapsed"] / CORES
    others = max(0.0, cpu["everything"] - ours) / readers["elapsed"]
    print(f"  CPU s over the run: API {cpu['api']:.1f}, worker {cpu['worker']:.1f}, "
          f"PostgreSQL {cpu['postgres']:.1f}, generator {readers['generator_cpu']:.1f}; "
          f"machine busy {busy:.0%} of {CORES} cores, of which processes outside this "
          f"benchmark {others:.2f} cores; hypervisor steal {readers['steal']:.0%}")
    changed = changes.opened + changes.resolved
    late = sum(1 for d in changed if d > VISIBLE_WITHIN_S) + changes.missed
    print(f"changes: {len(changes.opened)} opened, {len(changes.resolved)} resolved, "
          f"{changes.missed} not visible within {args.limit:g} s, {changes.errors} ingest "
          f"errors; visible p50 {_ms(changed, 0.5)}, max "
          f"{_ms(changed, 1.0)} (opened max {_ms(changes.opened, 1.0)}, resolved max "
          f"{_ms(changes.resolved, 1.0)}); over {VISIBLE_WITHIN_S:g} s: {late}")
    print("| achieved | p50 | p99 | max | errors | changes (open/resolve) | visible p50 | "
          "visible max | over 5 s |")
    print(f"| {readers['rate']:.0f}/s | {readers['p50_ms']:.1f} ms | "
          f"{readers['p99_ms']:.1f} ms | {readers['max_ms']:.0f} ms | {readers['errors']} | "
          f"{len(changes.opened)}/{len(changes.resolved)} | {_ms(changed, 0.5)} | "
          f"{_ms(changed, 1.0)} | {late} |")
    ok = readers["p99_ms"] < 200 and late == 0 and readers["errors"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
