"""Paging benchmark: how fast the first page goes out, and how late escalation steps run.

    .venv/bin/python bench/paging.py [--backend embedded|production|both]
        [--rate 50] [--seconds 60] [--timers 10000] [--window 60]

1. Ingest to first provider request: alerts are posted to a running `oncall api` at `--rate`
   per second for `--seconds` (each a new incident); a running `oncall worker` pages through
   the local Slack peer. Latency is from the 202 reaching the sender to the peer receiving the
   incident's first Slack message. Target: p99 under 1 s.
2. Escalation lateness: `--timers` pending escalation timers with due times spread evenly over
   the next `--timers / 50` seconds (50 fall due per second), queued as the worker itself
   queues them; lateness is from due time to the step having run, over the steps that fall due
   in the first `--window` seconds. Target: p99 under 1 s.

Backends: `embedded` is SQLite + Huey's SQLite queue; `production` is PostgreSQL + Redis
(127.0.0.1), in a scratch database and Redis db 12 that are created and cleaned up.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import redis
from cputime import CpuMeter, cpu_reference, named, settle, tree
from ingest import http_request
from loadgen import Load, Plan
from sqlalchemy import Engine, func, insert, select

from oncall.db.engine import make_engine, write_session
from oncall.db.models import EscalationTimerRow, IncidentRow, NotificationRow, ServiceRow
from oncall.settings import Settings
from oncall.testing.peers import SlackPeer
from oncall.testing.peers.tls import certificates
from oncall.worker.queue import tasks_for

ONCALL = str(Path(sys.executable).with_name("oncall"))
SECRET = "bench-hook-secret"
PATH = "/api/v1/integrations/hooks/alerts"
CONNECTIONS = 32
CORES = os.cpu_count() or 1
CONFIG = {
    "rules/team.yaml": """\
kind: Team
name: ops
members:
  - {email: alice@example.com, role: responder}
  - {email: bob@example.com, role: responder}
---
kind: EscalationPolicy
name: ops
steps:
  - {targets: ["schedule:ops-primary"], timeout: 1h}
  - {targets: ["user:bob@example.com"], timeout: 1h}
---
kind: Service
name: api
team: ops
escalation_policy: ops
slack_channel: "#bench"
---
kind: Integration
name: hooks
type: generic
service: api
secret: ${env:HOOK_SECRET}
rate_limit: {per_second: 1000000, burst: 1000000}  # the bench measures paging, not the limit
""",
    "schedules/ops.yaml": """\
kind: Schedule
name: ops-primary
team: ops
timezone: UTC
layers:
  - name: alice
    members: [alice@example.com]
    rotation: {every: 1w, start: 2026-01-05T00:00}
