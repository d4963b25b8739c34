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
        "runnable": "",
    } in s.runbooks
    assert {"title": "purge-cdn-cache", "url": "", "kind": "automated",
            "runnable": "yes"} in s.runbooks


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
    assert (note["text"], note["note"]) == ("Note by Samuel Osei", "Looking at **pods**")
    call(s, "open_dialog", "resolve", iid)
    call(s, "set_dialog_text", "pods restarted")
    call(s, "submit_dialog")
    assert s.incident["status"] == "resolved"
    assert s.timeline[-1]["text"] == "Resolved by Samuel Osei: pods restarted"
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


def test_run_a_runbook_from_its_form_bad_then_good(
    state: Callable[..., Any], incident: Callable[..., int]
) -> None:
    iid = incident()  # storefront-web offers purge-cdn-cache
    s = _load(state, RESPONDER, iid)
    assert s.can_run_runbooks
    assert {"title": "purge-cdn-cache", "url": "", "kind": "automated",
            "runnable": "yes"} in s.runbooks
    call(s, "open_runbook", "purge-cdn-cache")
    assert s.runbook_name == "purge-cdn-cache"
    assert [(f["name"], f["kind"], f["required"]) for f in s.runbook_fields] == [
        ("paths", "list", "yes"), ("hard", "checkbox", "")]
    assert s.runbook_values == {"paths": "", "hard": "false"}  # the schema's default
    call(s, "set_runbook_value", "paths", "/checkout, cart")
    call(s, "submit_runbook")
    assert s.runbook_name == "purge-cdn-cache"  # still open, the problem beside its field
    assert s.runbook_errors == {"paths": "'cart' does not match '^/'"}
    assert s.runbook_runs == [] and s.error == ""
    call(s, "set_runbook_value", "paths", "/checkout, /cart")
    assert s.runbook_errors == {}  # editing the field clears its problem
    call(s, "set_runbook_value", "hard", True)
    call(s, "submit_runbook")
    assert s.runbook_name == "" and "queued" in s.notice
    [run] = s.runbook_runs
    assert run["runbook"] == "purge-cdn-cache" and run["state"] == "queued"
    assert run["by"] == f"user:{RESPONDER}"
    assert run["params"] == 'hard=true, paths=["/checkout", "/cart"]'
    assert s.timeline[-1]["kind"] == "runbook.requested"
    assert s.timeline[-1]["text"] == (
        'Runbook purge-cdn-cache run by Samuel Osei (hard=true, paths=["/checkout", "/cart"])')


def test_an_observer_sees_no_run_button_and_is_refused_anyway(
    state: Callable[..., Any], incident: Callable[..., int]
) -> None:
    iid = incident()
    s = _load(state, OBSERVER, iid)
    assert not s.can_run_runbooks
    call(s, "open_runbook", "purge-cdn-cache")
    call(s, "set_runbook_value", "paths", "/checkout")
    call(s, "submit_runbook")
    assert "cannot run runbook purge-cdn-cache" in s.runbook_problem
    assert s.runbook_runs == []


def test_a_runbook_the_service_does_not_offer_is_refused(
    state: Callable[..., Any], incident: Callable[..., int]
) -> None:
    iid = incident()
    s = _load(state, RESPONDER, iid)
    call(s, "open_runbook", "restart-checkout")  # in the config, not offered by storefront-web
    call(s, "set_runbook_value", "region", "eu-west-1")
    call(s, "submit_runbook")
    assert "does not offer runbook 'restart-checkout'" in s.runbook_problem
    assert s.runbook_runs == []
