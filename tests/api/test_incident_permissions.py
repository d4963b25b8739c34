"""Issue 15 rows 4 and 5 over the REST API: team-scoped incident actions, and the keys of people
removed from the config.

Row 4 showed a payments responder acknowledging, reassigning and resolving a platform incident
(200 each); row 5 showed a removed user's key still listing incidents after apply.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import Team
from oncall.db.engine import write_session
from oncall.db.models import (
    ApiKeyRow,
    AuditEventRow,
    IncidentRow,
    NotificationRow,
    UserRow,
)
from oncall.reconcile.apply import ACCESS_REVOKED, Origin, apply_config
from oncall.testing.incidents import open_incident

from .conftest import NOW, with_integrations

PROBLEM = "application/problem+json"
PAYMENTS_RESPONDER = "marcus.bell@northwind.example"
PLATFORM_RESPONDER = "jordan.reyes@northwind.example"
PLATFORM_ADMIN = "priya.raman@northwind.example"  # payments admin, named in Organization.admins
STOREFRONT_ADMIN = "lena.fischer@northwind.example"  # an admin, but of another team
ACTIONS: list[tuple[str, dict[str, Any] | None]] = [
    ("acknowledge", None),
    ("reassign", {"assignee": PAYMENTS_RESPONDER}),
    ("resolve", {"note": "fixed it"}),
    ("notes", {"text": "looking"}),
    ("priority", {"priority": "P5"}),
]


def open_platform_incident(engine: Engine) -> int:
    with write_session(engine) as session:
        return open_incident(session, service="kubernetes-prod", group_key="nodes",
                             title="Nodes not ready", integration="prometheus-prod", now=NOW)


def post(api: Any, key: str, path: str, body: Any = None) -> Any:
    return api.client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})


def status_of(engine: Engine, incident_id: int) -> tuple[str, str | None, int | None]:
    with Session(engine) as session:
        row = session.get(IncidentRow, incident_id)
        assert row is not None
        return row.status, row.priority, row.assignee_id


@pytest.mark.parametrize(("action", "body"), ACTIONS)
def test_a_payments_responder_cannot_act_on_a_platform_incident(
    api: Any, action: str, body: dict[str, Any] | None
) -> None:
    incident_id = open_platform_incident(api.engine)
    before = status_of(api.engine, incident_id)
    key = api.key(PAYMENTS_RESPONDER)
    response = post(api, key, f"/api/v1/incidents/{incident_id}/{action}", body)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "platform" in response.json()["detail"]
    assert status_of(api.engine, incident_id) == before
    with Session(api.engine) as session:
        types = session.scalars(
            select(AuditEventRow.type).where(AuditEventRow.incident_id == incident_id)
        ).all()
    assert types == ["incident.triggered", "incident.alert"]


@pytest.mark.parametrize("email", [STOREFRONT_ADMIN])
def test_an_admin_of_another_team_cannot_act_either(api: Any, email: str) -> None:
    incident_id = open_platform_incident(api.engine)
    response = post(api, api.key(email), f"/api/v1/incidents/{incident_id}/acknowledge")
    assert response.status_code == 403


@pytest.mark.parametrize("email", [PLATFORM_RESPONDER, PLATFORM_ADMIN])
def test_the_owning_team_and_platform_admins_act(api: Any, email: str) -> None:
    incident_id = open_platform_incident(api.engine)
    key = api.key(email)
    for action, body in ACTIONS:
        response = post(api, key, f"/api/v1/incidents/{incident_id}/{action}", body)
        assert response.status_code == 200, (action, response.text)
    assert status_of(api.engine, incident_id)[0] == "resolved"


def test_someone_the_incident_paged_may_act(api: Any) -> None:
    incident_id = open_platform_incident(api.engine)
    with write_session(api.engine) as session:
        marcus = session.scalar(select(UserRow).where(UserRow.email == PAYMENTS_RESPONDER))
        assert marcus is not None
        session.add(NotificationRow(
            idempotency_key=f"page:{incident_id}:{marcus.id}", incident_id=incident_id,
            user_id=marcus.id, channel="sms", address="+14155550100", kind="page",
            status="sent", attempt_count=1, next_attempt_at=NOW, created_at=NOW,
        ))
    key = api.key(PAYMENTS_RESPONDER)
    response = post(api, key, f"/api/v1/incidents/{incident_id}/acknowledge")
    assert response.status_code == 200, response.text


def test_a_reassigned_incident_may_be_handled_by_its_assignee(api: Any) -> None:
    incident_id = open_platform_incident(api.engine)
    response = post(api, api.key(PLATFORM_RESPONDER), f"/api/v1/incidents/{incident_id}/reassign",
                    {"assignee": PAYMENTS_RESPONDER})
    assert response.status_code == 200, response.text
    response = post(api, api.key(PAYMENTS_RESPONDER),
                    f"/api/v1/incidents/{incident_id}/acknowledge")
    assert response.status_code == 200, response.text


# --- row 5: a user removed from config keeps nothing -------------------------------------------


def without(config: ConfigSet, email: str) -> ConfigSet:
    """The config with `email` removed from every team (as a pull request would)."""
    out = ConfigSet(objects={k: dict(v) for k, v in config.objects.items()},
                    sources=dict(config.sources))
    for name, team in config.teams.items():
        kept = [m for m in team.members if m.email != email]
        if len(kept) != len(team.members):
            out.objects[Team.KIND][name] = team.model_copy(update={"members": kept})
    return out


def test_a_removed_users_key_lists_nothing_after_apply(
    api: Any, example_config: ConfigSet
) -> None:
    key = api.key(PAYMENTS_RESPONDER)
    open_platform_incident(api.engine)
    listed = api.client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200 and listed.json()["items"]
    origin = Origin(actor="tests", source="tests", revision="r2", now=NOW + timedelta(minutes=1))
    apply_config(api.engine, without(with_integrations(example_config), PAYMENTS_RESPONDER),
                 origin)
    listed = api.client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 401, listed.text
    assert "items" not in listed.json()
    with Session(api.engine) as session:
        row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.name.contains(PAYMENTS_RESPONDER)))
        assert row is not None and row.revoked_at == origin.now
        event = session.scalar(
            select(AuditEventRow).where(AuditEventRow.type == ACCESS_REVOKED)
        )
        assert event is not None and event.subject_name == PAYMENTS_RESPONDER
        assert event.data["revoked"]["api_keys"] == 1
