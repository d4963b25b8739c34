"""Workflows run for real: an incident event goes through the inbox (filled by the database's
trigger), the planner and the outbox to a local HTTP receiver, each step once, in order,
retried and recorded on the timeline; paging goes on whatever the workflows do."""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from oncall.cli.main import main
from oncall.config.configset import ConfigSet
from oncall.config.loader import load
from oncall.core.alerts import Alert
from oncall.core.delivery import Backoff, BreakerPolicy
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, IncidentRow, NotificationRow, WorkflowInboxRow
from oncall.incidents import events, runbooks, service
from oncall.incidents.actors import Actor
from oncall.ingest.pipeline import ServiceDirectory
from oncall.notify.settings import ProviderSettings
from oncall.reconcile.apply import Origin, apply_config
from oncall.settings import Settings
from oncall.store import stores_for
from oncall.store.outbox import WORKFLOW_LEASE
from oncall.testing.incidents import open_incident
from oncall.testing.peers import SlackPeer
from oncall.testing.peers.base import Peer, RecordedRequest, Reply
from oncall.testing.peers.smtp import SmtpPeer
from oncall.worker import handlers
from oncall.worker.dispatcher import DispatchPolicy
from oncall.worker.providers import build_chains
from oncall.worker.runtime import Runtime
from oncall.worker.workflows import plan_workflows

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "awx-secret-token-1234"

WORKFLOWS = """
kind: Workflow
name: p1-hook
on: [incident.triggered]
when: incident.priority == "P1"
steps:
  - webhook:
      url: {url}/hook
      body: {{id: "{{{{ incident.id }}}}", event: "{{{{ event }}}}"}}
  - if: service.name == "checkout-api"
    then:
      - runbook: {{name: restart-checkout, params: {{region: eu-west-1}}}}
  - webhook: {{url: {url}/after}}
---
kind: Workflow
name: never
on: [incident.triggered]
when: incident.priority == "P5"
steps:
  - webhook: {{url: {url}/never}}
---
kind: Workflow
name: p2-escalations
on: [incident.triggered, incident.escalated]
when: incident.priority == "P2"
steps:
  - webhook: {{url: {url}/escalated, body: {{event: "{{{{ event }}}}"}}}}
"""


class Receiver(Peer):
    """A webhook and runbook target: answers 200, or fails a path as told."""

    name = "receiver"

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, int] = {}
        self.always: set[str] = set()
        self.together: threading.Barrier | None = None
        """Set: each call of `/hook` waits until as many are in flight at once."""
        self.alone = 0

    def handle(self, request: RecordedRequest) -> Reply:
        if self.together is not None and request.path == "/hook":
            try:
                self.together.wait()
            except threading.BrokenBarrierError:
                with self._lock:
                    self.alone += 1
                return Reply.text("called alone", 400)
        with self._lock:
            if request.path in self.always:
                return Reply.text("runbook backend down", 500)
            if self.failures.get(request.path, 0) > 0:
                self.failures[request.path] -= 1
                return Reply.text("try again", 503)
        return Reply.json({"ok": True, "path": request.path})

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.now += delta


