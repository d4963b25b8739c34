"""The incident page as a responder's cockpit in Chromium, at desktop and phone width: an
alert with labels, links, an image and details; a real page (escalator, an email refused once
then sent) folded with its attempts; an acknowledgement and a note as sentences with names;
a filter and its count; times in the browser's zone with UTC on hover; who is on call now and
next; a related incident; the services upstream and downstream. Each view passes axe-core."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from oncall.config.loader import load
from oncall.core.schedule import on_call, who_at
from tests.web.paging import page_by_email

from .conftest import DESKTOP, INGEST_TOKEN, PHONE, REPO, App, Provider, assert_accessible

pytestmark = pytest.mark.browser

RESPONDER = "marcus.bell@northwind.example"  # a responder of payments, which owns checkout-api
ZONE = "America/New_York"
UTC_TITLE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$")


def post(app: App, title: str, **extra: Any) -> int:
    response = httpx.post(
        f"{app.url}/api/v1/integrations/synthetic-checks/alerts",
        json={"summary": title, "dedup_key": title, "severity": "critical", **extra},
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"}, timeout=10)
    response.raise_for_status()
    return int(response.json()["incidents"][0])


def sign_in(browser: Any, app: App, provider: Provider, **context: Any) -> Any:
    provider.next_email = RESPONDER
    page = browser.new_context(timezone_id=ZONE, **context).new_page()
    page.goto(f"{app.url}/")
    page.wait_for_url("**/login**")
    page.click("#sso-sign-in")
    page.wait_for_selector("#signed-in-as")
    return page


@pytest.fixture(scope="module")
def paged(app: App) -> dict[str, Any]:
    """Two incidents of checkout-api; the second paged by email (the first try refused)."""
    config = load(REPO).config
    suffix = uuid.uuid4().hex[:6]
    earlier = post(app, f"Checkout slow {suffix}")
    title = f"Checkout p99 over 2 s {suffix}"
    # Routed by the checkout-critical rule to checkout-api, as P1
    iid = post(app, title, labels={"alertname": "CheckoutLatencyHigh", "env": "prod",
                                   "region": "eu-west-1"},
               links=[{"href": "https://grafana.example/d/checkout", "text": "Dashboard"}],
               details={"p99_ms": 2300, "pods": ["checkout-7f9c", "checkout-2b1d"],
                        "images": [{"src": "https://grafana.example/render/p99.png",
                                    "alt": "p99 graph"}]})
    now = datetime.now(UTC) + timedelta(seconds=1)
    page_by_email(app.engine, config, iid, now)
    primary = config.schedules["payments-primary"]
    who = who_at(primary, now)
    assert who is not None
    following = who_at(primary, on_call(primary, now).end)
    return {"iid": iid, "earlier": earlier, "title": title, "config": config,
            "name": config.users[who].name,
            "next": config.users[following].name if following else "nobody"}


def test_the_cockpit_at_desktop_width(browser: Any, app: App, provider: Provider,
                                      paged: dict[str, Any], shot: Any) -> None:
    page = sign_in(browser, app, provider, **DESKTOP)
    iid = paged["iid"]
    page.goto(f"{app.url}/incidents/{iid}")
    page.locator("#incident-title", has_text=paged["title"]).wait_for()

    # Acknowledge and a note, from this page
    page.locator(".ack-button").click()
    timeline = page.locator("#timeline")
    timeline.locator(".timeline-entry", has_text="Acknowledged by Marcus Bell").wait_for()
    page.click(".note-button")
    page.fill("#dialog-text", "Rolled back **release 42**")
    page.click("#dialog-save")
    note = timeline.locator(".timeline-entry", has_text="Note by Marcus Bell")
    note.locator(".timeline-note strong", has_text="release 42").wait_for()

    # The page: one sentence, its attempts folded in a closed <details>
    entry = timeline.locator(".timeline-entry", has_text=f"Paged {paged['name']} by email")
    # Sent by the retry, ten minutes after the refused first try
    assert entry.locator(".timeline-summary").inner_text() == (
        f"Paged {paged['name']} by email — sent in 10 min")
    fold = entry.locator("details.timeline-fold")
    assert fold.get_attribute("open") is None
    attempt_two = fold.locator(".timeline-line", has_text="attempt 2: sent")
    assert not attempt_two.is_visible()
    fold.locator("summary").click()
    attempt_two.wait_for(state="visible")
    assert fold.get_attribute("open") is not None
    assert "451 4.7.1 greylisted" in fold.locator(".timeline-line").first.inner_text()
    timeline.locator(".timeline-entry", has_text=f"Escalation step 1 — paging {paged['name']}"
                     ).wait_for()
    assert "notification_id" not in timeline.inner_text()

    # Times in the browser's zone, the exact UTC time on hover
    stamp = note.locator("time").first
    exact = UTC_TITLE.match(stamp.get_attribute("title") or "")
    assert exact is not None
    local = datetime.strptime(exact.group(1), "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=UTC).astimezone(ZoneInfo(ZONE))
    assert stamp.inner_text() == local.strftime("%a %d %b %H:%M:%S")

    # A filter and its count
    people = page.locator(".timeline-filter[data-filter=people]")
    assert people.inner_text().endswith("(2)")
    people.click()
    page.wait_for_function(
        "() => document.querySelectorAll('#timeline .timeline-entry').length === 2")
    assert timeline.locator(".timeline-entry[data-category=people]").count() == 2
    assert people.get_attribute("aria-pressed") == "true"
    shot(page, "incident-cockpit-people")
    page.locator(".timeline-filter[data-filter=all]").click()
    entry.wait_for()

    # The alert: labels as chips, links that open apart, the image as a link, the details
    alert = page.locator(".alert-card")
    assert alert.locator(".alert-label[data-label=region]").inner_text() == "region=eu-west-1"
    link = alert.locator(".alert-link", has_text="Dashboard")
    assert link.get_attribute("href") == "https://grafana.example/d/checkout"
    assert "noopener" in (link.get_attribute("rel") or "")
    image = alert.locator(".alert-image", has_text="p99 graph")
    assert image.get_attribute("href") == "https://grafana.example/render/p99.png"
    assert page.locator("img[src*='grafana.example']").count() == 0
    details = alert.locator(".alert-details").inner_text()
    assert '  "p99_ms": 2300' in details and '    "checkout-7f9c",' in details

    # On call now and next, related incidents, services affected
    oncall = page.locator("#incident-oncall .oncall-row[data-schedule=payments-primary]")
    assert oncall.locator(".oncall-now").inner_text() == paged["name"]
    assert oncall.locator(".oncall-next").inner_text() == paged["next"]
    related = page.locator("#related-incidents a", has_text=f"#{paged['earlier']}")
    assert related.get_attribute("href") == f"/incidents/{paged['earlier']}"
    up = page.locator("#affected-upstream .affected-service[data-service=payment-gateway]")
    assert up.get_attribute("href") == "/services"
    assert page.locator(
        "#affected-upstream .affected-service[data-service=kubernetes-prod]").count() == 1
    assert page.locator(
        "#affected-downstream .affected-service[data-service=storefront-web]").count() == 1

    # The runbooks are still there, with their Run button
    assert page.locator(".run-runbook[data-runbook=restart-checkout]").count() == 1
    shot(page, "incident-cockpit")
    assert_accessible(page)
    fold.locator("summary").click()  # folded again
    page.close()


def test_the_cockpit_at_phone_width(browser: Any, app: App, provider: Provider,
                                    paged: dict[str, Any], shot: Any) -> None:
    page = sign_in(browser, app, provider, **PHONE)
    page.goto(f"{app.url}/incidents/{paged['iid']}")
    page.locator("#incident-title", has_text=paged["title"]).wait_for()
    entry = page.locator("#timeline .timeline-entry",
                         has_text=f"Paged {paged['name']} by email")
    entry.wait_for()

    # The essentials first: status and actions, the alert, who is on call, then the timeline
    def top(selector: str) -> float:
        box = page.locator(selector).first.bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (selector, box)
        return float(box["y"])

    assert (top("#incident-title") < top("#alerts") < top("#incident-oncall")
            < top("#timeline") < top("#related-incidents"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    entry.locator("summary").tap()
    entry.locator(".timeline-line", has_text="attempt 2: sent").wait_for(state="visible")
    alerts = page.locator(".timeline-filter[data-filter=alerts]")
    count = int(re.sub(r"\D", "", alerts.inner_text()))
    alerts.tap()
    page.wait_for_function(
        f"() => document.querySelectorAll('#timeline .timeline-entry').length === {count}")
    assert page.locator("#timeline .timeline-entry[data-category=alerts]").count() == count
    shot(page, "incident-cockpit-phone")
    assert_accessible(page)
    page.close()
