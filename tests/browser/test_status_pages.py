"""Status pages in Chromium: the public page on a desktop and a phone (without JavaScript), a P1
incident turning its component red with a notice, and a responder's notice posted from the app
reaching the public page (screenshots in test-output/screenshots/)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.applied import read_applied
from oncall.db.models import IncidentRow
from oncall.statuspages.sync import sync_pages

from .conftest import INGEST_TOKEN, App, Provider
from .test_web_app import sso

pytestmark = pytest.mark.browser

PAGE = "northwind-status"
COMPONENTS = ["Website", "Search", "Checkout and payments", "Sign-in"]
TITLE = "Northwind Commerce status"
RESPONDER = "samuel.osei@northwind.example"  # a responder of storefront (Website, Search)
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True}
VISIBLE_WITHIN_S = 10.0


def public(browser: Any, app: App, **context: Any) -> Any:
    page = browser.new_context(**context).new_page()
    response = page.goto(f"{app.url}/status/{PAGE}")
    assert response is not None and response.status == 200
    return page


def component(page: Any, name: str) -> Any:
    return page.locator("li.component", has=page.locator(".name", has_text=name))


def sync(app: App) -> None:
    """What the worker does every second; the browser harness runs no worker."""
    with Session(app.engine) as session:
        config = read_applied(session)
    sync_pages(app.engine, config, datetime.now(UTC))


def reload_until(page: Any, shown: Callable[[], bool]) -> None:
    """Reload (revalidating, past `max-age`) until the page shows it: a public page is
    rendered again at most once a second."""
    deadline = time.monotonic() + VISIBLE_WITHIN_S
    while not shown():
        assert time.monotonic() < deadline, "the public page did not change in time"
        page.wait_for_timeout(250)
        page.reload()


def post_checkout_alert(app: App, key: str, action: str = "trigger") -> dict[str, Any]:
    """An alert `checkout-critical` routes to checkout-api at P1."""
    response = httpx.post(
        f"{app.url}/api/v1/integrations/synthetic-checks/alerts",
        json={"summary": f"Checkout journey failing {key}", "dedup_key": key,
              "severity": "critical", "event_action": action,
              "labels": {"env": "prod", "alertname": "CheckoutJourneyFailing"}},
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
        timeout=10,
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize(
    ("name", "context"),
    [("status-public", {"viewport": {"width": 1280, "height": 900}}),
     ("status-public-phone", PHONE)],
)
def test_public_page_shows_every_component_operational(
    browser: Any, app: App, shot: Any, name: str, context: dict[str, Any]
) -> None:
    sync(app)
    page = public(browser, app, **context)
    assert page.locator("h1").inner_text() == TITLE
    assert page.locator(".banner").inner_text() == "All Systems Operational"
    for part in COMPONENTS:
        row = component(page, part)
        assert row.is_visible(), part
        assert row.locator(".t-operational").inner_text() == "Operational"
    # Against the screen's width: a phone zooms out to fit a wider page (innerWidth grows).
    screen = context["viewport"]["width"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= screen, f"horizontal scroll: {width} px on a {screen} px screen"
    shot(page, name)


def test_public_page_needs_no_javascript(browser: Any, app: App, shot: Any) -> None:
    sync(app)
    page = public(browser, app, java_script_enabled=False, **PHONE)
    assert page.locator("h1").inner_text() == TITLE
    assert page.locator(".banner").inner_text() == "All Systems Operational"
    for part in COMPONENTS:
        assert component(page, part).is_visible(), part
    box = page.locator("main").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    shot(page, "status-public-no-javascript")


def test_p1_incident_shows_major_outage_and_a_notice(
    browser: Any, app: App, shot: Any
) -> None:
    key = uuid.uuid4().hex[:8]
    page = public(browser, app)
    checkout = component(page, "Checkout and payments")
    assert checkout.locator(".t-operational").is_visible()

    iid = post_checkout_alert(app, key)["incidents"][0]
    with app.engine.connect() as conn:
        assert conn.scalar(select(IncidentRow.priority).where(IncidentRow.id == iid)) == "P1"
    sync(app)
    reload_until(page, lambda: checkout.locator(".t-major_outage").count() == 1)
    assert checkout.locator(".t-major_outage").inner_text() == "Major outage"
    assert page.locator(".banner").inner_text() == "Major System Outage"
    for part in ("Website", "Search", "Sign-in"):
        assert component(page, part).locator(".t-operational").is_visible(), part
    notice = page.locator("section", has=page.locator("h2", has_text="Current notices")
                          ).locator("article.card")
    assert notice.count() == 1
    assert notice.locator("h3").inner_text() == "Major outage: Checkout and payments"
    assert "We are investigating an issue affecting Checkout and payments" in (
        notice.inner_text())
    text = page.locator("body").inner_text()
    assert "Checkout journey failing" not in text and "checkout-api" not in text
    shot(page, "status-public-major-outage")

    post_checkout_alert(app, key, action="resolve")
    sync(app)
    reload_until(page, lambda: page.locator(".banner").inner_text() == "All Systems Operational")
    past = page.locator("section", has=page.locator("h2", has_text="Past notices"))
    assert "Checkout and payments is operating normally again" in past.inner_text()
    shot(page, "status-public-resolved")


def test_responder_posts_a_notice_from_the_app(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    title = f"Slow product images {uuid.uuid4().hex[:6]}"
    body = "Product images load slowly for some customers; we are on it."
    page = sso(browser, app, provider, RESPONDER)
    page.goto(f"{app.url}/status-pages/{PAGE}")
    page.wait_for_selector("#notice-post")
    for part in COMPONENTS:
        page.locator("td", has_text=part).first.wait_for()
    page.fill("#notice-title", title)
    page.fill("#notice-body", body)
    shot(page, "status-page-app-form")
    page.click("#notice-post")
    posted = page.locator(".status-notice", has_text=title)
    posted.wait_for()
    assert body in posted.inner_text()
    page.locator("#notice-message", has_text="posted").wait_for()
    assert page.locator("#notice-title").input_value() == ""
    shot(page, "status-page-app-notice")

    outside = public(browser, app)
    reload_until(outside, lambda: outside.locator("article.card", has_text=title).count() == 1)
    card = outside.locator("article.card", has_text=title)
    assert "Investigating" in card.inner_text() and body in card.inner_text()
    shot(outside, "status-public-notice")