@dataclass
class Rig:
    runtime: Runtime
    clock: Clock
    receiver: Receiver
    slack: SlackPeer
    engine: Engine
    config: ConfigSet
    dispatched: list[int] = field(default_factory=list)

    def open_incident(self, priority: str = "P1", title: str = "Checkout p99 above 2s") -> int:
        with write_session(self.engine) as session:
            return open_incident(session, service="checkout-api", group_key=title, title=title,
                                 priority=priority,  # type: ignore[arg-type]
                                 labels={"env": "prod"}, integration="prometheus-prod",
                                 now=self.clock())

    def sweep_once(self) -> int:
        """One sweep as the worker's sweeper runs it: timers, the workflow inbox, then due
        rows; a released step is sent at once, as `handlers._dispatch` does."""
        rt = self.runtime
        ran = 0
        for timer_id in rt.due_timers():
            ran += rt.run_timer(timer_id).ran
        due = rt.plan_workflows() + rt.due_notifications()
        while due:
            notification_id = due.pop(0)
            outcome = rt.dispatch(notification_id)
            if outcome.outcome != "skipped":
                ran += 1
                self.dispatched.append(notification_id)
            due[:0] = outcome.released
        return ran

    def run(self, *, until: timedelta = timedelta(minutes=2)) -> None:
        """Sweep until quiet, moving the clock on so that retries fall due."""
        end = self.clock() + until
        while self.clock() <= end:
            if not self.sweep_once():
                self.clock.advance(timedelta(seconds=5))

    def rows(self, incident_id: int) -> list[NotificationRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(NotificationRow).where(
                NotificationRow.incident_id == incident_id,
                NotificationRow.kind == "workflow").order_by(NotificationRow.id)))

    def timeline(self, incident_id: int,
                 like: str = "workflow.%") -> list[tuple[str, str, dict[str, Any]]]:
        with Session(self.engine) as session:
            return [(e.type, e.actor, e.data or {}) for e in session.scalars(
                select(AuditEventRow).where(AuditEventRow.incident_id == incident_id,
                                            AuditEventRow.type.like(like))
                .order_by(AuditEventRow.id))]


RUNBOOK = "/awx/api/v2/job_templates/12/launch/"
"""Where the example's restart-checkout runbook posts, with AWX_URL at the receiver's /awx."""


def _config(tmp_path: Path, url: str, workflows: str = WORKFLOWS) -> ConfigSet:
    root = tmp_path / "config"
    for name in ("rules", "schedules"):
        shutil.copytree(REPO_ROOT / name, root / name)
    (root / "workflows").mkdir()
    shutil.copy(REPO_ROOT / "workflows" / "runbooks.yaml", root / "workflows")
    (root / "workflows" / "test.yaml").write_text(workflows.format(url=url))
    result = load(root)
    assert result.ok, [d.as_text() for d in result.errors]
    return result.config


@pytest.fixture
def rig(migrated_engine: Engine, tmp_path: Path) -> Iterator[Rig]:
    with Receiver() as receiver:
        config = _config(tmp_path, receiver.url)
        users = {u: f"U{i:04d}" for i, u in enumerate(sorted(config.users))}
        with SlackPeer(users=users) as slack, SmtpPeer() as smtp:
            apply_config(migrated_engine, config,
                         Origin(actor="tests", source="tests", revision=None, now=T0))
            env = {**slack.env(), **smtp.env(), "ONCALL_SLACK_TIMEOUT": "2",
                   "ONCALL_PUBLIC_URL": "https://oncall.example"}
            providers = ProviderSettings.from_env(env)
            clock = Clock(T0)
            runtime = Runtime(
                settings=Settings(database_url=str(migrated_engine.url)),
                providers=providers, engine=migrated_engine, chains=build_chains(providers),
                worker_id="test-worker", clock=clock,
                policy=DispatchPolicy(
                    backoff=Backoff(base=timedelta(seconds=1), max_attempts=3),
                    breaker=BreakerPolicy(threshold=10)),
                environ={"AWX_TOKEN": TOKEN, "AWX_URL": f"{receiver.url}/awx"})
            yield Rig(runtime, clock, receiver, slack, migrated_engine, config)


def _steps(rig: Rig, incident_id: int) -> list[tuple[str, int, str, int | None, int]]:
    return [(d["workflow"], d["step"], d["outcome"], d["status_code"], d["attempt"])
            for t, _a, d in rig.timeline(incident_id) if t != "workflow.started"]


