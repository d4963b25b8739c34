"""Workflow runs as outbox rows: queued once, run in order, retried, and stopped or continued
by a failure, the same on SQLite and PostgreSQL, column by column."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.workflows import PlannedRun, PlannedStep
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, DeliveryAttemptRow, NotificationRow
from oncall.store import stores_for
from oncall.store.outbox import (
    EARLIER_STEP_FAILED,
    WORKFLOW_LEASE,
    Dispatched,
    DispatchPolicy,
    queue_run,
    step_target,
)
from oncall.testing.incidents import open_incident

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
WORKER = "worker-1"
POLICY = DispatchPolicy()


@dataclass(frozen=True)
class Outcome:
    """What an executor returned (the shape of `oncall.workflows.outcome.StepOutcome`)."""

    ok: bool
    retryable: bool = False
    status_code: int | None = None
    detail: str = ""
    duration_ms: int = 12


OK = Outcome(True, status_code=200, detail='{"job": 7}')
DOWN = Outcome(False, retryable=True, status_code=503, detail="503 Service Unavailable")
REFUSED = Outcome(False, retryable=False, status_code=400, detail="400 bad request")


def _step(index: int, kind: str = "webhook", *, retries: int = 0,
          continue_on_error: bool = False, error: str | None = None) -> PlannedStep:
    actions: dict[str, dict[str, Any]] = {
        "webhook": {"url": "https://hooks.example/x/${env:ZONE}?token=${env:TOKEN}",
                    "method": "POST", "headers": {"Authorization": "Bearer ${env:TOKEN}"},
                    "body": {"id": 1}, "max_response_bytes": 1000},
        "slack": {"channel": "#incidents", "text": "P1 Checkout"},
        "runbook": {"runbook": "restart-checkout", "params": {"region": "eu-west-1"},
                    "url": "https://awx.example/launch/", "method": "POST", "headers": {},
                    "body": {}, "max_response_bytes": 1000},
    }
    action = actions[kind]
    return PlannedStep(index=index, path=f"steps[{index}]", kind=kind, action=action,
                       continue_on_error=continue_on_error, retries=retries,
                       timeout_seconds=5.0, error=error)


def _run(incident_id: int, *steps: PlannedStep, name: str = "p1-broadcast",
         event_id: int = 1) -> PlannedRun:
    return PlannedRun(workflow=name, event="incident.triggered",
                      key=f"{name}:{incident_id}:{event_id}", steps=steps)


def _incident(engine: Engine) -> int:
    with write_session(engine) as session:
        return open_incident(session, service="checkout-api", group_key="k",
                             title="Checkout p99 above 2s", priority="P1",
                             labels={"env": "prod"}, integration="prometheus-prod", now=T0,
                             page=False)


def _rows(engine: Engine, incident_id: int) -> list[NotificationRow]:
    with Session(engine) as session:
        return list(session.scalars(select(NotificationRow).where(
            NotificationRow.incident_id == incident_id, NotificationRow.kind == "workflow")
            .order_by(NotificationRow.id)))


def _statuses(engine: Engine, incident_id: int) -> list[str]:
    return [r.status for r in _rows(engine, incident_id)]


def _events(engine: Engine, incident_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    with Session(engine) as session:
        return [(e.type, e.actor, e.data or {}) for e in session.scalars(
            select(AuditEventRow).where(AuditEventRow.incident_id == incident_id,
                                        AuditEventRow.type.like("workflow.%"))
            .order_by(AuditEventRow.id))]


def _attempt(engine: Engine, config: ConfigSet, notification_id: int,
             outcome: Outcome | None, now: datetime = T0) -> Dispatched:
    """Claim the row and record `outcome` for it (None: its planning error)."""
    outbox = stores_for(engine).outbox
    claim = outbox.claim(notification_id, now, WORKER, POLICY.lease, config, "",
                         lambda channel: [])
    assert claim is not None and claim.kind == "workflow" and claim.notice is None
    return outbox.record_step(notification_id, claim, outcome, now, now, POLICY,
                              lambda: 0.5, now)


@pytest.fixture
def engine(applied_engine: Engine) -> Engine:
    return applied_engine


def test_a_run_is_queued_once_first_step_due_the_rest_waiting(engine: Engine) -> None:
    incident_id = _incident(engine)
    run = _run(incident_id, _step(0), _step(1, "slack"), _step(2, "runbook"))
    with write_session(engine) as session:
        due = queue_run(session, run, incident_id, T0)
    with write_session(engine) as session:
        assert queue_run(session, run, incident_id, T0 + timedelta(seconds=1)) == []
    rows = _rows(engine, incident_id)
    assert due == [rows[0].id]
    assert [(r.status, r.channel, r.address, r.idempotency_key) for r in rows] == [
        ("pending", "webhook", "hooks.example/x/${env:ZONE}",
         f"wf:p1-broadcast:{incident_id}:1:0"),
        ("waiting", "slack", "#incidents", f"wf:p1-broadcast:{incident_id}:1:1"),
        ("waiting", "runbook", "restart-checkout", f"wf:p1-broadcast:{incident_id}:1:2"),
    ]
    assert rows[0].provider_data == {
        "workflow": "p1-broadcast", "run": run.key, "index": 0, "path": "steps[0]",
        "action": run.steps[0].action, "continue_on_error": False, "retries": 0,
        "timeout": 5.0, "error": None, "steps": 3, "by": None}
    assert all(r.next_attempt_at == T0 for r in rows)
    assert [(t, a, d["steps"]) for t, a, d in _events(engine, incident_id)] == [
        ("workflow.started", "workflow:p1-broadcast", 3)]
    with Session(engine) as session:  # waiting steps are not due, whatever the time
        outbox = stores_for(engine).outbox
        assert outbox.due_ids(session, T0 + timedelta(days=1)) == [rows[0].id]


def test_success_releases_the_next_step_and_the_run_ends_in_order(
        engine: Engine, example_config: ConfigSet) -> None:
    incident_id = _incident(engine)
    with write_session(engine) as session:
        [first] = queue_run(session, _run(incident_id, _step(0), _step(1, "slack"),
                                          _step(2, "runbook")), incident_id, T0)
    ids = [r.id for r in _rows(engine, incident_id)]
    later = T0 + timedelta(seconds=3)
    done = _attempt(engine, example_config, first, OK, later)
    assert done == Dispatched("sent", released=(ids[1],))
    rows = _rows(engine, incident_id)
    assert [r.status for r in rows] == ["sent", "pending", "waiting"]
    assert rows[1].next_attempt_at == later and rows[0].sent_at == later
    assert _attempt(engine, example_config, ids[1], OK, later).released == (ids[2],)
    assert _attempt(engine, example_config, ids[2], OK, later).released == ()
    assert _statuses(engine, incident_id) == ["sent", "sent", "sent"]
    succeeded = [d for t, _a, d in _events(engine, incident_id)
                 if t == "workflow.step_succeeded"]
    assert [(d["step"], d["kind"], d["outcome"], d["status_code"], d["attempt"])
            for d in succeeded] == [(0, "webhook", "succeeded", 200, 1),
                                    (1, "slack", "succeeded", 200, 1),
                                    (2, "runbook", "succeeded", 200, 1)]
    assert succeeded[0]["duration_ms"] == 12 and succeeded[0]["detail"] == '{"job": 7}'
    with Session(engine) as session:
        attempts = session.scalars(select(DeliveryAttemptRow).where(
            DeliveryAttemptRow.notification_id == first)).all()
        assert [(a.attempt, a.provider, a.outcome, a.response_status) for a in attempts] == [
            (1, "webhook", "sent", 200)]


def test_retryable_failures_retry_at_backoff_then_fail_and_cancel_the_rest(
        engine: Engine, example_config: ConfigSet) -> None:
    incident_id = _incident(engine)
    with write_session(engine) as session:
        [first] = queue_run(session, _run(incident_id, _step(0, "runbook", retries=2),
                                          _step(1, "slack"), _step(2)), incident_id, T0)
    now = T0
    for attempt in (1, 2):
        result = _attempt(engine, example_config, first, DOWN, now)
        assert result.outcome == "retry" and result.retry_at is not None
        assert result.retry_at == now + POLICY.backoff.delay(attempt, 0.5)
        assert _statuses(engine, incident_id) == ["pending", "waiting", "waiting"]
        with Session(engine) as session:  # not due before its time
            assert first not in stores_for(engine).outbox.due_ids(session, now)
        now = result.retry_at
    assert _attempt(engine, example_config, first, DOWN, now) == Dispatched("failed")
    rows = _rows(engine, incident_id)
    assert [(r.status, r.attempt_count) for r in rows] == [
        ("failed", 3), ("cancelled", 0), ("cancelled", 0)]
    assert [r.last_error for r in rows[1:]] == [EARLIER_STEP_FAILED] * 2
    assert [(t, d["step"], d["outcome"], d["attempt"]) for t, _a, d in
            _events(engine, incident_id) if t != "workflow.started"] == [
        ("workflow.step_retry", 0, "retry", 1), ("workflow.step_retry", 0, "retry", 2),
        ("workflow.step_failed", 0, "failed", 3), ("workflow.step_skipped", 1, "skipped", 0),
        ("workflow.step_skipped", 2, "skipped", 0)]


@pytest.mark.parametrize(("outcome", "continues"), [
    (REFUSED, False), (REFUSED, True), (None, False), (None, True)],
    ids=["refused-stops", "refused-continues", "planning-error-stops",
         "planning-error-continues"])
def test_a_final_failure_stops_the_run_unless_the_step_may_fail(
        engine: Engine, example_config: ConfigSet, outcome: Outcome | None,
        continues: bool) -> None:
    """A non-retryable failure is final even with retries left; a planning error fails the
    step at once, nothing called."""
    incident_id = _incident(engine)
    error = None if outcome else "runbook params: 'region' is a required property"
    with write_session(engine) as session:
        [first] = queue_run(session, _run(
            incident_id, _step(0, retries=3, continue_on_error=continues, error=error),
            _step(1, "slack"), _step(2)), incident_id, T0)
    ids = [r.id for r in _rows(engine, incident_id)]
    result = _attempt(engine, example_config, first, outcome)
    assert result == Dispatched("failed", released=(ids[1],) if continues else ())
    assert _statuses(engine, incident_id) == (
        ["failed", "pending", "waiting"] if continues else ["failed", "cancelled", "cancelled"])
    failed = [d for t, _a, d in _events(engine, incident_id) if t == "workflow.step_failed"]
    assert [(d["step"], d["status_code"], d["detail"]) for d in failed] == [
        (0, 400, "400 bad request") if outcome else (0, None, error)]
    with Session(engine) as session:
        attempts = session.scalars(select(DeliveryAttemptRow.attempt).where(
            DeliveryAttemptRow.notification_id == first)).all()
    assert len(attempts) == (1 if outcome else 0)


def test_a_step_taken_over_after_its_lease_is_recorded_once(
        engine: Engine, example_config: ConfigSet) -> None:
    """A worker whose lease ran out records nothing: the step, its next step and its
    timeline belong to the worker that took it over."""
    incident_id = _incident(engine)
    with write_session(engine) as session:
        [first] = queue_run(session, _run(incident_id, _step(0), _step(1, "slack")),
                            incident_id, T0)
    outbox = stores_for(engine).outbox
    slow = outbox.claim(first, T0, "slow-worker", POLICY.lease, example_config, "",
                        lambda channel: [])
    later = T0 + WORKFLOW_LEASE + timedelta(seconds=1)
    fast = outbox.claim(first, later, WORKER, POLICY.lease, example_config, "",
                        lambda channel: [])
    assert slow is not None and fast is not None
    assert outbox.record_step(first, slow, OK, T0, later, POLICY, lambda: 0.5,
                              later) == Dispatched("skipped")
    assert _statuses(engine, incident_id) == ["sending", "waiting"]
    assert outbox.record_step(first, fast, OK, later, later, POLICY, lambda: 0.5,
                              later).outcome == "sent"
    assert outbox.record_step(first, slow, OK, T0, later, POLICY, lambda: 0.5,
                              later) == Dispatched("skipped")
    rows = _rows(engine, incident_id)
    assert [(r.status, r.attempt_count) for r in rows] == [("sent", 2), ("pending", 0)]
    assert [(t, d.get("attempt")) for t, _a, d in _events(engine, incident_id)] == [
        ("workflow.started", None), ("workflow.step_succeeded", 2)]
    with Session(engine) as session:
        assert session.scalars(select(DeliveryAttemptRow.attempt).where(
            DeliveryAttemptRow.notification_id == first)).all() == [2]


def test_step_targets_show_no_secret() -> None:
    assert step_target("webhook", {"url": "https://u:pw@h.example:8443/a?t=secret"}) == \
        "h.example:8443/a"
    assert step_target("teams", {"webhook": "${env:TEAMS_URL}"}) == "teams webhook"
    assert step_target("email", {"to": ["a@x.example", "b@x.example"]}) == \
        "a@x.example, b@x.example"
    assert step_target("page", {"target": {"schedule": "payments-primary"}}) == \
        "schedule:payments-primary"


# --- the same rows on both databases ----------------------------------------------------------


def _scenario(engine: Engine, config: ConfigSet) -> None:
    """Every operation once: queue (twice), success, retry, final failure that cancels,
    continue_on_error, planning error."""
    incident_id = _incident(engine)
    runs = [
        _run(incident_id, _step(0), _step(1, "slack"), name="a"),
        _run(incident_id, _step(0, "runbook", retries=1), _step(1), _step(2, "slack"),
             name="b"),
        _run(incident_id, _step(0, continue_on_error=True), _step(1, error="bad template"),
             _step(2), name="c"),
    ]
    with write_session(engine) as session:
        due = [i for run in runs for i in queue_run(session, run, incident_id, T0)]
        queue_run(session, runs[0], incident_id, T0)
    a, b, c = due
    later = T0 + timedelta(seconds=5)
    [a1] = _attempt(engine, config, a, OK).released
    _attempt(engine, config, a1, OK, later)
    retry = _attempt(engine, config, b, DOWN)
    assert retry.retry_at is not None
    _attempt(engine, config, b, DOWN, retry.retry_at)
    [c1] = _attempt(engine, config, c, REFUSED).released
    _attempt(engine, config, c1, None, later)


def _snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every column of the workflow rows, their attempts and their events, ids numbered by
    first appearance."""
    seen: dict[tuple[str, object], int] = {}

    def ref(kind: str, value: object) -> object:
        if value is None:
            return None
        return f"<{kind}#{seen.setdefault((kind, value), len(seen))}>"

    def plain(table: str, row: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for column, value in row.items():
            if column in ("id", "notification_id", "incident_id"):
                value = ref(column if column != "id" else table, value)
            elif column == "data" and isinstance(value, dict) and "notification_id" in value:
                value = {**value, "notification_id": ref("id", value["notification_id"])}
            out[column] = value
        return out

    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for model in (NotificationRow, DeliveryAttemptRow, AuditEventRow):
            table: Any = model.__table__
            rows = conn.execute(select(table).order_by(table.c.id)).mappings().all()
            out[table.name] = [
                plain(table.name, dict(row)) for row in rows
                if table.name != "audit_events" or row["type"].startswith("workflow.")]
    return out


@pytest.mark.postgres
def test_workflow_rows_are_the_same_on_both_databases(
        engines: tuple[Engine, Engine], example_config: ConfigSet) -> None:
    postgres, sqlite = engines
    for engine in engines:
        _scenario(engine, example_config)
    on_postgres, on_sqlite = _snapshot(postgres), _snapshot(sqlite)
    assert len(on_postgres["notifications"]) == 8
    assert {r["status"] for r in on_postgres["notifications"]} == {
        "sent", "failed", "cancelled"}
    for table in on_postgres:
        assert on_postgres[table] == on_sqlite[table], table
