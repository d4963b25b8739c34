"""The dashboard's bulk acknowledge and resolve, through the state as a browser drives it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from oncall.db.models import AuditEventRow, IncidentRow
from oncall.web.state.incidents import IncidentsState

from .conftest import OBSERVER, RESPONDER, call


def _load(state: Callable[..., Any], email: str) -> IncidentsState:
    s: IncidentsState = state(IncidentsState, email)
    call(s, "load")
    return s


def _status(web: Engine, *ids: int) -> list[str]:
    with web.connect() as conn:
        found = dict(conn.execute(select(IncidentRow.id, IncidentRow.status)
                                  .where(IncidentRow.id.in_(ids))).all())
    return [found[i] for i in ids]


def test_mixed_selection_acts_on_what_is_allowed_and_names_what_was_refused(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    mine = incident("Checkout errors")  # storefront: the responder's team
    theirs = incident("Card declines", "payment-gateway")  # payments
    done = incident("Cart slow")
    s = _load(state, RESPONDER)
    call(s, "acknowledge", done)
    for iid in (mine, theirs, done):
        call(s, "toggle_selected", str(iid))
    assert s.selected == [str(done), str(theirs), str(mine)]  # the list's order, newest first
    call(s, "bulk_acknowledge")
    assert _status(web, mine, theirs, done) == ["acknowledged", "triggered", "acknowledged"]
    assert s.error.startswith(f"3 selected: 1 acknowledged (#{mine}); "
                              f"1 already acknowledged (#{done}); 1 refused: #{theirs} (")
    assert s.notice == "" and s.selected == []
    with web.connect() as conn:
        actors = list(conn.scalars(select(AuditEventRow.actor).where(
            AuditEventRow.incident_id == mine, AuditEventRow.type == "incident.acknowledged")))
    assert actors == [f"user:{RESPONDER}"]
    assert [i["status"] for i in s.items if i["id"] == str(mine)] == ["acknowledged"]


def test_bulk_resolve_with_a_note_confirms_in_one_line(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    first, second = incident("Checkout errors"), incident("Cart slow")
    s = _load(state, RESPONDER)
    call(s, "toggle_all_shown", True)
    assert s.selected == [str(second), str(first)] and s.all_shown_selected
    call(s, "open_bulk_resolve")
    assert s.bulk_resolving
    call(s, "set_bulk_note", "rolled back release 42")
    call(s, "bulk_resolve")
    assert _status(web, first, second) == ["resolved", "resolved"]
    assert s.error == ""
    assert s.notice == f"2 selected: 2 resolved (#{second}, #{first})."
    assert not s.bulk_resolving and s.selected == [] and s.items == []  # resolved: not open


def test_an_observer_is_refused_for_each_and_nothing_changes(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    iid = incident()
    s = _load(state, OBSERVER)
    call(s, "toggle_all_shown")
    call(s, "bulk_acknowledge")
    assert _status(web, iid) == ["triggered"]
    assert s.error.startswith(f"1 selected: 0 acknowledged; 1 refused: #{iid} (")
    assert "observer" in s.error


def test_selection_follows_what_is_shown(
    state: Callable[..., Any], incident: Callable[..., int]
) -> None:
    checkout, search = incident("Checkout errors"), incident("Search slow", "search-api")
    s = _load(state, RESPONDER)
    call(s, "toggle_all_shown")
    call(s, "toggle_selected", "999999")  # not on the list: ignored
    assert s.selected == [str(search), str(checkout)]
    call(s, "set_service_filter", "search-api")
    assert s.selected == [str(search)]
    call(s, "toggle_all_shown")  # everything shown is chosen: unselect all
    assert s.selected == [] and not s.all_shown_selected
    call(s, "bulk_acknowledge")
    assert s.error == "Select one or more incidents first."
    call(s, "open_bulk_resolve")
    assert not s.bulk_resolving
