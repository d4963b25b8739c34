"""Ingest throughput and latency: the headless server on PostgreSQL under a loopback load.

Creates a scratch PostgreSQL database, migrates it, applies the example organisation, starts
`oncall api` (with its default processes and threads unless `--workers`/`--threads` say
otherwise) and drives it from a separate load-generator process: a mix of
10% new alert groups and 90% duplicates of groups already open, posted as generic JSON alerts.
The generator is open-loop (requests are scheduled at the target rate and latency is measured
from the scheduled time, so a slow server cannot hide its queueing) over keep-alive
connections. Then Prometheus Alertmanager's own `/api/v2/alerts` gets the same treatment in the
same run, and the ratio is printed.

The integration under load has its rate limit raised out of the way (the bench measures what
the server takes, not the default limit). With `--limited-rate R`, a second integration
limited to `--limit` alerts a second is driven at R alongside: its answers show the limit
holding (429 above it) while the main load's latency shows it costs the others nothing.

    .venv/bin/python bench/ingest.py --rate 1500 --seconds 30
    .venv/bin/python bench/ingest.py --rate 1000 --seconds 30 --workers 2 --threads 2
    .venv/bin/python bench/ingest.py --rate 500 --limited-rate 300 --limit 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis
from cputime import CpuMeter, cpu_reference, named, tree

from oncall.cli import api_commands

ROOT = Path(__file__).resolve().parents[1]
CORES = os.cpu_count() or 1
SECRET = "bench-s3cret"
MAIN = "synthetic-checks"
GROUPED = "prometheus-prod"
"""The Alertmanager integration `--batch` posts its groups to."""
LIMITED = "bench-limited"
"""A generic integration the bench adds to the example organisation, limited to `--limit`/s."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


# --- the load generator (its own process) -------------------------------------------------------


def http_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


def _p99(ordered: list[float]) -> float:
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


def _webhook(alerts: list[tuple[str, str]]) -> dict[str, Any]:
    """An Alertmanager webhook (version 4) carrying one group's firing alerts."""
    return {
        "version": "4", "status": "firing", "receiver": "oncall", "groupKey": "{}:{}",
        "groupLabels": {}, "commonLabels": {"job": "bench"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "fingerprint": key, "startsAt": started,
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph",
                    "labels": {"alertname": "Bench", "job": "bench", "group": key},
                    "annotations": {"summary": f"Bench alert {key}"}} for key, started in alerts],
    }


async def _drive(port: int, kind: str, rate: float, seconds: float, connections: int,
                 new_share: float, window: float, seed: int, batch: int = 0
                 ) -> dict[str, Any]:
    """`batch` N > 0: Alertmanager webhooks of N alerts each (`rate` counts alerts)."""
    rng = random.Random(seed)
    per_request = max(1, batch)
    rate = rate / per_request
    total = int(rate * seconds)
    keys: list[str] = []
    run = uuid.uuid4().hex[:8]

    fresh: list[bool] = []

    started_at: dict[str, str] = {}

    def key_for() -> tuple[bool, str]:
        new = not keys or rng.random() < new_share
        if new:
            keys.append(f"{run}-{len(keys)}")
            started_at[keys[-1]] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            return True, keys[-1]
        return False, rng.choice(keys)

    def body_for() -> bytes:
        if batch:
            chosen = [key_for() for _ in range(batch)]
            fresh.append(any(new for new, _ in chosen))
            return json.dumps(_webhook([(key, started_at[key]) for _, key in chosen])).encode()
        new, key = key_for()
        fresh.append(new)
        if kind in ("oncall", "limited"):
            return json.dumps({"summary": f"Bench alert {key}", "dedup_key": key,
                               "labels": {"job": "bench", "group": key}}).encode()
        return json.dumps([{"labels": {"alertname": "Bench", "group": key},
                            "annotations": {"summary": f"Bench alert {key}"}}]).encode()

    if batch:
        path, headers = (f"/api/v1/integrations/{GROUPED}/alerts",
                         {"Authorization": f"Bearer {SECRET}"})
    elif kind in ("oncall", "limited"):
        name = MAIN if kind == "oncall" else LIMITED
        path, headers = (f"/api/v1/integrations/{name}/alerts",
                         {"Authorization": f"Bearer {SECRET}"})
    else:
        path, headers = "/api/v2/alerts", {}
    requests = [http_request(path, body_for(), headers) for _ in range(total)]
    latencies: list[float] = []
    by_kind: dict[bool, list[float]] = {True: [], False: []}
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
                status = await read_response(reader)
                latencies.append(time.perf_counter() - scheduled)
                by_kind[fresh[i]].append(latencies[-1])
                by_window.setdefault(int(i / rate / window), []).append(latencies[-1])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "generator_cpu": time.process_time() - cpu,
        "window_p99_ms": [1000 * _p99(sorted(w)) for _, w in sorted(by_window.items())],
        "requests": total,
        "alerts": total * per_request,
        "elapsed": elapsed,
        "rate": total * per_request / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * _p99(latencies),
        "max_ms": 1000 * latencies[-1],
        "kind_p99_ms": {("new" if new else "repeat"): 1000 * _p99(sorted(values))
                        for new, values in by_kind.items() if values},
        "statuses": statuses,
        "groups": len(keys),
    }


