"""The ingest pipeline's database step on SQLite and PostgreSQL, on the example organisation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.alerts import Action, Alert
from oncall.db.engine import write_session
from oncall.db.models import (
    AlertDeliveryRow,
    AlertRow,
    AuditEventRow,
    EscalationTimerRow,
    IncidentRow,
    ServiceRow,
)
from oncall.ingest.pipeline import Result, ingest
from oncall.store import stores_for

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def alert(key: str, action: Action = "trigger", at: datetime = NOW, **labels: str) -> Alert:
    return Alert(provider="alertmanager", action=action, summary=f"{labels.get('alertname')}",
                 severity="critical", dedup_key=key, occurred_at=at,
                 labels={"severity": "critical", **labels})


def run(engine: Engine, config: ConfigSet, alerts: Sequence[Alert],
        integration: str = "prometheus-prod", now: datetime = NOW) -> Result:
    with write_session(engine) as session:
        return ingest(session, config, config.integrations[integration], alerts, now=now,
                      store=stores_for(engine).ingest)


def incidents(engine: Engine) -> list[tuple[str, str, int]]:
    with Session(engine) as session:
        rows = session.execute(
            select(ServiceRow.name, IncidentRow.status, IncidentRow.alert_count)
            .join(ServiceRow, IncidentRow.service_id == ServiceRow.id)
            .order_by(IncidentRow.id)
        )
        return [(r[0], r[1], r[2]) for r in rows]


def test_a_continue_rule_pages_every_matching_service_and_resolves_them_all(
    applied_engine: Engine, example_config: ConfigSet
) -> None:
    labels = {"alertname": "KubeNodeNotReady", "namespace": "payments", "cluster": "eu"}
    result = run(applied_engine, example_config, [alert("n1", **labels)])
    assert result.outcomes == ["new"] and len(result.incident_ids) == 2
    assert incidents(applied_engine) == [("kubernetes-prod", "triggered", 1),
                                         ("payment-gateway", "triggered", 1)]
    run(applied_engine, example_config, [alert("n1", "resolve", NOW + timedelta(minutes=1),
                                               **labels)])
    assert [s for _, s, _ in incidents(applied_engine)] == ["resolved", "resolved"]


def test_a_group_resolves_when_its_last_alert_does(applied_engine: Engine,
                                                   example_config: ConfigSet) -> None:
    labels = {"alertname": "CheckoutLatencyHigh", "env": "prod", "cluster": "eu"}
    a, b = alert("a", **labels, pod="1"), alert("b", **labels, pod="2")
    run(applied_engine, example_config, [a, b])
    assert incidents(applied_engine) == [("checkout-api", "triggered", 2)]
    later = NOW + timedelta(minutes=1)
    run(applied_engine, example_config, [alert("a", "resolve", later, **labels, pod="1")])
    assert incidents(applied_engine) == [("checkout-api", "triggered", 2)]
    run(applied_engine, example_config, [alert("b", "resolve", later, **labels, pod="2")])
    assert incidents(applied_engine) == [("checkout-api", "resolved", 2)]


def test_a_new_incident_hands_off_to_escalation_and_is_audited(
    applied_engine: Engine, example_config: ConfigSet
) -> None:
    result = run(applied_engine, example_config,
                 [alert("x", alertname="CheckoutDown", env="prod")])
    (incident_id,) = result.incident_ids
    with Session(applied_engine) as session:
        timers = session.scalars(select(EscalationTimerRow)).all()
        assert [(t.incident_id, t.step, t.status, t.due_at) for t in timers] == [
            (incident_id, 0, "pending", NOW)]
        types = session.scalars(
            select(AuditEventRow.type).where(AuditEventRow.incident_id == incident_id)
            .order_by(AuditEventRow.id)).all()
        assert types == ["incident.triggered", "incident.alert"]
        delivery = session.scalars(select(AlertDeliveryRow)).one()
        assert (delivery.outcome, delivery.event_action) == ("new", "trigger")


def test_a_drop_rule_records_without_paging(applied_engine: Engine,
                                            example_config: ConfigSet) -> None:
    info = Alert(provider="alertmanager", action="trigger", summary="FYI", severity="info",
                 dedup_key="i", occurred_at=NOW, labels={"severity": "info", "env": "prod"})
    assert run(applied_engine, example_config, [info]).outcomes == ["suppressed"]
    with Session(applied_engine) as session:
        row = session.scalars(select(AlertRow)).one()
        assert row.suppressed_reason == "dropped by rule drop-info" and row.incident_id is None
        assert session.scalars(select(EscalationTimerRow)).all() == []
    assert incidents(applied_engine) == []


def test_deliveries_and_outcomes_of_a_lifecycle(applied_engine: Engine,
                                                example_config: ConfigSet) -> None:
    labels = {"alertname": "CheckoutDown", "env": "prod"}
    steps: list[tuple[Action, int]] = [("trigger", 0), ("trigger", 0), ("acknowledge", 1),
                                       ("trigger", -1), ("resolve", 5), ("resolve", 5),
                                       ("trigger", 2), ("acknowledge", 6)]
    outcomes = []
    for action, minutes in steps:
        outcomes += run(applied_engine, example_config,
                        [alert("l", action, NOW + timedelta(minutes=minutes), **labels)]).outcomes
    # the trigger older than the acknowledge repeats a firing alert: deduplicated, not stale
    assert outcomes == ["new", "deduplicated", "acknowledged", "deduplicated", "resolved",
                        "deduplicated", "stale", "unknown-alert"]
    assert incidents(applied_engine) == [("checkout-api", "resolved", 1)]
    with Session(applied_engine) as session:
        assert len(session.scalars(select(AlertDeliveryRow)).all()) == len(steps)