def test_a_p1_runs_its_workflow_once_in_order_and_the_false_one_not_at_all(rig: Rig) -> None:
    incident_id = rig.open_incident()
    rig.run()
    assert rig.receiver.paths() == ["/hook", RUNBOOK, "/after"]
    hook, runbook, _ = rig.receiver.requests
    assert hook.json() == {"id": incident_id, "event": "incident.triggered"}
    assert runbook.header("Authorization") == f"Bearer {TOKEN}"
    assert runbook.json()["extra_vars"]["region"] == "eu-west-1"
    assert [r.status for r in rig.rows(incident_id)] == ["sent"] * 3
    timeline = rig.timeline(incident_id)
    assert [(t, a) for t, a, _ in timeline][:1] == [("workflow.started", "workflow:p1-hook")]
    assert _steps(rig, incident_id) == [
        ("p1-hook", 0, "succeeded", 200, 1), ("p1-hook", 1, "succeeded", 200, 1),
        ("p1-hook", 2, "succeeded", 200, 1)]
    assert all(d["duration_ms"] >= 0 for _t, _a, d in timeline[1:])
    assert TOKEN not in repr(timeline)
    # the page went out as usual, and the inbox is empty
    assert rig.slack.calls("chat.postMessage")
    with Session(rig.engine) as session:
        assert session.scalar(select(func.count()).select_from(WorkflowInboxRow)) == 0
    # nothing more happens, however often the worker sweeps
    rig.run(until=timedelta(minutes=1))
    assert len(rig.receiver.requests) == 3


def test_a_workflow_whose_when_is_false_writes_nothing(rig: Rig) -> None:
    incident_id = rig.open_incident(priority="P3")
    rig.run()
    assert rig.receiver.requests == []
    assert rig.rows(incident_id) == [] and rig.timeline(incident_id) == []
    with Session(rig.engine) as session:
        assert session.scalar(select(func.count()).select_from(WorkflowInboxRow)) == 0


def test_a_runbook_failing_twice_then_working_takes_three_attempts_one_success(
        rig: Rig) -> None:
    rig.receiver.failures[RUNBOOK] = 2
    incident_id = rig.open_incident()
    rig.run()
    assert rig.receiver.paths() == ["/hook", RUNBOOK, RUNBOOK, RUNBOOK, "/after"]
    assert _steps(rig, incident_id) == [
        ("p1-hook", 0, "succeeded", 200, 1), ("p1-hook", 1, "retry", 503, 1),
        ("p1-hook", 1, "retry", 503, 2), ("p1-hook", 1, "succeeded", 200, 3),
        ("p1-hook", 2, "succeeded", 200, 1)]


