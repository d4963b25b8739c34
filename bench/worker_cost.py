"""What one plain page costs a worker: CPU (the step's share too), SQL statements and write
transactions per incident; with `--workflows`, what a workflow webhook step costs too.

Opens `--incidents` incidents on the paging benchmark's organisation (one person on call, one
service with a Slack channel), then runs their first steps `--batch` at a time and sends each
batch's pages due now in one thread, as a sweep does (`oncall.worker.handlers._escalate`:
one transaction per batch of steps, one claim and one record per batch of pages), against the
local Slack peer. `--batch 1` is the path of a single queued task. Steadier than the
end-to-end paging benchmark, whose figures at saturation swing with small changes of
capacity, and it tells where a change of the paging path goes.

    .venv/bin/python bench/worker_cost.py --backend production --incidents 500 [--batch 10]
        [--workflows]

`--workflows` adds the three Workflows of `bench/workflows.py` (one webhook step each, to the
local webhook peer) and, after the pages, plans the incidents' workflows and runs every step
in one thread, as the sweep and the steps lane do: CPU, statements and commits per step.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from cputime import cpu_reference
from paging import CONFIG, SECRET
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from oncall.config.loader import load
from oncall.db.engine import make_engine, write_session
from oncall.db.migrate import upgrade_engine
from oncall.notify.settings import ProviderSettings
from oncall.reconcile.apply import Origin, apply_config
from oncall.settings import Settings
from oncall.store import stores_for
from oncall.store.outbox import Call
from oncall.testing.incidents import open_incident
from oncall.testing.peers import SlackPeer, WebhookPeer
from oncall.worker.dispatcher import Send, in_turn
from oncall.worker.escalator import due_timer_ids
from oncall.worker.providers import build_chains
from oncall.worker.runtime import Runtime, utcnow
from workflows import BENCH_CONFIG


class Counter:
    """Statements and transactions the engine runs, counted at the driver."""

    def __init__(self, engine: Engine) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _commit(self, *_: Any) -> None:
        self.commits += 1


def prepare(url: str, root: Path, incidents: int, config: dict[str, str]) -> None:
    for rel, text in config.items():
        path = root / "config" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    os.environ["HOOK_SECRET"] = SECRET
    engine = make_engine(url)
    upgrade_engine(engine)
    result = load(root / "config")
    assert result.ok, result
    apply_config(engine, result.config, Origin(actor="bench", source=str(root), revision=None,
                                               now=utcnow()))
    with write_session(engine) as session:
        for n in range(incidents):
            open_incident(session, service="api", group_key=f"cost-{n}",
                          title=f"cost-{n} error rate high", priority="P1",
                          labels={"n": str(n)}, integration="hooks", now=utcnow())
    engine.dispose()


def together(sends: list[Send]) -> Iterator[list[tuple[int, list[Call]]]]:
    """A batch's sends in turn in this thread (its CPU is counted), as the worker sends a
    fast provider's pages (`oncall.worker.handlers._side_by_side` deals a batch to one thread
    when its calls take a millisecond, as the local peer's do)."""
    return in_turn(sends, list(range(len(sends))))


def measure(url: str, incidents: int, batch: int) -> dict[str, float]:
    with SlackPeer(users={"alice@example.com": "UALICE", "bob@example.com": "UBOB"}) as slack:
        providers = ProviderSettings.from_env(slack.env())
        engine = make_engine(url, pool_pre_ping=False) if "postgresql" in url else make_engine(url)
        runtime = Runtime(Settings(database_url=url), providers, engine, build_chains(providers))
        runtime.config()
        with Session(engine) as session:
            timers = due_timer_ids(session, utcnow(), limit=incidents)
        assert len(timers) == incidents, (len(timers), incidents)
        counter = Counter(engine)
        wall, cpu = time.perf_counter(), time.thread_time()
        sent, step_cpu = 0, 0.0
        for start in range(0, len(timers), batch):
            started = time.thread_time()
            results = runtime.run_due(batch, timers[start:start + batch])
            step_cpu += time.thread_time() - started
            now = runtime.clock()
            due = [nid for result in results for nid, at in result.notifications if at <= now]
            outcomes = runtime.dispatch_many(due, sends=together)
            sent += sum(outcome.outcome == "sent" for outcome in outcomes.values())
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        posts = sum(1 for r in slack.requests if r.path == "/api/chat.postMessage")
        engine.dispose()
    return {"incidents": incidents, "sent": sent, "slack_posts": posts,
            "cpu_ms": 1000 * cpu / incidents, "step_cpu_ms": 1000 * step_cpu / incidents,
            "wall_ms": 1000 * wall / incidents,
            "statements": counter.statements / incidents,
            "transactions": counter.commits / incidents}


