"""Workflow benchmark: how fast workflow webhooks fire, and the first page beside them.

    .venv/bin/python bench/workflows.py [--backend embedded|production|both]
        [--rate 50] [--seconds 60] [--workers N] [--threads N] [--wait 60] [--keep-logs DIR]

The stack of `bench/paging.py` (a running `oncall api` and `oncall worker` processes on a
scratch backend, the local Slack peer) with three more config documents: Workflows `wf1`,
`wf2`, `wf3`, each `on: [incident.triggered]` with one `webhook` step POSTing to
`${env:BENCH_HOOKS_URL}/wf<n>` (the local webhook peer) a JSON body with the incident's title,
which carries the alert's `bench-NNNNNN` marker. Alerts are posted at `--rate` per second for
`--seconds` (each a new incident, so 3 workflow runs per alert).

1. Webhook latency: from the 202 reaching the sender to the webhook peer receiving each of the
   alert's 3 workflow calls (p50/p95/p99/max over all 3 × N calls); every workflow must call
   exactly once per incident, so calls received, missing and duplicated are counted.
   Target: p99 under 1 s.
2. First-page latency, as in `bench/paging.py`: from the 202 to the Slack peer receiving the
   incident's first message, now with the workflows running beside the pages. Target: p99
   under 1 s.

After the last alert the script waits up to `--wait` seconds (one deadline for pages and
calls) and then `--settle` seconds more for late duplicates; a page or call not received by
then counts as infinitely late ("not received") in the percentiles.

Backends: `embedded` is SQLite + Huey's SQLite queue (default 1 worker × 4 threads);
`production` is PostgreSQL + Redis (127.0.0.1) in a scratch database and Redis db 12
(default 2 workers × 2 threads, the layout the operations guide recommends). Scratch
databases, Redis db, processes and directories are cleaned up on exit, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import time
from collections import Counter
from pathlib import Path
from types import FrameType

from cputime import cpu_reference
from paging import CONFIG, Stack, first_pages, percentile, post_alerts, running_stack
from sqlalchemy import func, select

from oncall.db.engine import make_engine
from oncall.db.models import AuditEventRow, NotificationRow
from oncall.testing.peers import SlackPeer, WebhookPeer
from oncall.testing.peers.base import RecordedRequest

WORKFLOW_NAMES = ("wf1", "wf2", "wf3")
WORKFLOWS = "\n---\n".join(
    f"""\
kind: Workflow
name: {name}
on: [incident.triggered]
steps:
  - webhook:
      url: ${{env:BENCH_HOOKS_URL}}/{name}
      body:
        workflow: {name}
        title: "{{{{ incident.title }}}}"
        incident: "{{{{ incident.id }}}}"
        event: "{{{{ event }}}}"
      timeout: 5s
"""
    for name in WORKFLOW_NAMES
)
BENCH_CONFIG = {**CONFIG, "workflows/bench.yaml": WORKFLOWS}
LAYOUT = {"embedded": (1, 4), "production": (2, 2)}
MARKER = re.compile(r"bench-\d{6}")
NAN = float("nan")
INF = float("inf")


def webhook_calls(hooks: WebhookPeer, accepted: dict[str, float], wait: float,
                  settle: float) -> tuple[dict[tuple[str, str], list[float]], list[str]]:
    """Every call the webhook peer received, by (alert marker, workflow): the times received.
    Waits up to `wait` seconds for a call of every workflow for every accepted alert, then
    `settle` seconds more for late duplicates. Also the calls that match no expected pair."""
    deadline = time.monotonic() + wait
    calls: dict[tuple[str, str], list[float]] = {}
    stray: list[str] = []
    seen = 0
    settle_until: float | None = None

    def parse(request: RecordedRequest) -> None:
        workflow = request.path.rsplit("/", 1)[-1]
        try:
            body = request.json()
            title = str(body.get("title", "")) if isinstance(body, dict) else ""
        except ValueError:
            title = ""
        match = MARKER.search(title)
        if request.method != "POST" or match is None or workflow not in WORKFLOW_NAMES:
            stray.append(f"{request.method} {request.path} {request.text[:120]!r}")
            return
        calls.setdefault((match.group(0), workflow), []).append(request.received_at)

    expected = {(a, w) for a in accepted for w in WORKFLOW_NAMES}
    while True:
        requests = hooks.requests
        for request in requests[seen:]:
            parse(request)
        seen = len(requests)
        now = time.monotonic()
        if settle_until is None and (expected <= calls.keys() or now >= deadline):
            settle_until = now + settle
        if settle_until is not None and now >= settle_until:
            break
        time.sleep(0.25)
    return calls, stray


def outbox_summary(database_url: str) -> tuple[dict[str, int], int]:
    """Workflow outbox rows by status, and `workflow.started` timeline events, in the DB."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            statuses = {
                str(status): int(n) for status, n in conn.execute(
                    select(NotificationRow.status, func.count())
                    .where(NotificationRow.kind == "workflow")
                    .group_by(NotificationRow.status))
            }
            started = int(conn.scalar(
                select(func.count()).select_from(AuditEventRow)
                .where(AuditEventRow.type == "workflow.started")) or 0)
    finally:
        engine.dispose()
    return statuses, started


