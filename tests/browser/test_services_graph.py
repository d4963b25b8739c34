"""The dependency graph on /services and a service's page in Chromium, at desktop and phone
width: every service a node, a node opening its service, an incident's blast radius, the team
filter, zoom, and axe-core on every page; screenshots in test-output/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from oncall.config.loader import load
from oncall.db.engine import write_session
from oncall.testing.incidents import open_incident
from oncall.web import graph
from oncall.web.graph import GraphService

from .conftest import DESKTOP, PHONE, REPO, App, Provider, assert_accessible
from .test_web_app import sso

pytestmark = pytest.mark.browser

OBSERVER = "ruby.chen@northwind.example"  # observer of storefront: reads everything
CONFIG = load(REPO).config
SERVICES = sorted(CONFIG.services)
SIZES = {"desktop": DESKTOP, "phone": PHONE}
NODES = "#dependency-graph svg g.node"


@pytest.fixture(scope="module")
def outage(app: App) -> int:
    """A P1 incident of the cluster everything runs on."""
    with write_session(app.engine) as session:
        return open_incident(session, service="kubernetes-prod", title="Cluster API down",
                             priority="P1", now=datetime.now(UTC))


def open_graph(browser: Any, app: App, provider: Provider, size: str, path: str = "/services"
               ) -> Any:
    page = sso(browser, app, provider, OBSERVER, **SIZES[size])
    page.goto(f"{app.url}{path}")
    page.wait_for_function(f"n => document.querySelectorAll({NODES!r}).length >= n", arg=1)
    return page


def node_classes(page: Any) -> dict[str, str]:
    """Each drawn node's service (from its id) and its classes."""
    found: dict[str, str] = page.evaluate(
        """sel => Object.fromEntries([...document.querySelectorAll(sel)]
            .map(g => [g.id.replace(/^svc-/, ''), g.getAttribute('class')]))""", NODES)
    return found


def svg_width(page: Any) -> float:
    box = page.locator("#dependency-graph svg").bounding_box()
    assert box is not None
    return float(box["width"])


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_service_is_a_node_and_a_node_opens_its_service(
    browser: Any, app: App, provider: Provider, shot: Any, outage: int, size: str
) -> None:
    page = open_graph(browser, app, provider, size)
    page.wait_for_function(f"n => document.querySelectorAll({NODES!r}).length === n",
                           arg=len(SERVICES))
    shown = node_classes(page)
    assert sorted(shown) == SERVICES
    assert "status-P1" in shown["kubernetes-prod"]
    # colour is never the only cue: the status is written in the node and the link's name
    k8s = page.locator("#svc-kubernetes-prod")
    assert "P1 incident open" in (k8s.text_content() or "")
    assert "P1 incident open" in (k8s.locator("a").get_attribute("aria-label") or "")
    legend = page.locator("#graph-legend").inner_text()
    assert "P1 incident open" in legend and "healthy" in legend
    assert page.locator("#dependency-graph svg g.cluster").count() == len(
        {s.team for s in CONFIG.services.values()})
    if size == "phone":  # the page fits; the graph scrolls inside its own box
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(page)
    shot(page, f"services-graph-{size}")

    link = page.locator("#svc-catalog-api a")
    if size == "desktop":  # by keyboard: a node is a link like any other
        link.focus()
        assert page.evaluate("document.activeElement.getAttribute('href')") == (
            "/services/catalog-api")
        page.keyboard.press("Enter")
    else:
        link.tap()
    page.wait_for_url("**/services/catalog-api")
    page.locator("#service-team", has_text="storefront").wait_for()
    assert page.locator("h2", has_text="catalog-api").count() == 1
    assert "kubernetes-prod" in page.locator("#service-upstream").inner_text()
    assert "storefront-web" in page.locator("#service-downstream").inner_text()
    assert "healthy" in page.locator("#service-status").inner_text()
    assert_accessible(page)
    shot(page, f"service-{size}")

    page.goto(f"{app.url}/services/kubernetes-prod")
    page.locator(".service-incident", has_text="Cluster API down").wait_for()
    assert "prometheus-prod" in page.locator("#service-integrations").inner_text()
    assert "P1 incident open" in page.locator("#service-status").inner_text()
    page.context.close()


def radius() -> set[str]:
    services = [GraphService(s.name, s.team, tuple(s.depends_on), "healthy")
                for s in CONFIG.services.values()]
    return set(graph.blast_radius(services, "kubernetes-prod"))


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_blast_radius_of_an_incident_is_highlighted(
    browser: Any, app: App, provider: Provider, shot: Any, outage: int, size: str
) -> None:
    expected = radius()
    assert {"kubernetes-prod", "catalog-api", "storefront-web"} <= expected < set(SERVICES)
    page = sso(browser, app, provider, OBSERVER, **SIZES[size])
    page.goto(f"{app.url}/incidents/{outage}")
    page.get_by_role("link", name="blast radius").click()
    page.wait_for_url(re.compile(rf"/services\?incident={outage}$"))
    page.locator("#blast-radius", has_text=f"incident #{outage}").wait_for()
    page.wait_for_selector(f"{NODES}.blast")
    shown = node_classes(page)
    assert {n for n, c in shown.items() if "blast" in c.split()} == expected
    assert {n for n, c in shown.items() if "dimmed" in c.split()} == set(SERVICES) - expected
    text = page.locator("#blast-radius").inner_text()
    assert f"{len(expected)} service(s) affected" in text
    assert_accessible(page)
    shot(page, f"services-blast-radius-{size}")
    page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_team_filter_and_zoom(
    browser: Any, app: App, provider: Provider, shot: Any, size: str
) -> None:
    page = open_graph(browser, app, provider, size)
    page.wait_for_function(f"n => document.querySelectorAll({NODES!r}).length === n",
                           arg=len(SERVICES))
    platform = sorted(s.name for s in CONFIG.services.values() if s.team == "platform")
    page.locator("#graph-team").click()
    page.get_by_role("option", name="platform", exact=True).click()
    page.wait_for_function(f"n => document.querySelectorAll({NODES!r}).length === n",
                           arg=len(platform))
    assert sorted(node_classes(page)) == platform
    assert "team storefront" not in page.locator("#dependency-graph").inner_text()
    assert_accessible(page)
    shot(page, f"services-team-filter-{size}")

    start = svg_width(page)
    assert page.locator("#zoom-level").inner_text() == "100%"
    page.locator("#zoom-in").click()
    page.locator("#zoom-level", has_text="150%").wait_for()
    page.wait_for_function("w => document.querySelector('#dependency-graph svg')"
                           ".getBoundingClientRect().width > w * 1.4", arg=start)
    assert svg_width(page) == pytest.approx(start * 1.5, rel=0.02)
    page.locator("#zoom-out").click()
    page.locator("#zoom-out").click()
    page.locator("#zoom-level", has_text="75%").wait_for()
    assert svg_width(page) == pytest.approx(start * 0.75, rel=0.02)
    page.locator("#zoom-reset").click()
    page.locator("#zoom-level", has_text="100%").wait_for()
    assert svg_width(page) == pytest.approx(start, rel=0.02)
    page.context.close()


def test_an_anonymous_browser_sees_no_graph(browser: Any, app: App) -> None:
    page = browser.new_context(**DESKTOP).new_page()
    page.goto(f"{app.url}/services")
    page.wait_for_url("**/login**")
    assert page.locator("#dependency-graph svg").count() == 0
    page.goto(f"{app.url}/services/catalog-api")
    page.wait_for_url("**/login**")
    assert page.locator("#service-team").count() == 0
    page.context.close()
