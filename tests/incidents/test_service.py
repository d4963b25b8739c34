"""The incident service layer on SQLite and PostgreSQL: transitions, audit, escalation hand-off."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    EscalationTimerRow,
    IncidentRow,
    ServiceRow,
    UserRow,
)
from oncall.incidents import service
from oncall.incidents.actors import Actor, Forbidden

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PRIYA = Actor("user", "priya.raman@northwind.example", {"payments": "admin"}, via="web")
EVE = Actor("user", "eve.larsen@northwind.example", {"payments": "observer"}, via="web")
PROM = Actor.integration("prometheus-prod")


def open_one(session: Session, group_key: str = "g1") -> tuple[IncidentRow, bool]:
    svc = session.scalar(select(ServiceRow).where(ServiceRow.name == "checkout-api"))
    assert svc is not None
    return service.open_or_join(
        session,
        service=svc,
        group_key=group_key,
        title="Checkout latency high",
        priority="P1",
        urgency="high",
        labels={"alertname": "CheckoutLatencyHigh"},
        escalation_policy="payments",
        actor=PROM,
        now=NOW,
    )


def timers(session: Session, incident_id: int) -> list[tuple[int, int, int, str]]:
    rows = session.scalars(
        select(EscalationTimerRow)
        .where(EscalationTimerRow.incident_id == incident_id)
        .order_by(EscalationTimerRow.id)
    )
    return [(t.generation, t.cycle, t.step, t.status) for t in rows]


def timeline(session: Session, incident_id: int) -> list[tuple[str, str]]:
    rows = session.scalars(
        select(AuditEventRow)
        .where(AuditEventRow.incident_id == incident_id)
        .order_by(AuditEventRow.id)
    )
    return [(e.type, e.actor) for e in rows]


def test_open_creates_incident_event_and_first_timer(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident, created = open_one(session)
        assert created
        assert (incident.status, incident.alert_count) == ("triggered", 1)
        assert timers(session, incident.id) == [(0, 0, 0, "pending")]
        assert timeline(session, incident.id) == [
            ("incident.triggered", "integration:prometheus-prod")
        ]


def test_second_alert_joins_open_incident(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        first, _ = open_one(session)
        again, created = open_one(session)
        assert not created and again.id == first.id and again.alert_count == 2
        assert len(timers(session, first.id)) == 1


def test_resolved_incident_is_not_reopened(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        first, _ = open_one(session)
        service.resolve(session, first.id, PRIYA, NOW)
        second, created = open_one(session)
        assert created and second.id != first.id


def test_concurrent_opens_make_one_incident(applied_engine: Engine) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait()
            with write_session(applied_engine) as session:
                open_one(session, "storm")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(applied_engine) as session:
        rows = session.scalars(select(IncidentRow).where(IncidentRow.group_key == "storm")).all()
        assert len(rows) == 1
        assert rows[0].alert_count == 8


def test_acknowledge_once_stops_escalation(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident, _ = open_one(session)
        first = service.acknowledge(session, incident.id, PRIYA, NOW + timedelta(minutes=1))
        second = service.acknowledge(session, incident.id, PRIYA, NOW + timedelta(minutes=2))
        assert first.changed and not second.changed
        assert first.incident.status == "acknowledged"
        assert timers(session, incident.id) == [(0, 0, 0, "cancelled")]
        assert [t for t, _ in timeline(session, incident.id)] == [
            "incident.triggered",
            "incident.acknowledged",
        ]


def test_observer_cannot_act(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident, _ = open_one(session)
        for act in (
            lambda: service.acknowledge(session, incident.id, EVE, NOW),
            lambda: service.resolve(session, incident.id, EVE, NOW),
            lambda: service.add_note(session, incident.id, EVE, "hi", NOW),
            lambda: service.change_priority(session, incident.id, EVE, "P2", NOW),
        ):
            with pytest.raises(Forbidden, match="observer"):
                act()
        assert session.get(IncidentRow, incident.id).status == "triggered"  # type: ignore[union-attr]


def test_resolve_with_note_and_audit(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident, _ = open_one(session)
        out = service.resolve(session, incident.id, PRIYA, NOW, note="rolled back")
        assert out.changed and out.incident.status == "resolved"
        event = session.scalars(
            select(AuditEventRow).where(AuditEventRow.type == "incident.resolved")
        ).one()
        assert event.data == {"via": "web", "note": "rolled back"}
        assert event.before == {"status": "triggered"}


def test_reassign_pages_assignee_with_new_generation(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident, _ = open_one(session)
        service.acknowledge(session, incident.id, PRIYA, NOW)
        out = service.reassign(
            session, incident.id, PRIYA, "marcus.bell@northwind.example", NOW, policy_steps=3
        )
        marcus = session.scalar(
            select(UserRow).where(UserRow.email == "marcus.bell@northwind.example")
        )
        assert out.incident.status == "triggered"
        assert out.incident.assignee_id == marcus.id  # type: ignore[union-attr]
        assert timers(session, incident.id) == [(0, 0, 0, "cancelled"), (1, -1, 2, "pending")]
        with pytest.raises(service.Invalid, match="unknown user"):
            service.reassign(session, incident.id, PRIYA, "nobody@x.example", NOW, policy_steps=3)


def test_priority_and_notes(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident, _ = open_one(session)
        assert service.change_priority(session, incident.id, PRIYA, "P3", NOW).changed
        assert not service.change_priority(session, incident.id, PRIYA, "P3", NOW).changed
        with pytest.raises(service.Invalid, match="unknown priority"):
            service.change_priority(session, incident.id, PRIYA, "P0", NOW)
        service.add_note(session, incident.id, PRIYA, "Looking at the **pods**", NOW)
        with pytest.raises(service.Invalid, match="empty"):
            service.add_note(session, incident.id, PRIYA, "  ", NOW)
        assert [t for t, _ in timeline(session, incident.id)] == [
            "incident.triggered",
            "incident.priority_changed",
            "incident.note",
        ]


def test_unknown_incident(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin(), pytest.raises(service.NotFound):
        service.acknowledge(session, 999_999, PRIYA, NOW)


def test_applied_config_reads_back(applied_engine: Engine) -> None:
    from oncall.db.applied import AppliedConfig

    cache = AppliedConfig()
    with Session(applied_engine) as session:
        config = cache.get(session)
        assert "checkout-api" in config.services
        assert config.policies["payments"].repeat == 2
        assert cache.get(session) is config  # unchanged: served from the cache
        assert session.scalar(select(func.count(IncidentRow.id))) == 0