def _generator(queue: Any, *args: Any) -> None:
    queue.put(asyncio.run(_drive(*args)))


def start(port: int, kind: str, args: argparse.Namespace, seed: int, rate: float | None = None,
          connections: int | None = None) -> tuple[Any, Any]:
    """A load generator in a separate process, and the queue its figures come back on."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_generator, args=(
        queue, port, kind, rate or args.rate, args.seconds, connections or args.connections,
        args.new_share, args.window, seed, args.batch if kind == "oncall" else 0))
    process.start()
    return process, queue


def collect(started: tuple[Any, Any]) -> dict[str, Any]:
    process, queue = started
    result: dict[str, Any] = queue.get()
    process.join()
    return result


def generate(port: int, kind: str, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    return collect(start(port, kind, args, seed))


# --- the servers --------------------------------------------------------------------------------


def scratch_database() -> tuple[str, str]:
    for user in ("root", "postgres"):
        try:
            admin = psycopg.connect(host="127.0.0.1", user=user, dbname="postgres",
                                    autocommit=True)
        except psycopg.OperationalError:
            continue
        name = f"oncall_bench_{os.getpid()}"
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.close()
        return f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}", user
    raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432")


def drop_database(url: str, user: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(host="127.0.0.1", user=user, dbname="postgres",
                         autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, limit: float) -> None:
    """The example organisation, its integration under load unlimited, plus `LIMITED`."""
    from oncall.config.configset import Source
    from oncall.config.diagnostics import Position
    from oncall.config.loader import load
    from oncall.config.models import Integration, RateLimit
    from oncall.config.yamlsource import Document
    from oncall.db.engine import make_engine
    from oncall.db.migrate import upgrade_engine
    from oncall.reconcile.apply import Origin, apply_config

    engine = make_engine(url)
    upgrade_engine(engine)
    result = load(ROOT)
    assert result.ok
    config = result.config
    for name in (MAIN, GROUPED):
        config.objects[Integration.KIND][name] = config.integrations[name].model_copy(
            update={"rate_limit": RateLimit(per_second=1_000_000, burst=1_000_000),
                    "auth": "bearer"})
    config.add(Integration.model_validate({
        "kind": "Integration", "name": LIMITED, "type": "generic", "service": "checkout-api",
        "secret": "${env:SYNTHETICS_WEBHOOK_TOKEN}",
        "rate_limit": {"per_second": limit, "burst": int(limit)}}),
        Source(Document("bench", None, Position(1, 1))))
    apply_config(engine, config,
                 Origin(actor="bench", source=str(ROOT), revision=None, now=datetime.now(UTC)))
    engine.dispose()


def counts(url: str) -> tuple[int, int, int]:
    from sqlalchemy import text

    from oncall.db.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT (SELECT count(*) FROM alert_deliveries), (SELECT count(*) FROM alerts),"
            " (SELECT count(*) FROM incidents)")).one()
    engine.dispose()
    return int(row[0]), int(row[1]), int(row[2])


def run_oncall(args: argparse.Namespace, url: str) -> dict[str, Any]:
    port = free_port()
    # production shape: PostgreSQL for rows, Redis for the hand-off queue to workers
    env = {**os.environ, "SYNTHETICS_WEBHOOK_TOKEN": SECRET, "PROM_PROD_WEBHOOK_SECRET": SECRET,
           "DATADOG_WEBHOOK_SECRET": "x", "ONCALL_REDIS_URL": "redis://127.0.0.1:6379/11"}
    queue = redis.Redis.from_url(env["ONCALL_REDIS_URL"])
    queue.flushdb()  # no worker runs here: the hand-offs of earlier runs would pile up
    shape = [*(["--workers", str(args.workers)] if args.workers else []),
             *(["--threads", str(args.threads)] if args.threads else [])]
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/oncall"), "api", "--database-url", url, "--port", str(port),
         *shape], env=env,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/api/v1/openapi.json")
        warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
        generate(port, "oncall", warm, seed=1)
        meter = CpuMeter(server=tree(server.pid), postgres=named("postgres"),
                         redis=named("redis-server"))
        meter.start()
        main_load = start(port, "oncall", args, seed=2)
        limited = (start(port, "limited", args, seed=3, rate=args.limited_rate, connections=16)
                   if args.limited_rate else None)
        result = collect(main_load)
        if limited is not None:
            result["limited"] = collect(limited)
        result["cpu"] = meter.stop()
        result["steal"] = meter.steal
    finally:
        server.terminate()
        server.wait(timeout=20)
        queue.flushdb()
    result["stored"] = counts(url)
    return result


def run_alertmanager(args: argparse.Namespace) -> dict[str, Any] | None:
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        print("prometheus-alertmanager not installed: tests/api/install_alertmanager.sh",
              file=sys.stderr)
        return None
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "alertmanager.yml"
        config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={tmp}/data",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
             "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/-/ready")
            warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
            generate(port, "alertmanager", warm, seed=1)
            return generate(port, "alertmanager", args, seed=2)
        finally:
            process.terminate()
            process.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="alerts per second offered")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--window", type=float, default=5.0,
                        help="seconds per window of the per-window p99 (a slow start shows"
                             " apart from the steady state)")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds of load before measuring (fresh processes and database)")
    parser.add_argument("--workers", type=int, default=0,
                        help="`oncall api --workers` (default: its own default)")
    parser.add_argument("--threads", type=int, default=0,
                        help="`oncall api --threads` (default: its own default)")
    parser.add_argument("--new-share", type=float, default=0.1,
                        help="share of alerts that open a new group (default 0.1)")
    parser.add_argument("--batch", type=int, default=0, metavar="N",
                        help=f"post Alertmanager webhooks of N alerts each to {GROUPED} "
                             "instead of single generic alerts (--rate still counts alerts)")
    parser.add_argument("--limited-rate", type=float, default=0.0,
                        help=f"also drive {LIMITED} at this rate (alerts a second)")
    parser.add_argument("--limit", type=float, default=100.0,
                        help=f"{LIMITED}'s rate limit (alerts a second, burst as many)")
    args = parser.parse_args()

    url, user = scratch_database()
    try:
        prepare(url, args.limit)
        ours = run_oncall(args, url)
    finally:
        drop_database(url, user)
    theirs = run_alertmanager(args)

    def line(name: str, r: dict[str, Any]) -> str:
        return (f"{name:<13} offered {args.rate:>6.0f}/s  achieved {r['rate']:>7.1f}/s  "
                f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
                f"max {r['max_ms']:7.1f} ms  statuses {r['statuses']}")

    shape = (f"Alertmanager groups of {args.batch}" if args.batch
             else "single generic alerts")
    print(f"{int(args.rate * args.seconds)} alerts over {args.seconds:.0f} s ({shape}), "
          f"{args.new_share:.0%} new groups, {args.connections} connections, "
          f"{args.workers or api_commands.default_workers(api_commands.usable_cores())} "
          f"workers x {args.threads or api_commands.DEFAULT_THREADS} threads")
    print(line("oncall", ours))
    deliveries, alerts, incidents = ours["stored"]
    print(f"{'':<13} stored: {deliveries} deliveries, {alerts} alerts, {incidents} incidents")
    print(f"{'':<13} p99 per {args.window:g} s window: "
          + " ".join(f"{p:.0f}" for p in ours["window_p99_ms"]) + " ms")
    print(f"{'':<13} p99 by kind: "
          + ", ".join(f"{kind} {p:.0f} ms" for kind, p in ours["kind_p99_ms"].items()))
    per_k = 1000 / ours["alerts"]
    cpu = {**ours["cpu"], "generator": ours["generator_cpu"]}
    print(f"{'':<13} CPU ms per alert: "
          + ", ".join(f"{name} {1000 * seconds * per_k / 1000:.2f}"
                      for name, seconds in cpu.items())
          + f" (machine busy {100 * sum(cpu.values()) / ours['elapsed'] / CORES:.0f}%"
          f" of {CORES} cores; hypervisor steal {ours['steal']:.0%})")
    if "limited" in ours:
        lim = ours["limited"]
        accepted = lim["statuses"].get(202, 0)
        print(f"{LIMITED:<13} offered {args.limited_rate:>6.0f}/s, limit {args.limit:g}/s: "
              f"statuses {lim['statuses']}, accepted {accepted / lim['elapsed']:.1f}/s, "
              f"p99 {lim['p99_ms']:.1f} ms")
    if theirs is not None:
        print(line("alertmanager", theirs))
        print(f"ratio oncall/alertmanager (achieved rate): {ours['rate'] / theirs['rate']:.2f}")
    return 0


if __name__ == "__main__":
    with cpu_reference():
        code = main()
    raise SystemExit(code)
