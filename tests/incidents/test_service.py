"""The incident service layer on SQLite and PostgreSQL: transitions, audit, escalation hand-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from oncall.db.models import (
    AuditEventRow,
    EscalationTimerRow,
    IncidentRow,
    UserRow,
)
from oncall.incidents import service
from oncall.incidents.actors import Actor, Forbidden
from oncall.testing.incidents import open_incident

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PRIYA = Actor("user", "priya.raman@northwind.example", {"payments": "admin"}, via="web")
EVE = Actor("user", "eve.larsen@northwind.example", {"payments": "observer"}, via="web")


def open_one(session: Session, group_key: str = "g1") -> int:
    return open_incident(session, service="checkout-api", group_key=group_key,
                         title="Checkout latency high", priority="P1",
                         labels={"alertname": "CheckoutLatencyHigh"},
                         integration="prometheus-prod", now=NOW)


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


def test_acknowledge_once_stops_escalation(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident_id = open_one(session)
        first = service.acknowledge(session, incident_id, PRIYA, NOW + timedelta(minutes=1))
        second = service.acknowledge(session, incident_id, PRIYA, NOW + timedelta(minutes=2))
        assert first.changed and not second.changed
        assert first.incident.status == "acknowledged"
        assert timers(session, incident_id) == [(0, 0, 0, "cancelled")]
        assert [t for t, _ in timeline(session, incident_id)] == [
            "incident.triggered",
            "incident.alert",
            "incident.acknowledged",
        ]


def test_observer_cannot_act(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident_id = open_one(session)
        for act in (
            lambda: service.acknowledge(session, incident_id, EVE, NOW),
            lambda: service.resolve(session, incident_id, EVE, NOW),
            lambda: service.add_note(session, incident_id, EVE, "hi", NOW),
            lambda: service.change_priority(session, incident_id, EVE, "P2", NOW),
        ):
            with pytest.raises(Forbidden, match="observer"):
                act()
        assert session.get(IncidentRow, incident_id).status == "triggered"  # type: ignore[union-attr]


def test_resolve_with_note_and_audit(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident_id = open_one(session)
        out = service.resolve(session, incident_id, PRIYA, NOW, note="rolled back")
        assert out.changed and out.incident.status == "resolved"
        event = session.scalars(
            select(AuditEventRow).where(AuditEventRow.type == "incident.resolved")
        ).one()
        assert event.data == {"via": "web", "note": "rolled back"}
        assert event.before == {"status": "triggered"}


def test_reassign_pages_assignee_with_new_generation(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident_id = open_one(session)
        service.acknowledge(session, incident_id, PRIYA, NOW)
        out = service.reassign(
            session, incident_id, PRIYA, "marcus.bell@northwind.example", NOW, policy_steps=3
        )
        marcus = session.scalar(
            select(UserRow).where(UserRow.email == "marcus.bell@northwind.example")
        )
        assert out.incident.status == "triggered"
        assert out.incident.assignee_id == marcus.id  # type: ignore[union-attr]
        assert timers(session, incident_id) == [(0, 0, 0, "cancelled"), (1, -1, 2, "pending")]
        with pytest.raises(service.Invalid, match="unknown user"):
            service.reassign(session, incident_id, PRIYA, "nobody@x.example", NOW, policy_steps=3)


def test_reassign_clears_the_acknowledgement_and_refuses_once_resolved(
    applied_engine: Engine,
) -> None:
    with Session(applied_engine) as session, session.begin():
        incident_id = open_one(session)
        service.acknowledge(session, incident_id, PRIYA, NOW)
        out = service.reassign(
            session, incident_id, PRIYA, "marcus.bell@northwind.example", NOW, policy_steps=3
        )
        assert out.incident.acknowledged_at is None and out.incident.acknowledged_by_id is None
        service.resolve(session, incident_id, PRIYA, NOW)
        with pytest.raises(service.Invalid, match="resolved"):
            service.reassign(
                session, incident_id, PRIYA, "marcus.bell@northwind.example", NOW, policy_steps=3
            )


def test_escalate_now_makes_the_next_step_due(applied_engine: Engine) -> None:
    later = NOW + timedelta(minutes=30)
    with Session(applied_engine) as session, session.begin():
        incident_id = open_one(session)
        session.execute(
            update(EscalationTimerRow)
            .where(EscalationTimerRow.incident_id == incident_id)
            .values(due_at=later)
        )
        version = session.get(IncidentRow, incident_id).version  # type: ignore[union-attr]
        out = service.escalate_now(session, incident_id, PRIYA, NOW + timedelta(minutes=1))
        assert out.changed and out.incident.version == version + 1
        due = session.scalar(
            select(EscalationTimerRow.due_at).where(EscalationTimerRow.incident_id == incident_id)
        )
        assert due is not None and due.replace(tzinfo=UTC) == NOW + timedelta(minutes=1)
        event = session.scalars(
            select(AuditEventRow).where(AuditEventRow.type == "incident.escalate_requested")
        ).one()
        assert event.data == {"via": "web", "step": 0, "cycle": 0}
        service.acknowledge(session, incident_id, PRIYA, NOW + timedelta(minutes=2))
        assert not service.escalate_now(session, incident_id, PRIYA, NOW).changed


def test_priority_and_notes(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident_id = open_one(session)
        assert service.change_priority(session, incident_id, PRIYA, "P3", NOW).changed
        assert not service.change_priority(session, incident_id, PRIYA, "P3", NOW).changed
        with pytest.raises(service.Invalid, match="unknown priority"):
            service.change_priority(session, incident_id, PRIYA, "P0", NOW)
        service.add_note(session, incident_id, PRIYA, "Looking at the **pods**", NOW)
        with pytest.raises(service.Invalid, match="empty"):
            service.add_note(session, incident_id, PRIYA, "  ", NOW)
        assert [t for t, _ in timeline(session, incident_id)] == [
            "incident.triggered",
            "incident.alert",
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
