"""Notification rules on the profile page in Chromium: sign in, add a rule, change it, go back to
the defaults, and watch the preview of what a page sends follow each step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from oncall import contacts
from oncall.db.engine import write_session
from oncall.db.models import ContactMethodRow, NotificationRuleRow, UserRow
from oncall.incidents.people import actor_for_email

from .conftest import App, Provider

pytestmark = pytest.mark.browser

PERSON = "hannah.kim@northwind.example"


def sso(browser: Any, app: App, provider: Provider, email: str) -> Any:
    provider.next_email = email
    page = browser.new_context().new_page()
    page.goto(f"{app.url}/")
    page.wait_for_url("**/login**")
    page.click("#sso-sign-in")
    page.wait_for_selector("#signed-in-as, #login-error")
    errors = page.locator("#login-error")
    assert errors.count() == 0, errors.inner_text()
    return page


def test_edit_rules_and_see_the_preview_follow(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    now = datetime.now(UTC)
    with write_session(app.engine) as session:
        actor = actor_for_email(session, PERSON, via="web")
        assert actor is not None and actor.user_id is not None
        sms, _voice = contacts.add_phone(session, actor, actor.user_id, "+14155550188", now)
        for row in session.scalars(select(ContactMethodRow).where(
                ContactMethodRow.user_id == actor.user_id)):
            row.verified_at = now
    page = sso(browser, app, provider, PERSON)
    page.goto(f"{app.url}/profile")
    high = page.locator("#preview-high")
    high.locator(".preview-step", has_text="after 3 min: voice").wait_for()
    assert "(default)" in high.inner_text()
    shot(page, "profile-rules-defaults")

    page.fill("#new-rule-delay", "5")
    page.click("#new-rule-method")
    page.get_by_role("option", name="sms +1 415-555-0188").click()
    page.click("#add-rule")
    page.locator("#rules-high .notification-rule").wait_for()
    assert page.locator("#rules-high .rule-delay input").input_value() == "5"
    page.locator("#preview-high .preview-step", has_text="after 5 min: sms").wait_for()
    assert high.locator(".preview-step").all_inner_texts() == [
        "after 5 min: sms to +1 415-555-0188"]
    shot(page, "profile-rules-edited")
    with app.engine.connect() as conn:
        user_id = conn.scalar(select(UserRow.id).where(UserRow.email == PERSON))
        found = conn.execute(select(NotificationRuleRow.urgency, NotificationRuleRow.delay_seconds,
                                    NotificationRuleRow.contact_method_id)
                             .where(NotificationRuleRow.user_id == user_id)).all()
    assert [tuple(r) for r in found] == [("high", 300, sms.id)]

    page.fill("#rules-high .rule-delay input", "7")
    page.keyboard.press("Tab")  # a rule's delay is saved when the field is left
    page.locator("#preview-high .preview-step", has_text="after 7 min: sms").wait_for()

    page.click("#defaults-high")
    high.locator(".preview-step", has_text="after 3 min: voice").wait_for()
    assert page.locator("#rules-high .notification-rule").count() == 0
