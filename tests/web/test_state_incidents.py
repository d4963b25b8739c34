"""The dashboard's event handlers: loading, filters, pages, actions and the live poll."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from oncall.db.models import AuditEventRow, IncidentRow
from oncall.web.state.incidents import ANY, IncidentsState

from .conftest import ADMIN, OBSERVER, RESPONDER, call


def _load(state: Callable[..., Any], email: str | None) -> IncidentsState:
    s: IncidentsState = state(IncidentsState, email)
    call(s, "load")
    return s


def test_load_without_session_redirects_to_sign_in(state: Callable[..., Any]) -> None:
    s = state(IncidentsState, None)
    result = call(s, "load")
    assert "/login?next=/" in str(result)
    assert s.items == []


def test_load_lists_open_incidents_with_counts(
    state: Callable[..., Any], incident: Callable[..., int]
) -> None:
    first = incident("Checkout errors")
    incident("Search slow", "search-api")
    s = _load(state, RESPONDER)
    assert s.user_email == RESPONDER and s.can_respond
    assert [i["title"] for i in s.items] == ["Search slow", "Checkout errors"]
    assert s.counts["open"] == 2 and s.counts["triggered"] == 2 and s.total == 2
    assert s.items[1]["id"] == str(first) and s.items[1]["team"] == "storefront"


@pytest.mark.parametrize(
    ("handler", "value", "titles"),
    [
        ("set_service_filter", "search-api", ["Search slow"]),
        ("set_team_filter", "payments", ["Card declines"]),
        ("set_priority_filter", "P2", ["Card declines", "Search slow", "Checkout errors"]),
        ("set_text_filter", "checkout", ["Checkout errors"]),
        ("set_status_filter", "resolved", []),
    ],
)
def test_filters(
    state: Callable[..., Any],
    incident: Callable[..., int],
    handler: str,
    value: str,
    titles: list[str],
) -> None:
    incident("Checkout errors")
    incident("Search slow", "search-api")
    incident("Card declines", "payment-gateway")
    s = _load(state, OBSERVER)
    call(s, handler, value)
    assert [i["title"] for i in s.items] == titles
    call(s, "clear_filters")
    assert len(s.items) == 3 and s.service == ANY


def test_pages(state: Callable[..., Any], incident: Callable[..., int]) -> None:
    for n in range(30):
        incident(f"Incident {n:02d}")
    s = _load(state, ADMIN)
    assert s.pages == 2 and len(s.items) == 25 and s.items[0]["title"] == "Incident 29"
    call(s, "next_page")
    assert s.page == 2 and [i["title"] for i in s.items][:2] == ["Incident 04", "Incident 03"]
    call(s, "next_page")
    assert s.page == 2
    call(s, "prev_page")
    assert s.page == 1 and s.items[0]["title"] == "Incident 29"


def test_acknowledge_from_the_list(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    iid = incident()
    s = _load(state, RESPONDER)
    call(s, "acknowledge", str(iid))
    assert s.error == "" and "acknowledged" in s.notice
    assert s.items[0]["status"] == "acknowledged"
    call(s, "acknowledge", str(iid))
    assert "already" in s.notice


def test_observer_is_refused_by_the_service_layer(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    iid = incident()
    s = _load(state, OBSERVER)
    assert not s.can_respond
    call(s, "acknowledge", iid)
    assert "observer" in s.error
    call(s, "change_priority", iid, "P1")
    assert "observer" in s.error
    with web.connect() as conn:
        assert conn.scalar(select(IncidentRow.status).where(IncidentRow.id == iid)) == "triggered"


def test_priority_and_dialog_actions(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    iid = incident()
    s = _load(state, ADMIN)
    call(s, "change_priority", iid, "P1")
    assert s.items[0]["priority"] == "P1"
    call(s, "open_dialog", "note", iid)
    assert s.dialog == "note" and s.dialog_incident == iid
    call(s, "set_dialog_text", "Rolled back **v42**")
    call(s, "submit_dialog")
    assert s.dialog == "" and "Note added" in s.notice
    call(s, "open_dialog", "reassign", iid)
    assert RESPONDER in s.reassign_choices
    call(s, "set_dialog_text", RESPONDER)
    call(s, "submit_dialog")
    assert s.items[0]["assignee"] == RESPONDER
    call(s, "open_dialog", "resolve", iid)
    call(s, "set_dialog_text", "fixed by rollback")
    call(s, "submit_dialog")
    assert s.items == [] and s.counts["resolved"] == 1
    call(s, "open_dialog", "note", iid)
    call(s, "close_dialog")
    assert s.dialog == ""
    with web.connect() as conn:
        types = list(
            conn.scalars(
                select(AuditEventRow.type)
                .where(AuditEventRow.incident_id == iid)
                .order_by(AuditEventRow.id)
            )
        )
    assert types[-4:] == [
        "incident.priority_changed",
        "incident.note",
        "incident.reassigned",
        "incident.resolved",
    ]


def test_empty_note_is_refused_and_dialog_stays_open(
    state: Callable[..., Any], incident: Callable[..., int]
) -> None:
    iid = incident()
    s = _load(state, ADMIN)
    call(s, "open_dialog", "note", iid)
    call(s, "submit_dialog")
    assert "empty" in s.error and s.dialog == "note"


def test_revoked_session_acts_as_no_one(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    from oncall.db.engine import write_session
    from oncall.db.models import SessionRow

    iid = incident()
    s = _load(state, ADMIN)
    with write_session(web) as session:
        for row in session.scalars(select(SessionRow)):
            row.revoked_at = row.created_at
    assert s.items
    result = call(s, "acknowledge", iid)
    assert "/login?next=/" in str(result)
    assert s.items == [] and s.user_email == "" and s.counts == {}
    with web.connect() as conn:
        assert conn.scalar(select(IncidentRow.status).where(IncidentRow.id == iid)) == "triggered"


def test_poll_refreshes_only_on_change(
    state: Callable[..., Any], incident: Callable[..., int]
) -> None:
    from oncall.web.state import live

    s = _load(state, RESPONDER)
    assert s.items == []
    assert not s._poll_step(live.current_change())
    incident("New one")
    assert s._poll_step(live.current_change())
    assert [i["title"] for i in s.items] == ["New one"]


def test_timezone_and_stop_live(state: Callable[..., Any], incident: Callable[..., int]) -> None:
    incident()
    s = _load(state, RESPONDER)
    call(s, "apply_tz", "Asia/Kolkata")
    assert s.tz == "Asia/Kolkata" and s.tz_known and s.items[0]["triggered"].endswith("17:30")
    call(s, "apply_tz", "Not/AZone")
    assert s.tz == "UTC"
    s.live = True
    call(s, "stop_live")
    assert not s.live
