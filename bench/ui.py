"""Web app speed on PostgreSQL with 10,000 incidents: first page interactive, live update,
the dependency graph of 200 services, a 500-event timeline.

Creates a scratch PostgreSQL database, migrates it, applies the example organisation with
`--services` more services joined by `--edges` dependencies, inserts N incidents (10% open) and
one incident with `--events` timeline events, starts the app with `reflex run --env prod`
(Redis state manager on) and drives Debian's Chromium with Playwright, signed in with a
break-glass account:

- first page interactive: from navigation start of a fresh load of `/` to the first incident's
  Acknowledge button being visible and enabled (page hydrated, websocket connected, the first
  page of incidents loaded by the server);
- live update: with the dashboard open, from posting an alert to the ingest API to its incident
  card appearing, without reload;
- dependency graph: from navigation start of `/services` to the laid-out graph (an SVG with a
  node per service) visible;
- timeline: from navigation start of the seeded incident's page to all its timeline entries
  drawn.

    .venv/bin/python bench/ui.py --incidents 10000 --services 200 --edges 400 --events 500 --runs 20
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cputime import cpu_reference  # noqa: E402

from oncall.config.loader import load  # noqa: E402
from oncall.db.engine import make_engine, write_session  # noqa: E402
from oncall.db.migrate import upgrade_engine  # noqa: E402
from oncall.db.models import AuditEventRow, IncidentRow, ServiceRow  # noqa: E402
from oncall.reconcile.apply import Origin, apply_config  # noqa: E402
from oncall.web.auth import create_local_account  # noqa: E402

ADMIN, PASSWORD = "lena.fischer@northwind.example", "benchmark break glass"
TOKEN = "bench-token"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def scratch_database(user: str) -> tuple[str, str]:
    name = f"oncall_bench_ui_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host="127.0.0.1", user=user, dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}"


def drop_database(user: str, name: str) -> None:
    with psycopg.connect(host="127.0.0.1", user=user, dbname="postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


TEAMS = ("payments", "platform", "data", "storefront")
"""The example organisation's teams; each has an escalation policy of its own name."""


def graph_config(services: int, edges: int, into: Path) -> Path:
    """The example organisation in `into`, plus `services` services of its teams joined by
    `edges` dependencies, each on a service made before it (so there is no cycle)."""
    for part in ("rules", "schedules", "workflows"):
        shutil.copytree(ROOT / part, into / part)
    pick = random.Random(7)
    wanted = {(n, pick.randrange(n)) for n in range(1, services) for _ in range(3)}
    pairs = sorted(wanted)[:edges] if len(wanted) >= edges else sorted(wanted)
    needs: dict[int, list[int]] = {}
    for a, b in pairs:
        needs.setdefault(a, []).append(b)
    docs = []
    for n in range(services):
        team = TEAMS[n % len(TEAMS)]
        depends = ", ".join(f"bench-svc-{m:03d}" for m in needs.get(n, []))
        docs.append(
            f"kind: Service\nname: bench-svc-{n:03d}\ndescription: Benchmark service {n}\n"
            f"team: {team}\nescalation_policy: {team}\ndepends_on: [{depends}]\n"
        )
    (into / "rules" / "bench-graph.yaml").write_text("---\n".join(docs))
    return into


def seed(url: str, incidents: int, config_dir: Path, events: int) -> int:
    """The database, with `incidents` incidents and one more whose timeline has `events`
    entries; returns that one's id."""
    engine = make_engine(url)
    upgrade_engine(engine)
    result = load(config_dir)
    assert result.ok, result
    now = datetime.now(UTC)
    apply_config(
        engine, result.config, Origin(actor="bench", source=str(ROOT), revision=None, now=now)
    )
    with write_session(engine) as session:
        create_local_account(session, ADMIN, PASSWORD, now)
        services = list(session.scalars(select(ServiceRow.id)))
        rows = []
        for n in range(incidents):
            at = now - timedelta(minutes=incidents - n)
            status = "triggered" if n % 10 == 0 else "resolved"
            rows.append(
                {
                    "title": f"Seeded incident {n}",
                    "status": status,
                    "priority": f"P{n % 5 + 1}",
                    "urgency": "high",
                    "service_id": services[n % len(services)],
                    "group_key": f"seed-{n}",
                    "labels": {"seed": str(n)},
                    "alert_count": 1,
                    "triggered_at": at,
                    "last_alert_at": at,
                    "updated_at": at,
                    "resolved_at": at if status == "resolved" else None,
                }
            )
        session.execute(insert(IncidentRow), rows)
        story = IncidentRow(
            title="Seeded long story", status="triggered", priority="P2", urgency="high",
            service_id=services[0], group_key="seed-story", labels={}, alert_count=events,
            triggered_at=now - timedelta(hours=2), last_alert_at=now, updated_at=now,
        )
        session.add(story)
        session.flush()
        kinds = ["incident.alert", "incident.note", "incident.escalated",
                 "incident.priority_changed"]
        session.execute(
            insert(AuditEventRow),
            [
                {
                    "at": now - timedelta(hours=2) + timedelta(seconds=10 * n),
                    "actor": "system:oncall" if n % 4 != 1 else f"user:{ADMIN}",
                    "type": kinds[n % 4],
                    "incident_id": story.id,
                    "data": {"summary": f"Repeat {n} of the long story", "text": f"Note {n}",
                             "step": n % 3, "priority": "P2", "previous": "P3"},
                }
                for n in range(events)
            ],
        )
        story_id = story.id
    engine.dispose()
    return story_id


