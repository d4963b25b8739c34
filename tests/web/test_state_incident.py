"""The incident page's handlers: detail, timeline, runbooks, actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oncall.web.state.incident import IncidentState

from .conftest import OBSERVER, RESPONDER, call


def _load(state: Callable[..., Any], email: str, iid: int) -> IncidentState:
    s: IncidentState = state(IncidentState, email, f"/incidents/{iid}", {"incident_id": str(iid)})
    call(s, "load")
    return s


def test_detail_shows_timeline_and_runbooks(
    state: Callable[..., Any], incident: Callable[..., int]
) -> None:
    iid = incident("Checkout errors")
    s = _load(state, OBSERVER, iid)
    assert s.found and s.incident_id == iid
    assert s.incident["title"] == "Checkout errors" and s.incident["policy"] == "storefront"
    assert s.labels == [{"name": "env", "value": "prod"}]
    assert [t["kind"] for t in s.timeline] == ["incident.triggered", "incident.alert"]
    assert {
        "title": "Storefront incident guide",
        "url": "https://wiki.northwind.example/storefront/incidents",
        "kind": "link",
    } in s.runbooks
    assert {"title": "purge-cdn-cache", "url": "", "kind": "automated"} in s.runbooks


def test_unknown_incident(state: Callable[..., Any], incident: Callable[..., int]) -> None:
    s = _load(state, RESPONDER, 999)
    assert not s.found and s.timeline == []


def test_actions_add_timeline_entries(
    state: Callable[..., Any], incident: Callable[..., int]
) -> None:
    iid = incident()
    s = _load(state, RESPONDER, iid)
    call(s, "acknowledge", iid)
    assert s.incident["status"] == "acknowledged"
    call(s, "change_priority", iid, "P1")
    call(s, "open_dialog", "note", iid)
    call(s, "set_dialog_text", "Looking at **pods**")
    call(s, "submit_dialog")
    note = s.timeline[-1]
    assert note["kind"] == "incident.note" and note["is_note"] == "yes"
    assert note["actor"] == f"user:{RESPONDER}"
    call(s, "open_dialog", "resolve", iid)
    call(s, "set_dialog_text", "pods restarted")
    call(s, "submit_dialog")
    assert s.incident["status"] == "resolved"
    assert s.timeline[-1]["text"] == "Resolved: pods restarted"
    assert [t["kind"] for t in s.timeline] == [
        "incident.triggered",
        "incident.alert",
        "incident.acknowledged",
        "incident.priority_changed",
        "incident.note",
        "incident.resolved",
    ]


def test_observer_cannot_act(state: Callable[..., Any], incident: Callable[..., int]) -> None:
    iid = incident()
    s = _load(state, OBSERVER, iid)
    call(s, "open_dialog", "resolve", iid)
    call(s, "submit_dialog")
    assert "observer" in s.error and s.incident["status"] == "triggered"


def test_tz_and_stop_live(state: Callable[..., Any], incident: Callable[..., int]) -> None:
    iid = incident()
    s = _load(state, RESPONDER, iid)
    call(s, "apply_tz", "America/New_York")
    assert s.incident["triggered"].endswith("08:00")
    s.live = True
    call(s, "stop_live")
    assert not s.live
