"""Status pages in the app: the list, one page, and writing on it as a responder would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oncall.web.state.status import WHOLE_PAGE, StatusPagesState

from .conftest import OBSERVER, RESPONDER, call

PAGE = "northwind-status"


def _page(state: Callable[..., Any], who: str) -> StatusPagesState:
    s: StatusPagesState = state(StatusPagesState, who, f"/status-pages/{PAGE}", {"name": PAGE})
    call(s, "load")
    return s


def test_every_page_is_listed_with_its_overall_status(state: Callable[..., Any]) -> None:
    s: StatusPagesState = state(StatusPagesState, OBSERVER, "/status-pages")
    call(s, "load")
    listed = {p["name"]: p for p in s.pages}
    assert {"northwind-status", "internal"} <= set(listed)
    assert listed[PAGE]["description"] == "All Systems Operational"
    assert listed[PAGE]["url"] == f"/status/{PAGE}"


def test_a_responder_posts_updates_and_resolves_a_notice(state: Callable[..., Any]) -> None:
    s = _page(state, RESPONDER)
    assert s.found and s.can_write
    assert [c["name"] for c in s.components][:2] == ["Website", "Search"]
    call(s, "set_new_title", "Slow checkout")
    call(s, "set_new_body", "Some payments take longer than usual.")
    call(s, "set_new_component", "Checkout and payments")
    call(s, "post_notice")
    assert s.error == "" and "posted" in s.notice
    (notice,) = s.notices
    assert notice["title"] == "Slow checkout"
    assert notice["components"] == "Checkout and payments"
    assert [u["body"] for u in notice["updates"]] == ["Some payments take longer than usual."]
    assert s.new_title == "" and s.new_component == WHOLE_PAGE

    call(s, "set_update_status", notice["id"], "resolved")
    call(s, "set_update_text", notice["id"], "Payments are fast again.")
    call(s, "update_notice", notice["id"])
    assert s.error == ""
    assert s.notices == []
    (past,) = s.past
    assert past["status"] == "resolved"
    assert [u["body"] for u in past["updates"]] == ["Payments are fast again.",
                                                   "Some payments take longer than usual."]


def test_a_manual_status_shows_who_set_it_until_cleared(state: Callable[..., Any]) -> None:
    s = _page(state, RESPONDER)
    call(s, "set_manual_status", "Search", "degraded_performance")
    call(s, "set_manual_for", "Search", "1 hour")
    call(s, "set_component", "Search")
    assert s.error == ""
    search = next(c for c in s.components if c["name"] == "Search")
    assert search["status"] == "degraded_performance" and search["manual"] == "yes"
    assert search["manual_by"] == RESPONDER and search["manual_until"] != "until cleared"
    assert next(p for p in s.pages if p["name"] == PAGE)["description"] == (
        "Minor Service Outage")
    call(s, "clear_component", "Search")
    search = next(c for c in s.components if c["name"] == "Search")
    assert search["status"] == "operational" and search["manual"] == ""


def test_an_observer_reads_but_cannot_write(state: Callable[..., Any]) -> None:
    s = _page(state, OBSERVER)
    assert s.found and not s.can_write
    call(s, "set_new_title", "Nope")
    call(s, "set_new_body", "Nope")
    call(s, "post_notice")
    assert "not a responder" in s.error
    assert s.notices == []
    call(s, "set_manual_status", "Search", "major_outage")
    call(s, "set_component", "Search")
    assert "not a responder" in s.error
    assert next(c for c in s.components if c["name"] == "Search")["status"] == "operational"


def test_an_unknown_page_says_so(state: Callable[..., Any]) -> None:
    s: StatusPagesState = state(StatusPagesState, RESPONDER, "/status-pages/nope",
                                {"name": "nope"})
    call(s, "load")
    assert not s.found and s.components == []
