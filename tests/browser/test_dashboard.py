"""The dashboard's bulk actions and keyboard shortcuts in Chromium, at desktop and phone width:
a mixed selection acknowledged and resolved (the incident of another team named as refused,
the others done), every shortcut, the "?" dialog, and no shortcut while typing in a field."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from oncall.db.engine import write_session
from oncall.db.models import IncidentRow
from oncall.testing.incidents import open_incident

from .conftest import DESKTOP, PHONE, App, Provider, assert_accessible
from .test_web_app import sso

pytestmark = pytest.mark.browser

RESPONDER = "marcus.bell@northwind.example"  # payments: checkout-api and payment-gateway
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


def _open(app: App, service: str, title: str) -> int:
    with write_session(app.engine) as session:
        return open_incident(session, service=service, title=title, now=datetime.now(UTC),
                             page=False)


def _status(app: App, iid: int) -> str:
    with app.engine.connect() as conn:
        return str(conn.scalar(select(IncidentRow.status).where(IncidentRow.id == iid)))


def _shown(page: Any, tag: str, count: int) -> None:
    """Only this test's incidents on the list: the search narrows it to their tag."""
    page.fill("#search", tag)
    page.wait_for_function(
        "([tag, n]) => { const c = document.querySelectorAll('#incident-list .incident-card');"
        " return c.length === n && [...c].every(e => e.innerText.includes(tag)); }",
        arg=[tag, count])


def _card(page: Any, iid: int) -> Any:
    return page.locator(f".incident-card[data-id='{iid}']")


def _focused_id(page: Any) -> str | None:
    result: str | None = page.evaluate(
        "() => document.activeElement.classList.contains('incident-card')"
        " ? document.activeElement.dataset.id : null")
    return result