def test_incident_show_prints_the_runs_and_steps_without_secrets(
        rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    rig.receiver.failures[RUNBOOK] = 1
    incident_id = rig.open_incident()
    rig.run()
    url = rig.engine.url.render_as_string(hide_password=False)
    assert main(["incident", "show", str(incident_id), "--database-url", url]) == 0
    out = capsys.readouterr().out
    lines = [" ".join(line.split()[2:]) for line in out.splitlines()
             if "workflow." in line]
    assert lines == [
        "workflow.started workflow:p1-hook p1-hook on incident.triggered: 3 step(s)",
        *[line for line in lines if "step_" in line]]
    steps = [line.split(" — ")[0] for line in lines[1:]]
    # each line's timing (", 12 ms", absent when under a millisecond), attempt and next try
    # vary from run to run; what happened does not
    assert [re.sub(r", (\d+ ms|attempt \d+|next at \S+)", "", s) for s in steps] == [
        "workflow.step_succeeded workflow:p1-hook p1-hook step 0 (steps[0]) webhook: "
        "succeeded, HTTP 200",
        "workflow.step_retry workflow:p1-hook p1-hook step 1 (steps[1].then[0]) runbook: "
        "retry, HTTP 503",
        "workflow.step_succeeded workflow:p1-hook p1-hook step 1 (steps[1].then[0]) runbook: "
        "succeeded, HTTP 200",
        "workflow.step_succeeded workflow:p1-hook p1-hook step 2 (steps[2]) webhook: "
        "succeeded, HTTP 200"]
    assert all("attempt" in s for s in steps) and "attempt 2" in steps[2]
    assert lines[2].endswith(" — HTTP 503: try again")
    assert TOKEN not in out


def test_a_runbook_always_failing_retries_then_fails_and_paging_goes_on(rig: Rig) -> None:
    rig.receiver.always.add(RUNBOOK)
    incident_id = rig.open_incident()
    rig.run()
    retries = 3  # restart-checkout's `retries`
    assert rig.receiver.paths() == ["/hook"] + [RUNBOOK] * (1 + retries)
    steps = _steps(rig, incident_id)
    assert steps[-2:] == [("p1-hook", 1, "failed", 500, 1 + retries),
                          ("p1-hook", 2, "skipped", None, 0)]
    assert [r.status for r in rig.rows(incident_id)] == ["sent", "failed", "cancelled"]
    with Session(rig.engine) as session:
        pages = session.scalars(select(NotificationRow.status).where(
            NotificationRow.incident_id == incident_id,
            NotificationRow.kind.in_(("page", "channel")))).all()
    assert pages and set(pages) == {"sent"}


def test_a_worker_killed_between_steps_leaves_every_step_run_once(rig: Rig) -> None:
    """The worker claims the second step and dies (its claim is committed, nothing recorded):
    after the lease another worker runs it, and the run goes on; nothing runs twice."""
    incident_id = rig.open_incident()
    for timer_id in rig.runtime.due_timers():
        rig.runtime.run_timer(timer_id)
    [first] = rig.runtime.plan_workflows()
    assert rig.runtime.plan_workflows() == []  # planned once
    second = rig.runtime.dispatch(first).released
    assert len(second) == 1
    outbox = stores_for(rig.engine).outbox
    claim = outbox.claim(second[0], rig.clock(), "dead-worker", rig.runtime.policy.lease,
                         rig.config, "", lambda _channel: [])
    assert claim is not None  # ... and the worker dies here
    rig.run(until=timedelta(seconds=60))  # past a notification's lease, not a step's
    assert rig.receiver.paths() == ["/hook"]
    rig.clock.advance(WORKFLOW_LEASE)
    rig.run()
    assert rig.receiver.paths() == ["/hook", RUNBOOK, "/after"]
    assert [r.status for r in rig.rows(incident_id)] == ["sent"] * 3
    assert [s[2] for s in _steps(rig, incident_id)] == ["succeeded"] * 3
    assert _steps(rig, incident_id)[1][4] == 2  # the dead worker's claim was attempt 1


def test_planning_is_exactly_once_a_rolled_back_batch_stays_in_the_inbox(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_id = rig.open_incident()
    import oncall.worker.workflows as planner

    def dies(*_args: Any, **_kwargs: Any) -> list[int]:
        raise KeyboardInterrupt("worker killed while queueing")

    monkeypatch.setattr(planner, "queue_runs", dies)
    with pytest.raises(KeyboardInterrupt):
        plan_workflows(rig.engine, rig.config, rig.clock())
    monkeypatch.undo()
    assert rig.rows(incident_id) == []
    with Session(rig.engine) as session:
        assert session.scalar(select(func.count()).select_from(WorkflowInboxRow)) == 1
    assert len(plan_workflows(rig.engine, rig.config, rig.clock())) == 1
    assert plan_workflows(rig.engine, rig.config, rig.clock()) == []
    assert len(rig.rows(incident_id)) == 3


def _inbox(engine: Engine) -> list[tuple[str, int, str, datetime, datetime]]:
    with Session(engine) as session:
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            select(WorkflowInboxRow.type, WorkflowInboxRow.incident_id, AuditEventRow.type,
                   AuditEventRow.at, WorkflowInboxRow.created_at)
            .join(AuditEventRow, AuditEventRow.id == WorkflowInboxRow.event_id)
            .order_by(WorkflowInboxRow.event_id))]