def start_app(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ONCALL_DATABASE_URL": url,
        "ONCALL_REDIS_URL": "redis://127.0.0.1:6379/8",
        "SYNTHETICS_WEBHOOK_TOKEN": TOKEN,
        "REFLEX_BUN_PATH": str(ROOT / "tools" / "node_modules" / ".bin" / "bun"),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
    }
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "reflex"),
            "run",
            "--env",
            "prod",
            "--frontend-port",
            str(port),
            "--backend-port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"the app did not start; see {log}")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def report(name: str, values: list[float], target: float) -> None:
    print(
        f"{name}: median {statistics.median(values):.3f} s, p95 {p95(values):.3f} s, "
        f"min {min(values):.3f} s, max {max(values):.3f} s over {len(values)} runs "
        f"(target {target} s: {'met' if p95(values) < target else 'MISSED'})"
    )


def measure(base: str, runs: int, services: int, story: int, events: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{base}/auth/local")
        page.fill("#email", ADMIN)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector(".incident-card .ack-button", timeout=60_000)

        first_page: list[float] = []
        for _ in range(runs + 1):
            fresh = context.new_page()
            fresh.goto(f"{base}/", wait_until="commit")
            fresh.wait_for_selector(".incident-card .ack-button:enabled", timeout=30_000)
            elapsed = fresh.evaluate("performance.now()") / 1000
            first_page.append(elapsed)
            fresh.close()
        report("first page interactive", first_page[1:], 1.5)  # the first load warms caches

        live: list[float] = []
        page.goto(f"{base}/")
        page.wait_for_selector("#live-badge")
        for n in range(runs):
            title = f"Bench live {uuid.uuid4().hex[:8]} {n}"
            started = time.perf_counter()
            response = httpx.post(
                f"{base}/api/v1/integrations/synthetic-checks/alerts",
                json={"summary": title, "dedup_key": title},
                timeout=10,
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            response.raise_for_status()
            page.locator(".incident-card", has_text=title).wait_for(timeout=30_000)
            live.append(time.perf_counter() - started)
        report("alert to open dashboard", live, 2.0)

        graph: list[float] = []
        for _ in range(runs + 1):
            fresh = context.new_page()
            fresh.goto(f"{base}/services", wait_until="commit")
            fresh.wait_for_function(
                "n => document.querySelectorAll('#dependency-graph svg g.node').length >= n",
                arg=services, timeout=30_000,
            )
            graph.append(fresh.evaluate("performance.now()") / 1000)
            fresh.close()
        report(f"dependency graph of {services}+ services drawn", graph[1:], 1.0)

        timeline: list[float] = []
        for _ in range(runs + 1):
            fresh = context.new_page()
            fresh.goto(f"{base}/incidents/{story}", wait_until="commit")
            fresh.wait_for_function(
                "n => document.querySelectorAll('#timeline .timeline-entry').length >= n",
                arg=events, timeout=30_000,
            )
            timeline.append(fresh.evaluate("performance.now()") / 1000)
            fresh.close()
        report(f"timeline of {events} events drawn", timeline[1:], 1.0)
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--edges", type=int, default=400)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pg-user", default=os.environ.get("PGUSER", "root"))
    args = parser.parse_args()
    name, url = scratch_database(args.pg_user)
    process = None
    try:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as scratch:
            config_dir = graph_config(args.services, args.edges, Path(scratch))
            story = seed(url, args.incidents, config_dir, args.events)
        print(f"seeded {args.incidents} incidents, {args.services} more services and a "
              f"{args.events}-event timeline in {time.perf_counter() - started:.1f} s")
        port = free_port()
        log = ROOT / "test-output" / "bench-ui-app.log"
        log.parent.mkdir(exist_ok=True)
        process = start_app(url, port, log)
        measure(f"http://127.0.0.1:{port}", args.runs, args.services, story, args.events)
    finally:
        if process is not None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        drop_database(args.pg_user, name)
    return 0


if __name__ == "__main__":
    with cpu_reference():
        code = main()
    raise SystemExit(code)
