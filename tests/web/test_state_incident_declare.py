"""Declare an incident from the incidents page, escalate it now, and set its roles from the
incident page (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from oncall.db.models import IncidentRow
from oncall.web.state.incident import IncidentState
from oncall.web.state.incidents import IncidentsState

from .conftest import ADMIN, OBSERVER, RESPONDER, call


def _list(state: Callable[..., Any], email: str) -> IncidentsState:
    s: IncidentsState = state(IncidentsState, email, "/")
    call(s, "load")
    return s


def _load(state: Callable[..., Any], email: str, iid: int) -> IncidentState:
    s: IncidentState = state(IncidentState, email, f"/incidents/{iid}", {"incident_id": str(iid)})
    call(s, "load")
    return s


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count(IncidentRow.id))) or 0


def test_declare_form_opens_the_incident_and_names_the_commander(
        state: Callable[..., Any], web: Engine) -> None:
    s = _list(state, RESPONDER)
    call(s, "open_declare")
    assert s.declaring and s.declare_priority == "P3"
    assert s.declare_choices == ["catalog-api", "search-api", "storefront-web"]
    assert s.declare_service == "catalog-api"
    call(s, "set_declare_field", "service", "storefront-web")
    call(s, "set_declare_field", "title", "Basket empties itself")
    call(s, "set_declare_field", "priority", "P2")
    call(s, "set_declare_field", "description", "Seen by **support**")
    result = call(s, "submit_declare")
    with Session(web) as session:
        incident = session.scalars(select(IncidentRow)).one()
    assert f"/incidents/{incident.id}" in str(result)
    assert not s.declaring and s.declare_error == ""
    assert (incident.title, incident.priority, incident.status) == (
        "Basket empties itself", "P2", "triggered")
    page = _load(state, RESPONDER, incident.id)
    assert page.roles[0] == {"role": "commander", "label": "Commander", "user": RESPONDER,
                             "name": "Samuel Osei", "mine": "yes"}
    texts = [t["text"] for t in page.timeline]
    assert "Samuel Osei took commander" in texts
    assert any(t.startswith("Declared by Samuel Osei on storefront-web") for t in texts)
    assert page.incident["description"] == "Seen by **support**"


def test_declare_form_shows_what_is_wrong_and_opens_nothing(
        state: Callable[..., Any], web: Engine) -> None:
    s = _list(state, RESPONDER)
    call(s, "open_declare")
    call(s, "set_declare_field", "title", "   ")
    call(s, "submit_declare")
    assert s.declaring and s.declare_error == "a title is required"
    assert _count(web) == 0
    observer = _list(state, OBSERVER)
    call(observer, "open_declare")
    assert observer.declare_choices == []
    call(observer, "set_declare_field", "service", "storefront-web")
    call(observer, "set_declare_field", "title", "x")
    call(observer, "submit_declare")
    assert "cannot declare an incident" in observer.declare_error
    assert _count(web) == 0


def test_escalate_now_and_roles_from_the_incident_page(
        state: Callable[..., Any], incident: Callable[..., int]) -> None:
    iid = incident()
    s = _load(state, RESPONDER, iid)
    assert [r["user"] for r in s.roles] == ["", "", ""]
    call(s, "escalate_now")
    assert s.error == "" and "being paged now" in s.notice
    assert s.timeline[-1]["kind"] == "incident.escalate_requested"
    call(s, "take_role", "commander")
    call(s, "open_role", "scribe")
    assert ADMIN in s.role_choices
    call(s, "set_role_user", ADMIN)
    call(s, "submit_role")
    assert s.role_dialog == "" and s.notice == f"{ADMIN} is scribe now."
    assert [r["user"] for r in s.roles] == [RESPONDER, ADMIN, ""]
    call(s, "clear_role", "scribe")
    assert [r["user"] for r in s.roles] == [RESPONDER, "", ""]
    assert [t["text"] for t in s.timeline if t["kind"].startswith("incident.role_")] == [
        "Samuel Osei took commander",
        "Samuel Osei assigned scribe to Lena Fischer",
        "Samuel Osei cleared scribe (was Lena Fischer)",
    ]
    observer = _load(state, OBSERVER, iid)
    call(observer, "take_role", "communications")
    assert "observer" in observer.error
    call(s, "open_dialog", "resolve", iid)
    call(s, "submit_dialog")
    call(s, "escalate_now")
    assert s.error == f"Incident #{iid} is resolved: only a triggered incident escalates."
