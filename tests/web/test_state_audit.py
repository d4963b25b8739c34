"""The audit log page: platform admins filter and page through it; everyone else is refused
and sees no row, on every handler, whatever the browser sets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update

from oncall.db.engine import write_session
from oncall.db.models import UserRow
from oncall.incidents import events
from oncall.web.permissions import HANDLERS, Rule
from oncall.web.state.audit import REFUSED, AuditState

from .conftest import ADMIN, NOW, OBSERVER, RESPONDER, call

PLATFORM_ADMIN = "priya.raman@northwind.example"  # in Organization.admins
MARKER = "audit.test_marker"


@pytest.fixture
def logged(web: Engine) -> list[int]:
    """130 marker events a minute apart (newest last), five of them sharing one instant, by
    two actors on two schedules; their ids, newest first as the page orders them."""
    with write_session(web) as session:
        made = []
        for i in range(130):
            at = NOW - timedelta(minutes=min(i, 60))  # 60..129 all at NOW - 60 min
            row = events.record(session, at=at, actor=f"user:{ADMIN if i % 2 else RESPONDER}",
                                type=MARKER, data={"n": i})
            row.subject_kind = "schedule"
            row.subject_name = "storefront-primary" if i % 3 else "storefront-secondary"
            made.append(row)
        session.flush()
        rows = [(r.at, r.id) for r in made]
    return [ident for _, ident in sorted(rows, reverse=True)]


def _page(state: Callable[..., Any], who: str) -> AuditState:
    s: AuditState = state(AuditState, who, "/audit")
    call(s, "load")
    return s


def _filtered(s: AuditState, **fields: str) -> None:
    for name, value in fields.items():
        call(s, "set_field", name, value)
    call(s, "apply_filters")


def _all_pages(s: AuditState) -> list[str]:
    seen = [r["id"] for r in s.rows]
    while s.has_older:
        call(s, "older")
        seen += [r["id"] for r in s.rows]
    return seen


def test_an_admin_pages_through_the_filtered_log(state: Callable[..., Any],
                                                  logged: list[int]) -> None:
    s = _page(state, PLATFORM_ADMIN)
    assert s.allowed and s.refused == "" and s.rows
    _filtered(s, action="audit.test_")
    assert s.error == ""
    assert [int(r["id"]) for r in s.rows] == logged[:50]
    assert s.page_number == 1 and s.has_older
    seen = _all_pages(s)
    assert [int(i) for i in seen] == logged  # no row twice, none missed, same-instant rows too
    assert s.page_number == 3 and not s.has_older
    call(s, "newer")
    assert [int(r["id"]) for r in s.rows] == logged[50:100] and s.page_number == 2
    call(s, "newer")
    assert [int(r["id"]) for r in s.rows] == logged[:50] and s.page_number == 1


def test_each_filter(state: Callable[..., Any], logged: list[int]) -> None:
    s = _page(state, PLATFORM_ADMIN)
    _filtered(s, action="audit.test_marker", actor="LENA")
    seen = _all_pages(s)
    assert len(seen) == 65 and all(r["who"] == "Lena Fischer" for r in s.rows)
    call(s, "clear_filters")
    _filtered(s, action="audit.", object_type="Schedule", object_name="storefront-secondary")
    seen = _all_pages(s)
    assert len(seen) == 44 and {r["object"] for r in s.rows} == {"schedule storefront-secondary"}
    call(s, "clear_filters")
    s.tz = "Europe/Berlin"  # 12:00 UTC is 13:00 in Berlin
    _filtered(s, action="audit.", since="2026-03-10T12:50", until="2026-03-10T13:00")
    assert [int(r["id"]) for r in s.rows] == logged[1:11]  # 11:59 .. 11:50 UTC
    assert s.rows[0]["at"] == "2026-03-10 12:59:00" and s.rows[0]["details"] == "n=1"
    assert "since=2026-03-10T12%3A50" in s.export_url and "tz=Europe%2FBerlin" in s.export_url


def test_a_bad_filter_is_explained(state: Callable[..., Any], logged: list[int]) -> None:
    s = _page(state, PLATFORM_ADMIN)
    _filtered(s, since="last tuesday")
    assert "from: expected a date" in s.error and s.rows == []


def test_a_row_reads_as_who_what_which_when(state: Callable[..., Any], web: Engine) -> None:
    with write_session(web) as session:
        events.record(session, at=NOW, actor=f"user:{ADMIN}", type="incident.acknowledged",
                      incident_id=None, data={"via": "web"})
    s = _page(state, PLATFORM_ADMIN)
    _filtered(s, action="incident.acknowledged")
    (row,) = s.rows
    assert (row["who"], row["actor"], row["action"], row["details"]) == (
        "Lena Fischer", f"user:{ADMIN}", "incident.acknowledged", "via=web")


@pytest.mark.parametrize("who", [ADMIN, RESPONDER, OBSERVER])
def test_everyone_else_is_refused_on_every_handler(
    state: Callable[..., Any], logged: list[int], who: str
) -> None:
    """A team admin is no platform admin. Each handler is called as a browser that switched
    the page's `allowed` back on and asks for rows anyway."""
    s = _page(state, who)
    assert not s.allowed and s.refused == REFUSED and s.rows == []
    names = {n.split(".")[1] for n in HANDLERS if n.startswith("AuditState.")} - {"setvar"}
    for name in sorted(names):  # setvar: Reflex's own, sets no var of this page (no setters)
        s.allowed = True
        s._cursors, s._older = ["", str(logged[0])], "x"
        args = {"set_field": ("actor", "lena"), "apply_tz": ("UTC",)}.get(name, ())
        call(s, name, *args)
        assert s.rows == [], name
        if HANDLERS[f"AuditState.{name}"] is Rule.PLATFORM_ADMIN:
            assert not s.allowed and s.refused == REFUSED, name


def test_every_handler_that_shows_rows_is_a_platform_admins(state: Callable[..., Any]) -> None:
    rules = {n: r for n, r in HANDLERS.items() if n.startswith("AuditState.")}
    assert {n for n, r in rules.items() if r is not Rule.PLATFORM_ADMIN} == {
        "AuditState.set_field", "AuditState.setvar"}  # form fields: no rows read


def test_removed_from_the_admins_refused_on_the_next_click(
    state: Callable[..., Any], web: Engine, logged: list[int]
) -> None:
    s = _page(state, PLATFORM_ADMIN)
    assert s.rows
    with write_session(web) as session:
        session.execute(update(UserRow).where(UserRow.email == PLATFORM_ADMIN)
                        .values(platform_admin=False))
    call(s, "older")
    assert s.rows == [] and s.refused == REFUSED and not s.allowed
