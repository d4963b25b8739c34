"""Issue 15 row 4 in the web app: incident actions are scoped to the owning team.

A storefront responder's acknowledge, resolve, reassign, priority change and note on a platform
incident are refused by the server (the button being visible is not the guard); a platform admin
named in `Organization.admins` acts on any team's incident.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.db.models import AuditEventRow, IncidentRow
from oncall.web.state.incident import IncidentState

from .conftest import RESPONDER, call

PLATFORM_ADMIN = "priya.raman@northwind.example"  # payments admin, named in Organization.admins


def _load(state: Callable[..., Any], email: str, iid: int) -> IncidentState:
    s: IncidentState = state(IncidentState, email, f"/incidents/{iid}", {"incident_id": str(iid)})
    call(s, "load")
    return s


def _events(web: Engine, iid: int) -> list[str]:
    with Session(web) as session:
        return list(
            session.scalars(
                select(AuditEventRow.type)
                .where(AuditEventRow.incident_id == iid)
                .order_by(AuditEventRow.id)
            )
        )


def test_a_responder_of_another_team_is_refused_every_action(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    iid = incident("Nodes not ready", service_name="kubernetes-prod")
    s = _load(state, RESPONDER, iid)  # a storefront responder
    call(s, "acknowledge", iid)
    assert "platform" in s.error
    call(s, "change_priority", iid, "P5")
    assert "platform" in s.error
    for kind, text in (("resolve", "done"), ("reassign", RESPONDER), ("note", "hi")):
        s.error = ""
        call(s, "open_dialog", kind, iid)
        call(s, "set_dialog_text", text)
        call(s, "submit_dialog")
        assert "platform" in s.error, kind
    with Session(web) as session:
        row = session.get(IncidentRow, iid)
        assert row is not None
        assert (row.status, row.priority, row.assignee_id) == ("triggered", "P2", None)
    assert _events(web, iid) == ["incident.triggered", "incident.alert"]


def test_a_platform_admin_acts_on_any_team_incident(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    iid = incident("Nodes not ready", service_name="kubernetes-prod")
    s = _load(state, PLATFORM_ADMIN, iid)
    call(s, "acknowledge", iid)
    assert s.error == "" and s.incident["status"] == "acknowledged"


def test_the_buttons_show_only_to_who_may_act(web: Engine, state: Callable[..., Any],
                                             incident: Callable[..., int]) -> None:
    """The page decides with `may_act`, as the server does: a storefront responder sees the
    actions on storefront incidents, not on a platform incident, until that incident pages
    them (it is assigned to them)."""
    from oncall.db.engine import write_session
    from oncall.db.models import UserRow
    from oncall.web.state.incidents import IncidentsState

    own = incident("Storefront down", "storefront-web")
    other = incident("Kubernetes API slow", "kubernetes-prod")
    assert _load(state, RESPONDER, own).can_act
    assert not _load(state, RESPONDER, other).can_act
    assert _load(state, PLATFORM_ADMIN, other).can_act

    def listed(email: str) -> dict[str, str]:
        s: IncidentsState = state(IncidentsState, email, "/")
        call(s, "load")
        return {row["title"]: row["can_act"] for row in s.items}

    assert listed(RESPONDER) == {"Storefront down": "yes", "Kubernetes API slow": ""}
    with write_session(web) as session:
        samuel = session.scalar(select(UserRow.id).where(UserRow.email == RESPONDER))
        session.get(IncidentRow, other).assignee_id = samuel  # type: ignore[union-attr]
    assert _load(state, RESPONDER, other).can_act
    assert listed(RESPONDER) == {"Storefront down": "yes", "Kubernetes API slow": "yes"}
