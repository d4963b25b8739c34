"""The delivery health page in Chromium, at desktop and phone width: the figures of the seeded
provider calls per window; screenshots in test-output/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.observability.test_delivery import seed

from .conftest import App, Provider
from .test_web_app import sso

pytestmark = pytest.mark.browser

RESPONDER = "marcus.bell@northwind.example"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def calls(app: App) -> None:
    seed(app.engine, [
        ("sms", "twilio_sms", "sent", 1, timedelta(minutes=5)),
        ("sms", "twilio_sms", "sent", 1, timedelta(minutes=6)),
        ("sms", "twilio_sms", "sent", 1, timedelta(minutes=7)),
        ("sms", "twilio_sms", "timeout", 1, timedelta(minutes=8)),
        ("sms", "sns", "sent", 2, timedelta(minutes=8)),
        ("email", "smtp", "sent", 1, timedelta(hours=4)),
    ], {"twilio_voice": "open"}, now=datetime.now(UTC))


def _row(page: Any, provider: str) -> Any:
    return page.locator(".delivery-row", has_text=provider)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_delivery_page_shows_each_providers_figures(
    browser: Any, app: App, provider: Provider, shot: Any, calls: None, size: str,
) -> None:
    page = sso(browser, app, provider, RESPONDER, **(DESKTOP if size == "desktop" else PHONE))
    page.goto(f"{app.url}/delivery")
    page.locator("#delivery-attempts", has_text="5").wait_for()
    assert "80.0%" in page.locator("#delivery-success").inner_text()
    assert "1" in page.locator("#delivery-retries").inner_text()
    assert "twilio_voice" in page.locator("#delivery-circuits").inner_text()
    twilio = _row(page, "twilio_sms")
    twilio.wait_for()
    cells = twilio.locator("td").all_inner_texts()
    assert cells[:6] == ["sms", "twilio_sms", "4", "3", "1", "75.0%"]
    assert cells[6].endswith("ms") and cells[-1] == "closed"
    assert _row(page, "twilio_voice").locator("td").all_inner_texts()[-1] == "open"
    assert _row(page, "smtp").count() == 0  # four hours ago: not in the last hour
    if size == "phone":  # the page fits; the wide table scrolls inside its own box
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#delivery-table").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    shot(page, f"delivery-{size}")

    page.locator("#delivery-window").click()
    page.get_by_role("option", name="Last 24 hours").click()
    page.locator("#delivery-attempts", has_text="6").wait_for()
    _row(page, "smtp").wait_for()
    page.context.close()