def test_the_trigger_fills_the_inbox_with_the_events_workflows_listen_to(
        rig: Rig, tmp_path: Path) -> None:
    """Ingest's fast path (open-or-join writes its events in one statement) and the service's
    state changes alike; an event no applied workflow listens to stays out, until a workflow
    that listens to it is applied."""
    incident_id = rig.open_incident()
    with write_session(rig.engine) as session:
        service.acknowledge(session, incident_id, Actor.integration("prometheus-prod"),
                            rig.clock())
    inbox = _inbox(rig.engine)
    with Session(rig.engine) as session:
        others = session.scalar(select(func.count()).select_from(AuditEventRow).where(
            AuditEventRow.incident_id == incident_id,
            AuditEventRow.type != "incident.triggered"))
    assert [(t, i) for t, i, *_ in inbox] == [("incident.triggered", incident_id)]
    assert all(t == e and at == created for t, _i, e, at, created in inbox)
    assert others  # incident.acknowledged, incident.alert: written, not in the inbox
    listening = WORKFLOWS + """
---
kind: Workflow
name: on-ack
on: [incident.acknowledged]
steps:
  - webhook: {{url: {url}/ack}}
"""
    config = _config(tmp_path / "with-ack", rig.receiver.url, listening)
    apply_config(rig.engine, config, Origin(actor="tests", source="tests", revision=None,
                                            now=rig.clock()))
    second = rig.open_incident(title="Checkout errors")
    with write_session(rig.engine) as session:
        service.acknowledge(session, second, Actor.integration("prometheus-prod"),
                            rig.clock())
    assert [(t, i) for t, i, *_ in _inbox(rig.engine)] == [
        ("incident.triggered", incident_id), ("incident.triggered", second),
        ("incident.acknowledged", second)]


def test_ingest_fast_path_events_fill_the_inbox(rig: Rig) -> None:
    """`IngestStore.accept`, as the ingest endpoint stores a delivery (on PostgreSQL one
    statement of data-modifying CTEs): its incident.triggered is in the inbox, a repeat adds
    nothing."""
    store = stores_for(rig.engine).ingest
    integration = rig.config.integrations["prometheus-prod"]
    services = ServiceDirectory()
    labels = {"severity": "critical", "alertname": "CheckoutLatencyHigh", "env": "prod"}
    for minutes in (0, 1):
        alert = Alert(provider="alertmanager", action="trigger", summary="Checkout slow",
                      severity="critical", dedup_key="a", labels=labels,
                      occurred_at=T0 + timedelta(minutes=minutes),
                      integration="prometheus-prod")
        asyncio.run(store.accept(rig.config, integration, [alert], alert.occurred_at or T0,
                                 services))
    with Session(rig.engine) as session:
        inbox = session.execute(select(WorkflowInboxRow.type, WorkflowInboxRow.incident_id)
                                ).all()
        incidents = session.scalars(select(IncidentRow.id)).all()
    assert [tuple(row) for row in inbox] == [("incident.triggered", incidents[0])]
    assert len(incidents) == 1
    plan_workflows(rig.engine, rig.config, rig.clock())
    with Session(rig.engine) as session:
        assert session.scalar(select(func.count()).select_from(WorkflowInboxRow)) == 0


def test_without_workflows_the_inbox_is_only_emptied(rig: Rig) -> None:
    rig.open_incident()
    assert plan_workflows(rig.engine, ConfigSet(), rig.clock()) == []
    with Session(rig.engine) as session:
        assert session.scalar(select(func.count()).select_from(WorkflowInboxRow)) == 0
        assert session.scalar(select(func.count()).select_from(NotificationRow).where(
            NotificationRow.kind == "workflow")) == 0


