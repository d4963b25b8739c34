"""Declaring an incident on a phone (390x844) in Chromium: the form, the new incident with its
commander, and its first page through the service's escalation policy."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from oncall.db.models import AuditEventRow, IncidentRow

from .conftest import App, Provider

pytestmark = pytest.mark.browser

RESPONDER = "marcus.bell@northwind.example"  # a responder of payments, which owns checkout-api
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def sso(browser: Any, app: App, provider: Provider, email: str) -> Any:
    provider.next_email = email
    page = browser.new_context(**PHONE).new_page()
    page.goto(f"{app.url}/")
    page.wait_for_url("**/login**")
    page.click("#sso-sign-in")
    page.wait_for_selector("#signed-in-as, #login-error")
    errors = page.locator("#login-error")
    assert errors.count() == 0, errors.inner_text()
    return page


def within_phone(locator: Any) -> None:
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box


def test_declare_an_incident_at_phone_width(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    page = sso(browser, app, provider, RESPONDER)
    opener = page.locator("#declare-open")
    opener.wait_for()
    within_phone(opener)
    opener.tap()
    title = f"Card payments failing {uuid.uuid4().hex[:6]}"
    field = page.locator("input#declare-title, #declare-title input").first
    field.wait_for()
    within_phone(field)
    field.fill(title)
    page.locator("#declare-priority").tap()
    page.get_by_role("option", name="P1").tap()
    page.locator("#declare-description").fill("Customers see **declined** cards")
    shot(page, "declare-phone")
    submit = page.locator("#declare-submit")
    within_phone(submit)
    submit.tap()
    try:
        page.wait_for_url("**/incidents/*")
    except Exception:
        shot(page, "declare-failed")  # the form's error, if it shows one
        raise
    page.locator("#incident-title", has_text=title).wait_for()
    commander = page.locator("#role-commander")
    commander.wait_for()
    assert "Marcus Bell" in commander.inner_text()
    page.locator(".timeline-entry", has_text="Marcus Bell took commander").wait_for()
    shot(page, "declared-incident-phone")
    with app.engine.connect() as conn:
        row = conn.execute(select(IncidentRow.id, IncidentRow.status, IncidentRow.priority,
                                  IncidentRow.escalation_policy_name)
                           .where(IncidentRow.title == title)).one()
        assert (row.status, row.priority, row.escalation_policy_name) == (
            "triggered", "P1", "payments")
        assert page.url.endswith(f"/incidents/{row.id}")
        assert conn.scalar(select(AuditEventRow.actor).where(
            AuditEventRow.incident_id == row.id,
            AuditEventRow.type == "incident.declared")) == f"user:{RESPONDER}"