@pytest.mark.parametrize("width", list(WIDTHS))
def test_mixed_selection_acknowledged_then_resolved(
    browser: Any, app: App, provider: Provider, shot: Any, width: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    ours = [_open(app, "checkout-api", f"Checkout 5xx {tag}"),
            _open(app, "payment-gateway", f"Card declines {tag}")]
    theirs = _open(app, "storefront-web", f"Shop pages slow {tag}")  # storefront's
    page = sso(browser, app, provider, RESPONDER, **WIDTHS[width])
    page.wait_for_selector("#live-badge")
    _shown(page, tag, 3)
    page.locator("#select-all").click()
    page.locator("#selected-count", has_text="3 selected").wait_for()
    assert page.locator(".select-incident[data-state=checked]").count() == 3
    assert_accessible(page)
    shot(page, f"dashboard-selected-{width}")

    page.click("#bulk-ack")
    error = page.locator("#error-message")
    error.wait_for()
    line = error.inner_text()
    assert line.startswith(f"3 selected: 2 acknowledged (#{ours[1]}, #{ours[0]}); "
                           f"1 refused: #{theirs} ("), line
    assert [_status(app, i) for i in (*ours, theirs)] == ["acknowledged", "acknowledged",
                                                         "triggered"]
    for iid in ours:
        page.locator(f".incident-card[data-id='{iid}'][data-status=acknowledged]").wait_for()
    page.locator("#selected-count", has_text="0 selected").wait_for()
    shot(page, f"dashboard-bulk-ack-{width}")

    # resolve: one of ours and theirs, with a note
    _card(page, ours[0]).locator(".select-incident").click()
    _card(page, theirs).locator(".select-incident").click()
    page.locator("#selected-count", has_text="2 selected").wait_for()
    page.click("#bulk-resolve")
    page.fill("#bulk-note", "rolled back release 42")
    assert_accessible(page)
    page.click("#bulk-resolve-save")
    page.locator("#error-message", has_text=f"2 selected: 1 resolved (#{ours[0]}); "
                                            f"1 refused: #{theirs} (").wait_for()
    assert [_status(app, i) for i in (*ours, theirs)] == ["resolved", "acknowledged",
                                                         "triggered"]
    _card(page, ours[0]).wait_for(state="detached")  # resolved: off the list of open ones

    # all allowed: a confirmation, no error
    _card(page, ours[1]).locator(".select-incident").click()
    page.click("#bulk-resolve")
    page.click("#bulk-resolve-save")
    page.locator("#notice-message", has_text=f"1 selected: 1 resolved (#{ours[1]}).").wait_for()
    assert page.locator("#error-message").count() == 0
    assert _status(app, ours[1]) == "resolved"
    page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_shortcut_and_the_help_dialog(
    browser: Any, app: App, provider: Provider, shot: Any, width: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = [_open(app, "checkout-api", f"Checkout step {n} {tag}") for n in range(4)]
    newest_first = list(reversed(ids))
    page = sso(browser, app, provider, RESPONDER, **WIDTHS[width])
    page.wait_for_selector("#live-badge")
    _shown(page, tag, 4)

    # typing in a field: the keys are text, not shortcuts
    assert page.input_value("#search") == tag and _focused_id(page) is None
    page.keyboard.press("j")
    assert page.input_value("#search") == tag + "j" and _focused_id(page) is None
    page.keyboard.press("Backspace")
    _shown(page, tag, 4)
    page.locator("#main").focus()

    # j / k move a visible focus through the rows
    page.keyboard.press("j")
    assert _focused_id(page) == str(newest_first[0])
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert _focused_id(page) == str(newest_first[2])
    page.keyboard.press("k")
    assert _focused_id(page) == str(newest_first[1])
    shot(page, f"dashboard-focus-{width}")

    # a on the focused row, with nothing selected: that one is acknowledged
    page.keyboard.press("a")
    page.locator(f".incident-card[data-id='{newest_first[1]}'][data-status=acknowledged]"
                 ).wait_for()
    assert _status(app, newest_first[1]) == "acknowledged"

    # x selects the focused row; a then acknowledges the selection
    page.keyboard.press("j")
    assert _focused_id(page) == str(newest_first[2])
    page.keyboard.press("x")
    page.locator("#selected-count", has_text="1 selected").wait_for()
    page.keyboard.press("k")
    page.keyboard.press("k")
    page.keyboard.press("x")
    page.locator("#selected-count", has_text="2 selected").wait_for()
    page.keyboard.press("x")  # and again: unselected
    page.locator("#selected-count", has_text="1 selected").wait_for()
    page.keyboard.press("a")
    page.locator("#notice-message",
                 has_text=f"1 selected: 1 acknowledged (#{newest_first[2]}).").wait_for()
    assert _status(app, newest_first[2]) == "acknowledged"
    assert _status(app, newest_first[0]) == "triggered"

    # r on the focused row opens that incident's resolve dialog
    page.locator(f".incident-card[data-id='{newest_first[0]}']").focus()
    page.keyboard.press("r")
    page.locator("#dialog-save").wait_for()
    assert re.search(rf"#\s*{newest_first[0]}", page.locator("[role=dialog]").inner_text())
    page.keyboard.press("j")  # in the dialog: typed, not a shortcut
    assert page.input_value("#dialog-text") == "j"
    page.click("#dialog-save")
    _card(page, newest_first[0]).wait_for(state="detached")
    assert _status(app, newest_first[0]) == "resolved"
    page.locator("[role=dialog]").wait_for(state="detached")  # shortcuts wait for it to go

    # r with a selection opens the bulk resolve
    page.locator("#main").focus()
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.locator("#selected-count", has_text="1 selected").wait_for()
    chosen = int(_focused_id(page) or 0)
    page.keyboard.press("r")
    page.locator("#bulk-resolve-save").click()
    page.locator("#notice-message", has_text=f"1 selected: 1 resolved (#{chosen}).").wait_for()
    assert _status(app, chosen) == "resolved"

    # ? lists the shortcuts (once the resolve dialog has gone); Escape closes the list
    page.locator("[role=dialog]").wait_for(state="detached")
    page.locator("#main").focus()
    page.keyboard.press("?")
    dialog = page.locator("#shortcuts-dialog")
    dialog.wait_for()
    listed = dialog.locator("dt").all_inner_texts()
    assert listed == ["j", "k", "Enter or o", "x", "a", "r", "?"]
    assert_accessible(page)
    shot(page, f"dashboard-shortcuts-{width}")
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    page.click("#shortcuts-open")  # the same list from its button
    dialog.wait_for()
    page.click("#shortcuts-close")
    dialog.wait_for(state="detached")

    # Enter, and o, open the focused incident
    last = page.locator("#incident-list .incident-card").first.get_attribute("data-id")
    page.locator("#main").focus()
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/incidents/{last}")
    page.go_back()
    _shown(page, tag, 2)
    page.locator("#main").focus()
    page.keyboard.press("j")
    page.keyboard.press("o")
    page.wait_for_url(f"**/incidents/{last}")
    page.context.close()