def test_the_worker_sweep_plans_and_runs_workflows(rig: Rig,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`handlers.sweep`, the worker's sweeper and wake task: the inbox is planned every
    sweep and the run's steps follow each other from the dispatching thread."""

    class Tasks:
        def notification_due(self, *_args: Any) -> None: ...
        def timer_due(self, *_args: Any) -> None: ...

    monkeypatch.setattr(handlers, "_runtime", rig.runtime)
    monkeypatch.setattr(handlers, "_tasks", lambda: Tasks())
    incident_id = rig.open_incident()
    handlers.sweep()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while datetime.now(UTC) < deadline and [r.status for r in rig.rows(incident_id)] != [
            "sent"] * 3:
        threading.Event().wait(0.05)
    assert rig.receiver.paths() == ["/hook", RUNBOOK, "/after"]
    assert [r.status for r in rig.rows(incident_id)] == ["sent"] * 3


@pytest.mark.parametrize("threads", [3, 1], ids=["three-step-threads", "one-step-thread"])
def test_slow_steps_of_different_incidents_run_side_by_side(
        rig: Rig, monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """A step mostly waits on its target: the worker's steps lane runs `--step-threads` of
    them at once, so a slow webhook of one incident does not hold up another's."""

    class Tasks:
        def notification_due(self, *_args: Any) -> None: ...
        def timer_due(self, *_args: Any) -> None: ...

    monkeypatch.setattr(handlers, "_runtime", rig.runtime)
    monkeypatch.setattr(handlers, "_tasks", lambda: Tasks())
    monkeypatch.setattr(handlers, "_pools", {})
    monkeypatch.setitem(handlers._lane_threads, handlers.STEPS, threads)
    rig.receiver.together = threading.Barrier(3, timeout=2)
    incidents = [rig.open_incident(title=f"Checkout p99 above {n}s") for n in (2, 3, 4)]
    handlers.sweep()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while datetime.now(UTC) < deadline and len(
                [r for r in rig.receiver.requests if r.path == "/hook"]) < 3:
            threading.Event().wait(0.05)
        for pool in handlers._pools.values():
            pool.shutdown(wait=True)
    finally:
        rig.receiver.together.abort()
    hooks = [r for r in rig.receiver.requests if r.path == "/hook"]
    assert len(hooks) == 3
    if threads == 3:
        assert rig.receiver.alone == 0
        assert [_steps(rig, i)[0][2:4] for i in incidents] == [("succeeded", 200)] * 3
    else:  # one at a time: each call waited alone for the other two, in vain
        assert rig.receiver.alone == 3


def test_an_incident_opening_is_not_an_escalation_a_later_step_is(rig: Rig) -> None:
    """The first escalation step pages with the trigger: a workflow on both events runs once
    when the incident opens, and again when the escalation moves on."""
    incident_id = rig.open_incident(priority="P2")
    rig.sweep_once()  # the first step pages (an incident.escalated event, step 0)
    rig.sweep_once()
    assert [(t, d["step"]) for t, _a, d in rig.timeline(incident_id, "incident.escalated")] \
        == [("incident.escalated", 0)]
    assert [r.json() for r in rig.receiver.requests if r.path == "/escalated"] == [
        {"event": "incident.triggered"}]
    with write_session(rig.engine) as session:
        events.record(session, at=rig.clock(), actor="system:escalation",
                      type="incident.escalated", incident_id=incident_id,
                      data={"step": 1, "cycle": 0, "users": [], "targets": []})
    rig.sweep_once()
    assert [r.json() for r in rig.receiver.requests if r.path == "/escalated"] == [
        {"event": "incident.triggered"}, {"event": "incident.escalated"}]


def test_a_runbook_run_by_hand_calls_once_retries_and_records_its_result_as_the_person(
        rig: Rig) -> None:
    rig.receiver.failures[RUNBOOK] = 1
    incident_id = rig.open_incident(priority="P3")  # no workflow fires
    person = Actor("user", "marcus.bell@northwind.example", {"payments": "responder"},
                   via="web")
    with write_session(rig.engine) as session:
        done = runbooks.run_typed(session, rig.config, incident_id, person, "restart-checkout",
                                  {"region": "us-east-1", "reason": "stuck pods"}, rig.clock())
    rig.run()
    assert rig.receiver.paths() == [RUNBOOK, RUNBOOK]
    assert rig.receiver.requests[-1].json() == {
        "extra_vars": {"region": "us-east-1", "reason": "stuck pods"}}
    assert rig.receiver.requests[-1].header("Authorization") == f"Bearer {TOKEN}"
    assert [(t, a, d["outcome"], d["status_code"], d["attempt"], d["run"])
            for t, a, d in rig.timeline(incident_id)] == [
        ("workflow.step_retry", "user:marcus.bell@northwind.example", "retry", 503, 1, done.run),
        ("workflow.step_succeeded", "user:marcus.bell@northwind.example", "succeeded", 200, 2,
         done.run)]
    with Session(rig.engine) as session:
        trail = list(session.scalars(select(AuditEventRow).where(
            AuditEventRow.incident_id == incident_id).order_by(AuditEventRow.id)))
    [run] = runbooks.runs_of(trail)
    assert (run.runbook, run.by, run.state, run.status_code, run.attempt, run.params) == (
        "restart-checkout", "user:marcus.bell@northwind.example", "succeeded", 200, 2,
        {"region": "us-east-1", "reason": "stuck pods"})
    assert '"ok": true' in run.detail and TOKEN not in repr(trail)
    rig.run(until=timedelta(minutes=1))
    assert len(rig.receiver.requests) == 2  # once done, never again


def test_the_runs_of_an_incident_include_a_workflows_runbook_step(rig: Rig) -> None:
    rig.receiver.always.add(RUNBOOK)
    incident_id = rig.open_incident()
    rig.run()
    with Session(rig.engine) as session:
        trail = list(session.scalars(select(AuditEventRow).where(
            AuditEventRow.incident_id == incident_id).order_by(AuditEventRow.id)))
    [run] = runbooks.runs_of(trail)
    assert (run.runbook, run.by, run.state, run.status_code, run.attempt, run.params) == (
        "restart-checkout", "workflow:p1-hook", "failed", 500, 4, {"region": "eu-west-1"})
    assert "runbook backend down" in run.detail


def test_two_workers_planning_one_incident_at_once_keep_the_run_cap_exact(rig: Rig) -> None:
    """Worker A plans the incident's first event and has not committed; worker B plans its
    other two meanwhile. B waits for A (planning holds the incident), then
    counts A's run too: the cap of 10 runs holds, where counting beside A would make 11."""
    from oncall.core.workflows import MAX_RUNS_PER_INCIDENT
    from oncall.incidents import events
    from oncall.worker.workflows import _queue

    incident_id = rig.open_incident()  # its triggered event is the inbox's first row
    prior = MAX_RUNS_PER_INCIDENT - 2
    with write_session(rig.engine) as session:
        for n in range(prior):
            events.record(session, at=rig.clock(), actor="workflow:p1-hook",
                          type="workflow.started", incident_id=incident_id,
                          data={"workflow": "p1-hook", "event": "incident.triggered",
                                "run": f"earlier-{n}", "steps": 3})
        for _ in range(2):
            events.record(session, at=rig.clock(), actor="integration:prometheus-prod",
                          type="incident.triggered", incident_id=incident_id, data={})
    inbox = stores_for(rig.engine).inbox
    a_planned = threading.Event()
    b_done: list[list[int]] = []

    def worker_b() -> None:
        a_planned.wait(10)
        b_done.append(plan_workflows(rig.engine, rig.config, rig.clock()))

    b = threading.Thread(target=worker_b)
    b.start()
    with write_session(rig.engine) as session:
        conn = session.connection()
        claimed = inbox.claim(conn, 1)
        assert len(_queue(conn, claimed, rig.config, rig.clock())) == 1
        a_planned.set()
        b.join(0.5)
        assert b.is_alive()  # waiting for A's transaction
        inbox.delete(conn, [e.event_id for e in claimed])
    b.join(10)
    assert len(b_done) == 1 and len(b_done[0]) == 1  # B fired one run, not two
    with Session(rig.engine) as session:
        runs = session.scalar(select(func.count()).select_from(AuditEventRow).where(
            AuditEventRow.incident_id == incident_id, AuditEventRow.type == "workflow.started"))
        assert session.scalar(select(func.count()).select_from(WorkflowInboxRow)) == 0
    assert runs == MAX_RUNS_PER_INCIDENT