def log_problems(stack: Stack) -> Counter[str]:
    """Lines of the processes' logs (level WARNING and up) that look like errors, by text
    with numbers masked, so repeats of one problem count together."""
    problems: Counter[str] = Counter()
    for log in sorted(stack.root.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if re.search(r"ERROR|CRITICAL|WARNING|Traceback|Exception", line):
                problems[f"{log.name}: {re.sub(r'[0-9]+', 'N', line.strip())[:200]}"] += 1
    return problems


def ms(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "—"
    if seconds == INF:
        return "not received"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def run(kind: str, args: argparse.Namespace) -> list[str]:
    workers, threads = LAYOUT[kind]
    workers = args.workers or workers
    threads = args.threads or threads
    with (SlackPeer(users={"alice@example.com": "UALICE", "bob@example.com": "UBOB"}) as slack,
          WebhookPeer() as hooks,
          running_stack(kind, workers, threads, {**slack.env(), "BENCH_HOOKS_URL": hooks.url},
                        BENCH_CONFIG) as stack):
        started = time.monotonic()
        accepted, errors, _cpu = post_alerts(stack.api, args.rate, args.seconds)
        sent = time.monotonic()
        first = first_pages(slack, accepted, wait=args.wait)
        left = max(0.0, args.wait - (time.monotonic() - sent))  # one deadline for both
        calls, stray = webhook_calls(hooks, accepted, wait=left, settle=args.settle)
        statuses, runs = outbox_summary(stack.backend.database_url)
        stack.procs.stop()
        problems = log_problems(stack)
        if args.keep_logs:
            keep = Path(args.keep_logs) / kind
            keep.mkdir(parents=True, exist_ok=True)
            for log in stack.root.glob("*.log"):
                shutil.copy(log, keep / log.name)

    # an alert never paged, a call never received, counts as infinitely late
    pages = [first[a] - t if a in first else INF for a, t in accepted.items()]
    hooks_latency: list[float] = []
    per_workflow: dict[str, list[float]] = {w: [] for w in WORKFLOW_NAMES}
    missing = duplicates = 0
    for alert, t in accepted.items():
        for workflow in WORKFLOW_NAMES:
            times = calls.get((alert, workflow), [])
            if not times:
                missing += 1
                hooks_latency.append(INF)
                per_workflow[workflow].append(INF)
                continue
            duplicates += len(times) - 1
            hooks_latency.append(min(times) - t)
            per_workflow[workflow].append(min(times) - t)
    unexpected = sum(len(v) for (a, _), v in calls.items() if a not in accepted)
    expected = 3 * len(accepted)
    received = sum(len(v) for v in calls.values())

    def q(values: list[float], p: float) -> float:
        return percentile(values, p) if values else NAN

    print(f"{kind} ({workers} × {threads}): {len(accepted)} of {int(args.rate * args.seconds)} "
          f"alerts accepted ({errors} errors) in {sent - started:.1f} s", flush=True)
    print(f"  first page: {len(first)}/{len(accepted)} paged, p50 {ms(q(pages, 0.5))}, "
          f"p99 {ms(q(pages, 0.99))}, max {ms(max(pages, default=NAN))}")
    print(f"  webhooks: {received} calls received for {expected} expected "
          f"({expected - missing} distinct, {missing} missing, {duplicates} duplicates, "
          f"{unexpected} for unknown alerts, {len(stray)} unparsable); p50 "
          f"{ms(q(hooks_latency, 0.5))}, p95 {ms(q(hooks_latency, 0.95))}, "
          f"p99 {ms(q(hooks_latency, 0.99))}, max {ms(max(hooks_latency, default=NAN))}")
    for workflow, values in per_workflow.items():
        print(f"    {workflow}: {sum(v < INF for v in values)} calls, p50 {ms(q(values, 0.5))}, "
              f"p99 {ms(q(values, 0.99))}")
    print(f"  database: {runs} workflow.started events; workflow outbox rows by status "
          f"{statuses}")
    for line in stray[:5]:
        print(f"  unparsable call: {line}")
    if problems:
        print(f"  {sum(problems.values())} warning/error lines in the processes' logs:")
        for line, n in problems.most_common(10):
            print(f"    {n} × {line}")
    else:
        print("  no warnings or errors in the processes' logs")
    return [
        f"| {kind} | {workers} × {threads} | {ms(q(pages, 0.5))} | {ms(q(pages, 0.99))} | "
        f"{len(first)}/{len(accepted)} | {ms(q(hooks_latency, 0.5))} | "
        f"{ms(q(hooks_latency, 0.95))} | {ms(q(hooks_latency, 0.99))} | "
        f"{ms(max(hooks_latency, default=NAN))} | {expected - missing}/{expected} | "
        f"{missing} | {duplicates} |"
    ]


def interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--backend", choices=["embedded", "production", "both"], default="both")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=0,
                        help="`oncall worker` processes (default: 1 embedded, 2 production)")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads per worker (default: 4 embedded, 2 production)")
    parser.add_argument("--wait", type=float, default=60.0,
                        help="seconds to wait after the last alert for pages and webhooks")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds to keep listening for duplicate webhook calls")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the processes' logs here")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, interrupted)
    rows = []
    for kind in (["embedded", "production"] if args.backend == "both" else [args.backend]):
        rows += run(kind, args)
    print()
    print("| backend | workers × threads | first page p50 | first page p99 | paged | "
          "webhook p50 | webhook p95 | webhook p99 | webhook max | calls (first/expected) | "
          "missing | duplicates |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows), flush=True)


if __name__ == "__main__":
    with cpu_reference():
        main()