def measure_workflows(url: str) -> dict[str, float]:
    """Plan the inbox's events, then run every first step they queued, in one thread."""
    with WebhookPeer() as hooks:
        providers = ProviderSettings.from_env({})
        engine = make_engine(url, pool_pre_ping=False) if "postgresql" in url else make_engine(url)
        runtime = Runtime(Settings(database_url=url), providers, engine, build_chains(providers),
                          environ={**os.environ, "BENCH_HOOKS_URL": hooks.url})
        runtime.config()
        inbox = stores_for(engine).inbox
        counter = Counter(engine)
        cpu = time.thread_time()
        due: list[int] = []
        while inbox.any():
            due += runtime.plan_workflows()
        plan_cpu = time.thread_time() - cpu
        planned = (counter.statements, counter.commits)
        cpu, wall = time.thread_time(), time.perf_counter()
        sent = sum(runtime.dispatch(row_id).outcome == "sent" for row_id in due)
        step_cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        calls = sum(1 for r in hooks.requests if r.method == "POST")
        engine.dispose()
    steps = max(1, len(due))
    return {"steps": len(due), "sent": sent, "calls": calls,
            "plan_cpu_ms": 1000 * plan_cpu / steps, "step_cpu_ms": 1000 * step_cpu / steps,
            "step_wall_ms": 1000 * wall / steps,
            "plan_statements": planned[0] / steps, "plan_transactions": planned[1] / steps,
            "statements": (counter.statements - planned[0]) / steps,
            "transactions": (counter.commits - planned[1]) / steps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["embedded", "production", "both"], default="both")
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--batch", type=int, default=10,
                        help="steps run (and their pages claimed and recorded) together")
    parser.add_argument("--workflows", action="store_true",
                        help="three webhook workflows per incident; report a step's cost")
    args = parser.parse_args()
    for kind in (["embedded", "production"] if args.backend == "both" else [args.backend]):
        root = Path(tempfile.mkdtemp(prefix=f"bench-worker-cost-{kind}-"))
        pg_name = None
        if kind == "embedded":
            url = f"sqlite:///{root / 'oncall.db'}"
        else:
            pg_name = f"bench_cost_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(host="127.0.0.1", dbname="postgres", user=getpass.getuser(),
                                 autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{pg_name}"')
            url = f"postgresql+psycopg://{getpass.getuser()}@127.0.0.1:5432/{pg_name}"
        try:
            prepare(url, root, args.incidents, BENCH_CONFIG if args.workflows else CONFIG)
            r = measure(url, args.incidents, args.batch)
            print(f"{kind:<10} {r['incidents']} incidents in batches of {args.batch}, "
                  f"{r['sent']} pages sent "
                  f"({r['slack_posts']} Slack posts): per incident {r['cpu_ms']:.2f} ms CPU "
                  f"(the step {r['step_cpu_ms']:.2f} ms), "
                  f"{r['wall_ms']:.2f} ms wall, {r['statements']:.1f} statements, "
                  f"{r['transactions']:.1f} commits", flush=True)
            if args.workflows:
                w = measure_workflows(url)
                print(f"{kind:<10} {w['steps']} workflow steps, {w['sent']} sent "
                      f"({w['calls']} webhook calls): per step {w['step_cpu_ms']:.2f} ms CPU, "
                      f"{w['step_wall_ms']:.2f} ms wall, {w['statements']:.1f} statements, "
                      f"{w['transactions']:.1f} commits; planning {w['plan_cpu_ms']:.2f} ms "
                      f"CPU, {w['plan_statements']:.2f} statements, "
                      f"{w['plan_transactions']:.2f} commits per step", flush=True)
        finally:
            if pg_name:
                with psycopg.connect(host="127.0.0.1", dbname="postgres",
                                     user=getpass.getuser(), autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    with cpu_reference():
        code = main()
    raise SystemExit(code)
