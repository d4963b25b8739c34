"""/services' graph and /services/NAME as a signed-in browser gets them, on the example config."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, update

from oncall.config.configset import ConfigSet
from oncall.db.engine import write_session
from oncall.db.models import IncidentRow
from oncall.web import graph_render
from oncall.web.state.service import ServiceState
from oncall.web.state.services import ServicesState

from .conftest import NOW, OBSERVER, call
from .test_graph_render import needs_dot  # noqa: F401 - dot is needed, under CI it must be


def drawn(s: ServicesState) -> ServicesState:
    graph_render.clear_cache()
    follow = call(s, "load")
    assert [f.fn.__name__ for f in follow] == ["draw", "show_cards"]
    asyncio.run(call(s, "draw"))
    call(s, "show_cards")
    return s


def nodes(markup: str) -> dict[str, str]:
    """Each node's service and its classes, as drawn."""
    return {m.group(2): m.group(1)
            for m in re.finditer(r'<g class="node ([^"]*)" id="svc-([a-z0-9-]+)">', markup)}


def test_every_service_of_the_config_is_a_node_coloured_by_status(
        state: Callable[..., Any], incident: Callable[..., int], web: Engine,
        example_config: ConfigSet) -> None:
    every = sorted(example_config.services)
    incident("Catalog down", "catalog-api")
    acked = incident("Search slow", "search-api")
    with write_session(web) as session:
        session.execute(update(IncidentRow).where(IncidentRow.id == acked)
                        .values(status="acknowledged", acknowledged_at=NOW))
    s = drawn(state(ServicesState, OBSERVER, "/services"))
    found = nodes(s.graph_svg)
    assert sorted(found) == every
    assert "status-acknowledged" in found["search-api"]
    assert re.search(r"status-P\d", found["catalog-api"])
    assert "status-healthy" in found["kubernetes-prod"]
    assert s.graph_error == "" and s.graph_width > 0 and s.svg_width.endswith("pt")
    assert f'aria-label="Dependency graph of {len(every)} services"' in s.graph_svg
    assert "cluster" in s.graph_svg and "team storefront" in s.graph_svg
    assert {e["status"] for e in s.legend} >= {"P1", "acknowledged", "healthy"}
    assert s.teams[0] == "all" and "storefront" in s.teams
    assert s.focus_text == "" and s.focus_error == ""


def test_a_second_visit_gets_the_drawing_with_its_first_answer(
        state: Callable[..., Any]) -> None:
    """Drawn once, the same graph is sent with the page's first state, not after a second
    round trip."""
    first = drawn(state(ServicesState, OBSERVER, "/services"))
    again = state(ServicesState, OBSERVER, "/services")
    assert call(again, "load") == ServicesState.show_cards
    assert again.graph_svg == first.graph_svg and again.graph_width == first.graph_width
    assert again.cards == []  # the cards follow in a second answer


def test_the_blast_radius_of_an_incident(state: Callable[..., Any],
                                         incident: Callable[..., int]) -> None:
    iid = incident("Cluster down", "kubernetes-prod")
    s = drawn(state(ServicesState, OBSERVER, "/services", {"incident": str(iid)}))
    found = nodes(s.graph_svg)
    assert "blast" in found["kubernetes-prod"]
    assert "blast" in found["catalog-api"] and "blast" in found["storefront-web"]
    assert all(("blast" in c) != ("dimmed" in c) for c in found.values())
    assert s.focus_services == sorted(n for n, c in found.items() if "blast" in c)
    assert f"incident #{iid}" in s.focus_text and "kubernetes-prod" in s.focus_text
    gone = drawn(state(ServicesState, OBSERVER, "/services", {"incident": "999999"}))
    assert "No incident" in gone.focus_error and "blast" not in gone.graph_svg


def test_team_filter_and_zoom(state: Callable[..., Any]) -> None:
    s = drawn(state(ServicesState, OBSERVER, "/services"))
    follow = call(s, "set_team_filter", "platform")
    assert follow.fn.__name__ == "draw"
    asyncio.run(call(s, "draw"))
    found = nodes(s.graph_svg)
    assert found and "team platform" in s.graph_svg
    assert "team storefront" not in s.graph_svg and "storefront-web" not in found
    assert s.graph_count == len(found)
    call(s, "set_team_filter", "no-such-team")
    assert s.team_filter == "all"
    width = s.graph_width
    call(s, "zoom_in")
    assert s.zoom == 150 and s.svg_width == f"{width * 1.5:.1f}pt"
    call(s, "zoom_out")
    call(s, "zoom_out")
    assert s.zoom == 75
    call(s, "zoom_reset")
    assert s.zoom == 100


def test_a_missing_dot_shows_why(state: Callable[..., Any],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    graph_render.clear_cache()
    monkeypatch.setenv("PATH", "/nonexistent")
    s = drawn(state(ServicesState, OBSERVER, "/services"))
    assert s.graph_svg == "" and "Graphviz is not installed" in s.graph_error
    assert s.cards  # the rest of the page is still there


def test_a_service_page(state: Callable[..., Any], incident: Callable[..., int],
                        web: Engine, example_config: ConfigSet) -> None:
    old = incident("Old outage", "catalog-api")
    with write_session(web) as session:
        session.execute(update(IncidentRow).where(IncidentRow.id == old)
                        .values(status="resolved", resolved_at=NOW))
    now = incident("Catalog down", "catalog-api")
    s: ServiceState = state(ServiceState, OBSERVER, "/services/catalog-api",
                            {"name": "catalog-api"})
    call(s, "load")
    call(s, "apply_tz", "Europe/Berlin")
    assert s.found and s.service_name == "catalog-api"
    assert s.info["team"] == "storefront" and s.info["policy"]
    assert s.info["status"].endswith("incident open")
    assert [n["name"] for n in s.upstream] == ["kubernetes-prod"]
    assert s.upstream[0]["href"] == "/services/kubernetes-prod"
    assert "storefront-web" in [n["name"] for n in s.downstream]
    assert [i["id"] for i in s.open_incidents] == [str(now)]
    assert s.open_incidents[0]["blast"] == f"/services?incident={now}"
    assert [i["id"] for i in s.recent_incidents] == [str(old)]
    assert [i["name"] for i in s.integrations] == sorted(
        i.name for i in example_config.integrations.values() if i.service == "catalog-api")
    checkout: ServiceState = state(ServiceState, OBSERVER, "/services/checkout-api",
                                   {"name": "checkout-api"})
    call(checkout, "load")
    expected = sorted(i.name for i in example_config.integrations.values()
                      if i.service == "checkout-api")
    assert len(expected) == 2 and [i["name"] for i in checkout.integrations] == expected


def test_an_unknown_service_page(state: Callable[..., Any]) -> None:
    s: ServiceState = state(ServiceState, OBSERVER, "/services/nope", {"name": "nope"})
    call(s, "load")
    assert not s.found and s.service_name == "nope" and s.info == {} and s.open_incidents == []


def test_nothing_without_a_session(state: Callable[..., Any]) -> None:
    s: ServicesState = state(ServicesState, None, "/services")
    answer = call(s, "load")
    assert "/login" in str(answer)
    assert asyncio.run(call(s, "draw")) is not None
    assert s.graph_svg == "" and s.cards == []
    page: ServiceState = state(ServiceState, None, "/services/catalog-api",
                               {"name": "catalog-api"})
    assert "/login" in str(call(page, "load"))
    assert page.info == {} and not page.found
