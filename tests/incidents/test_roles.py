"""Incident roles (SQLite and PostgreSQL): take, assign, clear, who may, the timeline, and the
migration that adds the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow
from oncall.incidents import roles, service
from oncall.incidents.actors import Actor, Forbidden
from oncall.incidents.people import actor_for_email
from oncall.testing.incidents import open_incident

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MARCUS = "marcus.bell@northwind.example"  # payments responder
SOFIA = "sofia.alvarez@northwind.example"  # payments responder
EVE = "eve.larsen@northwind.example"  # payments observer
JORDAN = "jordan.reyes@northwind.example"  # platform responder


def actor(engine: Engine, email: str) -> Actor:
    with Session(engine) as session:
        found = actor_for_email(session, email, via="api")
    assert found is not None
    return found


@pytest.fixture
def incident_id(applied_engine: Engine) -> int:
    with write_session(applied_engine) as session:
        return open_incident(session, service="checkout-api", title="Checkout down", now=NOW)


def sentences(engine: Engine, incident_id: int) -> list[str]:
    with Session(engine) as session:
        events = session.scalars(select(AuditEventRow).where(
            AuditEventRow.incident_id == incident_id).order_by(AuditEventRow.id))
        return [s for e in events if (s := roles.sentence(e.type, e.actor, e.data))]


def test_take_assign_and_clear(applied_engine: Engine, incident_id: int) -> None:
    marcus = actor(applied_engine, MARCUS)
    with write_session(applied_engine) as session:
        took = service.assign_role(session, incident_id, marcus, "commander", None, NOW)
        again = service.assign_role(session, incident_id, marcus, "commander", MARCUS, NOW)
        gave = service.assign_role(session, incident_id, marcus, "scribe", JORDAN.upper(), NOW)
        moved = service.assign_role(session, incident_id, marcus, "scribe", SOFIA,
                                    NOW + timedelta(minutes=1))
        cleared = service.clear_role(session, incident_id, marcus, "scribe", NOW)
        nothing = service.clear_role(session, incident_id, marcus, "communications", NOW)
    assert [o.changed for o in (took, again, gave, moved, cleared, nothing)] == [
        True, False, True, True, True, False]
    assert moved.holders["scribe"].email == SOFIA
    assert list(cleared.holders) == ["commander"]
    assert sentences(applied_engine, incident_id) == [
        f"{MARCUS} took commander",
        f"{MARCUS} assigned scribe to {JORDAN}",  # a member of another team may hold a role
        f"{MARCUS} assigned scribe to {SOFIA}",
        f"{MARCUS} cleared scribe (was {SOFIA})",
    ]
    with Session(applied_engine) as session:
        shown = roles.as_json(roles.holders(session, incident_id))
    assert shown["scribe"] is None and shown["communications"] is None
    assert shown["commander"] == {"user": MARCUS, "name": "Marcus Bell",
                                  "assigned_by": f"user:{MARCUS}",
                                  "assigned_at": NOW.isoformat()}


def test_who_may_change_roles(applied_engine: Engine, incident_id: int) -> None:
    for who in (EVE, JORDAN):  # an observer; a responder of a team the incident did not page
        with write_session(applied_engine) as session, pytest.raises(Forbidden):
            service.assign_role(session, incident_id, actor(applied_engine, who), "scribe",
                                None, NOW)
    with write_session(applied_engine) as session:
        assert service.assign_role(session, incident_id, actor(applied_engine, SOFIA),
                                   "communications", EVE, NOW).changed  # observers may hold one


@pytest.mark.parametrize(("role", "user", "field"), [
    ("boss", None, "role"),
    ("scribe", "nobody@northwind.example", "user"),
])
def test_bad_role_or_user_is_named(applied_engine: Engine, incident_id: int, role: str,
                                   user: str | None, field: str) -> None:
    with write_session(applied_engine) as session, pytest.raises(service.Rejected) as info:
        service.assign_role(session, incident_id, actor(applied_engine, MARCUS), role, user,
                            NOW)
    assert info.value.field == field


def test_the_migration_downgrades_to_0010_keeping_incidents(applied_engine: Engine) -> None:
    from alembic import command

    from oncall.db.migrate import alembic_config, upgrade_engine

    with write_session(applied_engine) as session:
        incident_id = open_incident(session, service="checkout-api", title="x", now=NOW)
        service.assign_role(session, incident_id, actor(applied_engine, MARCUS), "commander",
                            None, NOW)
    config = alembic_config()
    with applied_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0010")
    assert "incident_roles" not in inspect(applied_engine).get_table_names()
    upgrade_engine(applied_engine)
    with Session(applied_engine) as session:
        assert service.get(session, incident_id).title == "x"
        assert roles.holders(session, incident_id) == {}