""",
    "workflows/.keep": "",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Backend:
    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        self.pg_name: str | None = None
        if kind == "embedded":
            self.database_url = f"sqlite:///{root / 'oncall.db'}"
            self.redis_url: str | None = None
        else:
            self.pg_name = f"bench_paging_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(host="127.0.0.1", dbname="postgres", user=getpass.getuser(),
                                 autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.pg_name}"')
            self.database_url = (
                f"postgresql+psycopg://{getpass.getuser()}@127.0.0.1:5432/{self.pg_name}"
            )
            self.redis_url = "redis://127.0.0.1:6379/12"
            redis.Redis.from_url(self.redis_url).flushdb()

    def drop(self) -> None:
        if self.pg_name:
            with psycopg.connect(host="127.0.0.1", dbname="postgres", user=getpass.getuser(),
                                 autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
        if self.redis_url:
            redis.Redis.from_url(self.redis_url).flushdb()


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def run(self, *args: str) -> None:
        subprocess.run([ONCALL, *args], env=self.env, check=True, capture_output=True)

    def start(self, name: str, *args: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115
        self.procs.append(subprocess.Popen([ONCALL, *args], env=self.env, stdout=log,
                                           stderr=log))

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs.clear()


def new_alerts(rate: float, seconds: float, prefix: str) -> Plan:
    """`rate * seconds` alerts at `rate` per second, each a new incident whose summary starts
    with its marker (`<prefix>-NNNNNN`, 12 characters)."""
    auth = {"Authorization": f"Bearer {SECRET}"}
    plan: Plan = []
    for n in range(int(rate * seconds)):
        marker = f"{prefix}-{n:06d}"
        body = {"summary": f"{marker} error rate high", "severity": "critical",
                "dedup_key": marker, "labels": {"n": str(n)}}
        plan.append((n / rate, http_request(PATH, json.dumps(body).encode(), auth), marker))
    return plan


def post_alerts(api: str, rate: float, seconds: float, prefix: str = "bench"
                ) -> tuple[dict[str, float], int, float]:
    """Post new alerts at `rate` per second from a generator process; when each one's 202
    reached the sender (wall clock, by marker), how many were not 202, and the generator's
    CPU seconds."""
    load = Load(urlsplit(api).port or 80, new_alerts, (rate, seconds, prefix), CONNECTIONS)
    result = load.wait()
    errors = sum(1 for _o, _l, status in result["sent"] if status != 202)
    return result["accepted"], errors, result["generator_cpu"]


def peer_env(slack: SlackPeer) -> dict[str, str]:
    """The Slack peer's settings, and over HTTPS the workers' trust in its throwaway CA."""
    env = slack.env()
    if slack.url.startswith("https:"):
        env["SSL_CERT_FILE"] = str(certificates().ca_file)
    return env


def first_pages(slack: SlackPeer, accepted: dict[str, float], wait: float = 60,
                prefix: str = "bench") -> dict[str, float]:
    """When the Slack peer received each alert's first message, waiting up to `wait` seconds
    for every accepted alert to be paged."""
    deadline = time.monotonic() + wait
    first: dict[str, float] = {}
    seen = 0
    while time.monotonic() < deadline:
        requests = slack.requests
        for request in requests[seen:]:  # each request is parsed once
            if request.path != "/api/chat.postMessage":
                continue
            text = str(request.params().get("text", ""))
            i = text.find(f"{prefix}-")
            if i >= 0:
                alert = text[i : i + 12]
                first[alert] = min(first.get(alert, request.received_at), request.received_at)
        seen = len(requests)
        if len(first) >= len(accepted):
            break
        time.sleep(0.5)
    return first


WINDOW = 5.0
"""Seconds per window of the first page's p99 by window: a slow start or a backlog building
shows apart from the steady state."""


def first_page_latency(api: str, slack: SlackPeer, rate: float, seconds: float
                       ) -> dict[str, Any]:
    accepted, errors, generator_cpu = post_alerts(api, rate, seconds)
    first = first_pages(slack, accepted)
    latencies = [first[a] - t for a, t in accepted.items() if a in first]
    start = min(accepted.values(), default=0.0)
    windows: dict[int, list[float]] = {}
    for alert, at in accepted.items():
        if alert in first:
            windows.setdefault(int((at - start) // WINDOW), []).append(first[alert] - at)
    paged_at = [first[a] for a in accepted if a in first]
    span = max(paged_at, default=start) - start
    return {
        "sent": int(rate * seconds), "accepted": len(accepted), "errors": errors,
        "paged": len(latencies),
        # incidents paged per second, from the first alert accepted to the last page: the offered
        # rate while the stack keeps up, what it can sustain when it does not
        "pages_per_s": round(len(paged_at) / span, 1) if span > 0 else float("nan"),
        "p50": percentile(latencies, 0.50) if latencies else float("nan"),
        "p99": percentile(latencies, 0.99) if latencies else float("nan"),
        "max": max(latencies) if latencies else float("nan"),
        "p99_per_window_ms": [round(1000 * percentile(values, 0.99))
                              for _n, values in sorted(windows.items())],
        "generator_cpu": generator_cpu,
    }


def wait_quiet(engine: Engine, within: float = 120) -> None:
    """Until no page or message is due and unsent: a measurement starts from an idle worker."""
    for _ in range(int(within)):
        with engine.connect() as conn:
            busy = conn.scalar(
                select(func.count()).select_from(NotificationRow).where(
                    NotificationRow.status.in_(("pending", "sending")),
                    NotificationRow.next_attempt_at <= datetime.now(UTC),
                )
            )
        if not busy:
            return
        time.sleep(1)


def escalation_lateness(database_url: str, redis_url: str | None, timers: int,
                        window: float) -> dict[str, float]:
    engine = make_engine(database_url)
    settings = Settings(database_url=database_url, redis_url=redis_url)
    wait_quiet(engine)  # nothing left over from the paging run
    tasks = tasks_for(settings)
    per_second = 50.0
    now = datetime.now(UTC)
    start = now + timedelta(seconds=5)
    with write_session(engine) as session:
        conn = session.connection()
        service_id = conn.scalar(select(ServiceRow.id).where(ServiceRow.name == "api"))
        rows: list[dict[str, Any]] = [
            {"title": f"lateness-{n}", "status": "triggered", "priority": "P3",
             "urgency": "high", "service_id": service_id, "group_key": f"late-{n}",
             "labels": {}, "escalation_policy_name": "ops", "escalation_generation": 0,
             "escalation_cycle": 0, "escalation_step": 0, "version": 0, "alert_count": 1,
             "triggered_at": now, "updated_at": now}
            for n in range(timers)
        ]
        ids = []
        for chunk in range(0, len(rows), 500):
            ids += list(conn.scalars(insert(IncidentRow).returning(IncidentRow.id),
                                     rows[chunk : chunk + 500]))
        dues = [start + timedelta(seconds=n / per_second) for n in range(timers)]
        timer_rows = [
            {"incident_id": i, "generation": 0, "cycle": 0, "step": 1, "due_at": due,
             "status": "pending", "attempts": 0, "created_at": now}
            for i, due in zip(ids, dues, strict=True)
        ]
        timer_ids = []
        for chunk in range(0, len(timer_rows), 500):
            timer_ids += list(conn.scalars(
                insert(EscalationTimerRow).returning(EscalationTimerRow.id),
                timer_rows[chunk : chunk + 500],
            ))
    for timer_id, due in zip(timer_ids, dues, strict=True):
        tasks.timer_due(timer_id, due)  # as the worker queues the next step of an incident
    end = start + timedelta(seconds=window)
    while datetime.now(UTC) < end + timedelta(seconds=5):
        time.sleep(1)
    with engine.connect() as conn:
        done = conn.execute(
            select(EscalationTimerRow.due_at, EscalationTimerRow.done_at).where(
                EscalationTimerRow.due_at < end, EscalationTimerRow.step == 1
            )
        ).all()
    engine.dispose()
    late = [(d.done_at - d.due_at).total_seconds() for d in done if d.done_at is not None]
    return {
        "pending": timers, "measured": len(done), "ran": len(late),
        "p50": percentile(late, 0.5) if late else float("nan"),
        "p99": percentile(late, 0.99) if late else float("nan"),
        "max": max(late) if late else float("nan"),
    }


@dataclass
class Stack:
    kind: str
    root: Path
    """Scratch directory: the config under `config/`, the processes' logs (`api.log`,
    `worker-N.log`)."""
    backend: Backend
    procs: Processes
    api: str
    """Base URL of the running `oncall api`."""


@contextmanager
def running_stack(kind: str, workers: int, threads: int, env: dict[str, str],
                  config: dict[str, str] = CONFIG, api_args: tuple[str, ...] = ()
                  ) -> Iterator[Stack]:
    """A scratch backend with `config` applied, `oncall api [api_args]` and `workers` ×
    `oncall worker --threads N` running with `env` (e.g. the peers' settings) added;
    processes, scratch database, Redis db and directory are cleaned up on leaving, also on an
    exception."""
    root = Path(tempfile.mkdtemp(prefix=f"bench-paging-{kind}-"))
    backend = Backend(kind, root)
    procs: Processes | None = None
    try:
        for rel, text in config.items():
            path = root / "config" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("ONCALL_")},
                    "ONCALL_DATABASE_URL": backend.database_url, "HOOK_SECRET": SECRET,
                    "ONCALL_LOG_LEVEL": "WARNING", **env}
        if backend.redis_url:
            full_env["ONCALL_REDIS_URL"] = backend.redis_url
        procs = Processes(full_env, root)
        procs.run("db", "upgrade")
        procs.run("apply", str(root / "config"))
        port = free_port()
        procs.start("api", "api", "--port", str(port), *api_args)
        for n in range(workers):
            procs.start(f"worker-{n}", "worker", "--threads", str(threads))
        api = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{api}/api/v1/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        settle(*(p.pid for p in procs.procs))
        yield Stack(kind, root, backend, procs, api)
    finally:
        if procs is not None:
            procs.stop()
        backend.drop()
        shutil.rmtree(root, ignore_errors=True)


def run(kind: str, args: argparse.Namespace) -> None:
    with (SlackPeer(users={"alice@example.com": "UALICE", "bob@example.com": "UBOB"},
                    tls=args.provider_tls) as slack,
          running_stack(kind, args.workers, args.threads, peer_env(slack)) as stack):
        slack.slow(args.provider_latency)
        if args.warmup:
            warm, _errors, _cpu = post_alerts(stack.api, args.rate, args.warmup, "warmp")
            first_pages(slack, warm, prefix="warmp")
            engine = make_engine(stack.backend.database_url)
            wait_quiet(engine)
            engine.dispose()
        api_pid, *worker_pids = (p.pid for p in stack.procs.procs)
        meter = CpuMeter(api=tree(api_pid), workers=lambda procs: [
            pid for root in worker_pids for pid in tree(root)(procs)],
            postgres=named("postgres"), redis=named("redis-server"), bench=tree(os.getpid()))
        meter.start()
        started = time.monotonic()
        paging = first_page_latency(stack.api, slack, args.rate, args.seconds)
        cpu = meter.stop()
        elapsed = time.monotonic() - started
        cpu["bench"] -= cpu["api"] + cpu["workers"]  # the api and workers are its children
        cpu["bench"] += paging["generator_cpu"]
        incidents = max(1, paging["accepted"])
        print(f"{kind}: CPU per incident " + ", ".join(
            f"{name} {1000 * seconds / incidents:.2f} ms" for name, seconds in cpu.items())
            + f"; machine busy {100 * sum(cpu.values()) / elapsed / CORES:.0f}%"
            f", steal {100 * meter.steal:.0f}%", flush=True)
        print(f"{kind}: ingest accepted -> first Slack request, {args.rate:g} alerts/s for "
              f"{args.seconds:g} s: {paging}", flush=True)
        lateness = escalation_lateness(stack.backend.database_url, stack.backend.redis_url,
                                       args.timers, args.window)
        print(f"{kind}: escalation lateness with {args.timers} pending timers: {lateness}",
              flush=True)
        stack.procs.stop()
        rows = [
            f"| {kind} | first page p50 | {paging['p50'] * 1000:.0f} ms |",
            f"| {kind} | first page p99 | {paging['p99'] * 1000:.0f} ms |",
            f"| {kind} | pages delivered | {paging['paged']}/{paging['accepted']} |",
            f"| {kind} | incidents paged per second | {paging['pages_per_s']} |",
            f"| {kind} | lateness p50 | {lateness['p50'] * 1000:.0f} ms |",
            f"| {kind} | lateness p99 | {lateness['p99'] * 1000:.0f} ms |",
            f"| {kind} | steps run on time window | {lateness['ran']}/{lateness['measured']} |",
        ]
        print("\n".join(rows), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["embedded", "production", "both"], default="both")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds of the same load before the measured run, not measured")
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1, help="`oncall worker` processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--provider-latency", type=float, default=0.0, metavar="SECONDS",
                        help="the Slack peer answers each call this long after it arrived, as "
                             "Slack across the internet does (0.1-0.3 s); default 0")
    parser.add_argument("--provider-tls", action="store_true",
                        help="the Slack peer speaks HTTPS, as Slack does (the workers trust "
                             "its throwaway CA)")
    args = parser.parse_args()
    for kind in (["embedded", "production"] if args.backend == "both" else [args.backend]):
        run(kind, args)


if __name__ == "__main__":
    with cpu_reference():
        main()
