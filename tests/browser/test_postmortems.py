"""A postmortem in Chromium: opened from an incident, the body written and autosaved, timeline
events kept and dropped, an action item added, published, and exported as Markdown (the
download and the export route with the browser's session); screenshots in
test-output/screenshots/."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from oncall.db.models import ActionItemRow, PostmortemEntryRow, PostmortemRow

from .conftest import App, Provider
from .test_web_app import sso

pytestmark = pytest.mark.browser

RESPONDER = "marcus.bell@northwind.example"  # a responder of payments, which owns checkout-api
OBSERVER = "eve.larsen@northwind.example"  # an observer of payments: reads, never edits
SAVED_WITHIN_S = 10.0


def eventually(check: Callable[[], Any], what: str) -> Any:
    """What `check` returns once it is truthy (the app saves on its own schedule)."""
    deadline = time.monotonic() + SAVED_WITHIN_S
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.2)


def postmortem(app: App, pm_id: int) -> PostmortemRow:
    with app.engine.connect() as conn:
        row = conn.execute(select(PostmortemRow).where(PostmortemRow.id == pm_id)).first()
    assert row is not None
    return row  # type: ignore[return-value]


def entry(page: Any, text: str) -> Any:
    return page.locator(".pm-entry", has=page.locator(".entry-text", has_text=text))


def test_open_write_choose_add_publish_and_export(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    title = f"Checkout journey failing {uuid.uuid4().hex[:6]}"
    iid = app.post_alert(title, title)["incidents"][0]
    page = sso(browser, app, provider, RESPONDER)
    page.goto(f"{app.url}/incidents/{iid}")
    page.click("#open-postmortem")
    page.wait_for_url("**/postmortems/*")
    pm_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.wait_for_selector("#pm-body")
    assert page.locator("#pm-title").input_value() == title

    # the body, saved a moment after typing stops
    body = "## Summary\n\nThe synthetic check failed: **the card form** did not load."
    page.fill("#pm-body", body)
    page.locator("#pm-saved", has_text="Saved at").wait_for()
    eventually(lambda: postmortem(app, pm_id).body == body, "the body saved")
    page.click("#pm-preview-toggle")
    page.locator("#pm-preview strong", has_text="the card form").wait_for()
    page.click("#pm-preview-toggle")

    # keep one event that is left out by default, drop one kept by default, note the kept one
    joined, opened = entry(page, "Alert joined"), entry(page, "Incident opened")
    assert "kept" not in (joined.get_attribute("class") or "")
    assert "kept" in (opened.get_attribute("class") or "")
    joined.locator(".entry-kept").click()
    page.locator(".pm-entry.kept", has=page.locator(".entry-text",
                                                    has_text="Alert joined")).wait_for()
    opened.locator(".entry-kept").click()
    page.locator(".pm-entry:not(.kept)", has=page.locator(".entry-text",
                                                          has_text="Incident opened")).wait_for()
    joined.locator(".entry-note input").fill("the first sign")
    joined.locator(".entry-note input").press("Tab")

    def choices() -> dict[str, tuple[bool, str | None]]:
        with app.engine.connect() as conn:
            rows = conn.execute(select(PostmortemEntryRow.entry_key, PostmortemEntryRow.kept,
                                       PostmortemEntryRow.note)
                                .where(PostmortemEntryRow.postmortem_id == pm_id))
            return {key: (kept, note) for key, kept, note in rows}

    chosen = eventually(lambda: len(choices()) == 2
                        and ("the first sign" in {n for _, n in choices().values()})
                        and choices(), "the timeline choices saved")
    assert sorted(chosen.values(), key=str) == [(False, None), (True, "the first sign")]
    page.click("#kept-only")
    page.locator(".pm-entry", has_text="Incident opened").wait_for(state="detached")
    assert entry(page, "Alert joined").count() == 1
    shot(page, "postmortem-editor")

    # an action item
    items = page.locator("#pm-items")
    items.locator(".item-title input").fill("Alert when the card form fails to load")
    items.locator(".item-owner input").fill(RESPONDER)
    items.locator(".item-due input").fill("2030-01-31")
    items.locator(".item-url input").fill("https://tickets.northwind.example/PAY-12")
    items.locator(".item-submit").click()
    page.locator(".action-item", has_text="Alert when the card form fails").wait_for()
    with app.engine.connect() as conn:
        item = conn.execute(select(ActionItemRow.title, ActionItemRow.due_on)
                            .where(ActionItemRow.postmortem_id == pm_id)).one()
    assert item.title == "Alert when the card form fails to load"
    assert item.due_on.isoformat() == "2030-01-31"

    # publish
    page.click("#pm-status")
    page.get_by_role("option", name="Published").click()
    eventually(lambda: postmortem(app, pm_id).status == "published", "published")
    assert postmortem(app, pm_id).published_at is not None
    shot(page, "postmortem-published")

    # export: the downloaded file, and the route with the browser's session
    with page.expect_download() as download:
        page.click("#pm-download")
    assert download.value.suggested_filename.startswith(f"postmortem-{pm_id}-checkout-journey")
    text = Path(download.value.path()).read_text()
    assert text.startswith(f"# {title}\n")
    assert "- Status: published" in text
    assert "Alert joined" in text and "the first sign" in text
    assert "Incident opened" not in text  # dropped from the timeline
    assert "Alert when the card form fails to load" in text and "2030-01-31" in text
    assert "The synthetic check failed: **the card form** did not load." in text
    response = page.request.get(f"{app.url}/postmortems/{pm_id}/export.md")
    assert response.status == 200 and response.text() == text
    assert response.headers["content-type"].startswith("text/markdown")

    printable = page.context.new_page()
    printable.goto(f"{app.url}/postmortems/{pm_id}/print")
    assert printable.locator("h1").first.inner_text() == title
    shot(printable, "postmortem-printable")


def test_an_observer_reads_it_without_forms(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    title = f"Card declines {uuid.uuid4().hex[:6]}"
    iid = app.post_alert(title, title)["incidents"][0]
    writer = sso(browser, app, provider, RESPONDER)
    writer.goto(f"{app.url}/incidents/{iid}")
    writer.click("#open-postmortem")
    writer.wait_for_url("**/postmortems/*")
    pm_id = int(writer.url.rstrip("/").rsplit("/", 1)[1])
    writer.close()

    page = sso(browser, app, provider, OBSERVER)
    page.goto(f"{app.url}/incidents/{iid}")
    page.locator(".incident-postmortem").wait_for()
    assert page.locator("#open-postmortem").count() == 0
    page.click(".incident-postmortem")
    page.wait_for_url(f"**/postmortems/{pm_id}")
    page.locator("#pm-heading", has_text=title).wait_for()
    assert page.locator("#pm-body").count() == 0 and page.locator("#pm-items input").count() == 0
    assert page.locator("#pm-preview h2", has_text="Summary").count() == 1
    shot(page, "postmortem-read-only")
