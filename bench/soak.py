"""Soak: a long steady load on the production layout, to see what only time shows.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 200] [--new 20] [--hold 120]
        [--api 2] [--workers 2]

PostgreSQL + Redis (a scratch database and Redis db 12), `oncall api --workers <api>` and
`<workers>` × `oncall worker` as separate processes, the local Slack peer. Every second the
generator posts `--rate` alerts to a generic integration: `--new` of them open a new incident
(each pages the on-call person by Slack DM and posts to the service's channel), as many resolve
an incident opened `--hold` seconds before, the rest repeat an open one.

Reported, per 5-minute window: ingest p99 (from the scheduled send to the 202) and first-page
p99 (from the 202 of an incident's first alert to the peer receiving its first message);
resident memory of every API and worker process at the end of the first 5 minutes and at the
end, and the growth between. Checked at the end: every incident paged, each of its messages
posted once (one DM, one channel post), every outbox row sent at most once. Targets: memory of
each process grows less than 10% after the first 5 minutes; p99s stable from window to window.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cputime import cpu_reference
from ingest import http_request
from loadgen import Load, Plan
from paging import SECRET, percentile, running_stack
from sqlalchemy import text

from oncall.db.engine import make_engine
from oncall.testing.peers import SlackPeer

WINDOW = 300.0
"""Seconds per reported window; the first is the warm-up memory is measured after."""
SAMPLE_EVERY = 10.0
PATH = "/api/v1/integrations/hooks/alerts"
CONNECTIONS = 64


def rss_kib(pid: int) -> int:
    """Resident memory of a live process (VmRSS, KiB); 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_processes(pid: int) -> list[int]:
    """uvicorn's worker processes under `pid` (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def plan(rate: int, new: int, hold: float, seconds: float) -> Plan:
    """Every request of the run: (offset in seconds, the HTTP request, the incident marker it
    opens or None). Each second `new` alerts open an incident, as many resolve one opened
    `hold` seconds before, and the rest repeat an open one."""
    rng = random.Random(7)
    auth = {"Authorization": f"Bearer {SECRET}"}
    requests: Plan = []
    open_keys: list[str] = []
    opened_at: list[tuple[float, str]] = []
    serial = 0
    for second in range(int(seconds)):
        now = float(second)
        bodies: list[tuple[dict[str, Any], str | None]] = []
        for _ in range(new):
            marker = f"soak-{serial:07d}"
            serial += 1
            open_keys.append(marker)
            opened_at.append((now, marker))
            bodies.append(({"summary": f"{marker} error rate high", "severity": "critical",
                            "dedup_key": marker}, marker))
        resolves = 0
        while opened_at and opened_at[0][0] <= now - hold and resolves < new:
            _at, key = opened_at.pop(0)
            open_keys.remove(key)
            bodies.append(({"event_action": "resolve", "dedup_key": key}, None))
            resolves += 1
        for _ in range(max(0, rate - len(bodies))):
            key = rng.choice(open_keys)
            bodies.append(({"summary": f"{key} error rate high", "severity": "critical",
                            "dedup_key": key}, None))
        requests.extend((now + n / rate, http_request(PATH, json.dumps(body).encode(), auth),
                         opens) for n, (body, opens) in enumerate(bodies))
    return requests


def first_pages(slack: SlackPeer, seen: int, first: dict[str, float],
                posts: Counter[tuple[str, str]]) -> int:
    """Fold the peer's new requests into each incident's first message and its posts."""
    requests = slack.requests
    for request in requests[seen:]:
        if request.path != "/api/chat.postMessage":
            continue
        params = request.params()
        message = str(params.get("text", ""))
        i = message.find("soak-")
        if i >= 0:
            marker = message[i:i + 12]
            first[marker] = min(first.get(marker, request.received_at), request.received_at)
            posts[(marker, str(params.get("channel", "")))] += 1
    return len(requests)


def window_p99s(points: list[tuple[float, float]]) -> list[float]:
    windows: dict[int, list[float]] = {}
    for offset, value in points:
        windows.setdefault(int(offset // WINDOW), []).append(value)
    return [percentile(values, 0.99) for _n, values in sorted(windows.items())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=200, help="alerts a second")
    parser.add_argument("--new", type=int, default=20, help="new incidents a second")
    parser.add_argument("--hold", type=float, default=120.0,
                        help="seconds an incident stays open before its alert resolves")
    parser.add_argument("--api", type=int, default=2, help="`oncall api` processes")
    parser.add_argument("--workers", type=int, default=2, help="`oncall worker` processes")
    args = parser.parse_args()
    seconds = args.minutes * 60
    users = {"alice@example.com": "UALICE", "bob@example.com": "UBOB"}
    with (SlackPeer(users=users) as slack,
          running_stack("production", args.workers, 4, slack.env(),
                        api_args=("--workers", str(args.api))) as stack):
        api_parent, *workers = (p.pid for p in stack.procs.procs)
        processes = {f"api-{n}": pid for n, pid in enumerate(sorted(server_processes(api_parent)))}
        processes.update({f"worker-{n}": pid for n, pid in enumerate(workers)})
        memory: dict[str, list[tuple[float, int]]] = {name: [] for name in processes}
        generator = Load(urlsplit(stack.api).port or 80, plan,
                         (args.rate, args.new, args.hold, seconds), CONNECTIONS)
        started = time.monotonic()
        first: dict[str, float] = {}
        posts: Counter[tuple[str, str]] = Counter()
        seen = 0
        while (load := generator.poll(SAMPLE_EVERY)) is None:
            at = time.monotonic() - started
            for name, pid in processes.items():
                memory[name].append((at, rss_kib(pid)))
            seen = first_pages(slack, seen, first, posts)
        lasted = time.monotonic() - started
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(first) < len(load["accepted"]):
            time.sleep(1)
            seen = first_pages(slack, seen, first, posts)
        time.sleep(5)
        seen = first_pages(slack, seen, first, posts)
        engine = make_engine(stack.backend.database_url)
        with engine.connect() as conn:
            twice = conn.scalar(text(
                "SELECT count(*) FROM (SELECT notification_id FROM delivery_attempts "
                "WHERE outcome = 'sent' GROUP BY notification_id HAVING count(*) > 1) t"))
            unsent = conn.scalar(text(
                "SELECT count(*) FROM notifications WHERE kind IN ('page', 'channel') "
                "AND status <> 'sent'"))
            autovacuum = conn.scalar(text("SHOW autovacuum"))
        engine.dispose()

    statuses = Counter(status for _o, _l, status in load["sent"])
    ingest = window_p99s([(offset, latency) for offset, latency, _s in load["sent"]])
    start_of = dict(load["accepted"])
    paged = sum(1 for marker in start_of if marker in first)
    markers = sorted(start_of)  # in the order they were opened, `--new` a second
    per_window = max(1, int(args.new * WINDOW))
    page_windows = [
        percentile([first[m] - start_of[m] for m in markers[i:i + per_window] if m in first],
                   0.99)
        for i in range(0, len(markers), per_window)
        if any(m in first for m in markers[i:i + per_window])
    ]
    doubled = sum(1 for count in posts.values() if count > 1)
    print(f"{args.minutes:g} min at {args.rate}/s ({args.new} new incidents/s, resolved after "
          f"{args.hold:g} s), {args.api} API and {args.workers} worker processes; "
          f"PostgreSQL autovacuum {autovacuum}")
    sent = len(load["sent"])
    print(f"answers: {dict(statuses)}; {sent} requests in {lasted:.0f} s "
          f"({sent / lasted:.0f}/s; the generator's CPU {load['generator_cpu']:.0f} s)")
    print("ingest p99 per 5 min: " + " ".join(f"{1000 * p:.0f}" for p in ingest) + " ms")
    print("first page p99 per 5 min: " + " ".join(f"{1000 * p:.0f}" for p in page_windows)
          + " ms")
    print(f"incidents paged: {paged}/{len(start_of)}; messages posted twice: {doubled}; "
          f"outbox rows sent twice: {twice}; pages and posts not sent: {unsent}")
    for name, samples in memory.items():
        warm = next((kib for at, kib in samples if at >= WINDOW), samples[0][1] if samples else 0)
        end = samples[-1][1] if samples else 0
        growth = 100 * (end - warm) / warm if warm else float("nan")
        print(f"{name}: RSS {warm / 1024:.0f} MiB after 5 min, {end / 1024:.0f} MiB at the end "
              f"({growth:+.1f}%)")
    return 0


if __name__ == "__main__":
    with cpu_reference():
        code = main()
    raise SystemExit(code)
