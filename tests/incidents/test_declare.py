"""Declaring an incident by hand (SQLite and PostgreSQL): the same rows as an alert's
incident, escalation through the service's policy, the declarer as commander."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.notification_rules import Channel
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, EscalationTimerRow, NotificationRow
from oncall.incidents import roles, service
from oncall.incidents.actors import Actor, Forbidden
from oncall.incidents.people import actor_for_email
from oncall.worker.escalator import due_timer_ids, run_timer

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MARCUS = "marcus.bell@northwind.example"  # payments responder
PRIYA = "priya.raman@northwind.example"  # payments admin, platform admin
EVE = "eve.larsen@northwind.example"  # payments observer
JORDAN = "jordan.reyes@northwind.example"  # platform responder


def actor(engine: Engine, email: str) -> Actor:
    with Session(engine) as session:
        found = actor_for_email(session, email, via="web")
    assert found is not None
    return found


def declare(engine: Engine, who: str, **fields: object) -> int:
    values: dict[str, object] = {"service_name": "checkout-api", "title": "Checkout is down",
                                 "priority": "P1", "description": None, "now": NOW}
    values.update(fields)
    with write_session(engine) as session:
        return service.declare(session, actor(engine, who), **values).id  # type: ignore[arg-type]


def tick(engine: Engine, config: ConfigSet, now: datetime) -> None:
    with Session(engine) as session:
        ids = due_timer_ids(session, now)
    for timer_id in ids:
        with write_session(engine) as session:
            run_timer(session, timer_id, now, config=config, enabled={Channel.EMAIL},
                      worker="t")


def paged_steps(engine: Engine, incident_id: int) -> list[int]:
    with Session(engine) as session:
        return sorted({s for s in session.scalars(
            select(EscalationTimerRow.step).where(EscalationTimerRow.incident_id == incident_id,
                                                  EscalationTimerRow.status == "done"))})


def test_a_declared_incident_opens_escalates_and_names_its_commander(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    incident_id = declare(applied_engine, MARCUS, description="Card payments **fail**")
    with Session(applied_engine) as session:
        incident = service.get(session, incident_id)
        assert (incident.status, incident.priority, incident.title) == (
            "triggered", "P1", "Checkout is down")
        assert incident.description == "Card payments **fail**"
        assert incident.escalation_policy_name == "payments"
        held = roles.holders(session, incident_id)
        assert list(held) == ["commander"] and held["commander"].email == MARCUS
        events = list(session.scalars(select(AuditEventRow).where(
            AuditEventRow.incident_id == incident_id).order_by(AuditEventRow.id)))
        declared = [e for e in events if e.type == roles.DECLARED]
        assert len(declared) == 1 and declared[0].actor == f"user:{MARCUS}"
        assert declared[0].data == {"via": "web", "service": "checkout-api",
                                    "title": "Checkout is down", "priority": "P1"}
        assert roles.sentence(roles.ASSIGNED, events[-1].actor, events[-1].data) == (
            f"{MARCUS} took commander")
    # the worker pages step 1 of the service's policy, as for an alert's incident
    tick(applied_engine, example_config, NOW)
    assert paged_steps(applied_engine, incident_id) == [0]
    with Session(applied_engine) as session:
        assert session.scalar(select(NotificationRow.id).where(
            NotificationRow.incident_id == incident_id, NotificationRow.kind == "page")
            .limit(1)) is not None


def test_two_declarations_are_two_incidents(applied_engine: Engine) -> None:
    first = declare(applied_engine, MARCUS)
    second = declare(applied_engine, MARCUS)
    assert first != second


def test_escalate_now_pages_the_next_step_at_once(applied_engine: Engine,
                                                   example_config: ConfigSet) -> None:
    incident_id = declare(applied_engine, MARCUS)
    tick(applied_engine, example_config, NOW)
    later = NOW + timedelta(minutes=1)  # step 2 is due at 5 minutes
    tick(applied_engine, example_config, later)
    assert paged_steps(applied_engine, incident_id) == [0]
    with write_session(applied_engine) as session:
        assert service.escalate_now(session, incident_id, actor(applied_engine, MARCUS),
                                    later).changed
    tick(applied_engine, example_config, later)
    assert paged_steps(applied_engine, incident_id) == [0, 1]


def test_who_may_declare(applied_engine: Engine) -> None:
    assert declare(applied_engine, PRIYA, service_name="kubernetes-prod")  # platform admin
    assert declare(applied_engine, JORDAN, service_name="kubernetes-prod")
    for who, svc in ((EVE, "checkout-api"), (JORDAN, "checkout-api")):
        with pytest.raises(Forbidden, match="cannot declare an incident on it"):
            declare(applied_engine, who, service_name=svc)
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        service.declare(session, Actor.integration("prometheus-prod"),
                        service_name="checkout-api", title="x", priority="P1",
                        description=None, now=NOW)


@pytest.mark.parametrize(("fields", "field"), [
    ({"service_name": "no-such-service"}, "service"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 1025}, "title"),
    ({"priority": "P0"}, "priority"),
    ({"description": "y" * 20_001}, "description"),
])
def test_bad_fields_are_named(applied_engine: Engine, fields: dict[str, object],
                              field: str) -> None:
    with pytest.raises(service.Rejected) as info:
        declare(applied_engine, MARCUS, **fields)
    assert info.value.field == field
    with Session(applied_engine) as session:
        assert session.scalar(select(AuditEventRow.id).where(
            AuditEventRow.type == roles.DECLARED)) is None


def test_priority_defaults_to_p3(applied_engine: Engine) -> None:
    incident_id = declare(applied_engine, MARCUS, priority=None)
    with Session(applied_engine) as session:
        assert service.get(session, incident_id).priority == service.DEFAULT_PRIORITY == "P3"
