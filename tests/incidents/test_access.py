"""Who may act on which incident (issue 15 row 4): the one rule in `oncall.incidents.access`,
called by every mutation of `oncall.incidents.service`, whatever face the actor came through."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.db.models import NotificationRow
from oncall.incidents import service
from oncall.incidents.access import may_act
from oncall.incidents.actors import Actor, Forbidden
from oncall.incidents.people import actor_for_email
from oncall.testing.incidents import open_incident

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PAYMENTS_RESPONDER = "marcus.bell@northwind.example"
PAYMENTS_OBSERVER = "eve.larsen@northwind.example"
PLATFORM_RESPONDER = "jordan.reyes@northwind.example"
PLATFORM_ADMIN = "priya.raman@northwind.example"  # payments admin named in Organization.admins
STOREFRONT_ADMIN = "lena.fischer@northwind.example"

MUTATIONS: dict[str, Callable[[Session, int, Actor], Any]] = {
    "acknowledge": lambda s, i, a: service.acknowledge(s, i, a, NOW),
    "resolve": lambda s, i, a: service.resolve(s, i, a, NOW, note="x"),
    "reassign": lambda s, i, a: service.reassign(
        s, i, a, PLATFORM_RESPONDER, NOW, policy_steps=1
    ),
    "escalate": lambda s, i, a: service.escalate_now(s, i, a, NOW),
    "note": lambda s, i, a: service.add_note(s, i, a, "hello", NOW),
    "priority": lambda s, i, a: service.change_priority(s, i, a, "P5", NOW),
}


def platform_incident(session: Session) -> int:
    return open_incident(session, service="kubernetes-prod", group_key="g",
                         title="Nodes not ready", integration="prometheus-prod", now=NOW)


def person(session: Session, email: str, via: str = "web") -> Actor:
    actor = actor_for_email(session, email, via=via)
    assert actor is not None
    return actor


def page(session: Session, incident_id: int, actor: Actor) -> None:
    session.add(NotificationRow(
        idempotency_key=f"page:{incident_id}:{actor.user_id}", incident_id=incident_id,
        user_id=actor.user_id, channel="sms", address="+14155550100", kind="page",
        status="sent", attempt_count=1, next_attempt_at=NOW, created_at=NOW,
    ))
    session.flush()


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("via", ["web", "api", "slack", "sms", "voice", "email"])
def test_every_mutation_refuses_a_responder_of_another_team(
    applied_engine: Engine, mutation: str, via: str
) -> None:
    with Session(applied_engine) as session, session.begin():
        incident_id = platform_incident(session)
        outsider = person(session, PAYMENTS_RESPONDER, via)
        with pytest.raises(Forbidden, match="team platform"):
            MUTATIONS[mutation](session, incident_id, outsider)


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("email", [PLATFORM_RESPONDER, PLATFORM_ADMIN])
def test_every_mutation_allows_the_owning_team_and_platform_admins(
    applied_engine: Engine, mutation: str, email: str
) -> None:
    with Session(applied_engine) as session, session.begin():
        incident_id = platform_incident(session)
        MUTATIONS[mutation](session, incident_id, person(session, email))


def test_the_rule(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident_id = platform_incident(session)
        incident = service.get(session, incident_id)

        def allowed(actor: Actor) -> bool:
            return may_act(session, actor, incident)[0]

        assert allowed(person(session, PLATFORM_RESPONDER))
        assert allowed(person(session, "tomasz.nowak@northwind.example"))  # platform admin role
        assert allowed(person(session, PLATFORM_ADMIN))  # Organization.admins
        assert not allowed(person(session, STOREFRONT_ADMIN))  # admin, of another team
        marcus = person(session, PAYMENTS_RESPONDER)
        assert not allowed(marcus)
        page(session, incident_id, marcus)
        assert allowed(marcus)  # the incident paged him
        eve = person(session, PAYMENTS_OBSERVER)
        page(session, incident_id, eve)
        assert not allowed(eve)  # observers never, paged or not
        assert allowed(Actor.integration("prometheus-prod")) and allowed(Actor.system())
        # a forged or stale actor claiming the power without the database saying so is still
        # checked against what it carries: the faces build actors from the database only
        assert not allowed(Actor("user", "x@example.com", {"payments": "admin"}, 999))
