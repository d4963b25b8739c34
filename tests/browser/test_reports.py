"""The reports page in Chromium: the figures and charts of the example organisation, and a
table downloaded as CSV; a screenshot in test-output/screenshots/."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from .conftest import App, Provider
from .test_web_app import sso

pytestmark = pytest.mark.browser

RESPONDER = "marcus.bell@northwind.example"


def test_the_reports_page_shows_figures_charts_and_downloads_csv(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    title = f"Checkout journey failing {uuid.uuid4().hex[:6]}"
    app.post_alert(title, title)
    page = sso(browser, app, provider, RESPONDER)
    page.goto(f"{app.url}/reports")
    page.wait_for_selector("#report-figures")
    page.locator("#report-figures", has_text="Incidents").wait_for()
    # a bar chart per table, drawn (recharts renders an SVG surface with its bars)
    page.locator(".recharts-surface").first.wait_for()
    assert page.locator(".recharts-surface").count() >= 3
    page.get_by_text("Hours on call per person").wait_for()
    shot(page, "reports")
    with page.expect_download() as download:
        page.click("#report-csv-priorities")
    path = download.value.path()
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",")[0] == "priority"
    assert [line.split(",")[0] for line in lines[1:]] == ["P1", "P2", "P3", "P4", "P5", "none"]
    assert download.value.suggested_filename.startswith("oncall-priorities-")
