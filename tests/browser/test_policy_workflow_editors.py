"""The escalation policy editor and the workflow builder in Chromium, at desktop and phone
width: build a two-step policy and see its YAML and plan; build a workflow with a condition and
a notify step, break the condition and see the problem where it was typed, fix it, and preview
the steps against a past incident. Each page passes axe-core's WCAG 2.1 AA checks."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import DESKTOP, PHONE, App, Provider, assert_accessible

pytestmark = pytest.mark.browser

EDITOR = "kavya.iyer@northwind.example"  # a platform responder: may use the editors, not PR
TITLE = "Checkout journey <b>failing</b> in eu-west-1"


def sign_in(browser: Any, app: App, provider: Provider, context: dict[str, Any]) -> Any:
    provider.next_email = EDITOR
    page = browser.new_context(**context).new_page()
    page.goto(f"{app.url}/")
    page.wait_for_url("**/login**")
    page.click("#sso-sign-in")
    page.wait_for_selector("#signed-in-as, #login-error")
    assert page.locator("#login-error").count() == 0
    return page


def _type(page: Any, selector: str, text: str) -> None:
    """Fill a field the editors read when it is left."""
    page.fill(selector, text)
    page.keyboard.press("Tab")


def _fits(page: Any) -> None:
    """Nothing wider than the screen: the page does not scroll sideways on a phone."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1


def test_build_a_two_step_policy(browser: Any, app: App, provider: Provider, shot: Any) -> None:
    page = sign_in(browser, app, provider, DESKTOP)
    page.click("#editors-menu")  # reached from every page's navigation
    page.get_by_role("menuitem", name="New escalation policy").click()
    page.wait_for_url("**/policies/new")
    steps = page.locator(".policy-step")
    steps.first.wait_for()
    assert steps.count() == 1
    _type(page, "#policy-name", "web-escalation")
    steps.nth(0).locator(".add-target").select_option("schedule:storefront-primary")
    steps.nth(0).locator(".policy-target", has_text="schedule storefront-primary").wait_for()

    page.click("#add-step")
    steps.nth(1).wait_for()
    steps.nth(1).locator(".person-search input").fill("lena")
    steps.nth(1).locator(".person-result", has_text="Lena Fischer").click()
    steps.nth(1).locator(".policy-target", has_text="Lena Fischer").wait_for()
    steps.nth(1).locator(".step-timeout input").fill("15m")
    page.keyboard.press("Tab")

    page.locator("#review-verdict", has_text="valid").wait_for()
    page.locator("#review-yaml", has_text="timeout: 15m").wait_for()
    yaml = page.locator("#review-yaml").inner_text()
    for expected in ("kind: EscalationPolicy", "name: web-escalation",
                     "schedule:storefront-primary", "user:lena.fischer@northwind.example"):
        assert expected in yaml
    assert page.locator("#review-path").inner_text() == "rules/web-escalation.yaml"
    plan = page.locator("#review-plan").inner_text()
    assert "EscalationPolicy" in plan and "web-escalation" in plan
    shot(page, "policy-editor-two-steps")
    assert_accessible(page)

    # the order changes from the keyboard: Lena's step moves first, and the YAML follows
    page.get_by_role("button", name="Move step 2 up").focus()
    page.keyboard.press("Enter")
    steps.nth(0).locator(".policy-target", has_text="Lena Fischer").wait_for()
    page.wait_for_function(
        "() => { const t = document.querySelector('#review-yaml').innerText;"
        " return t.indexOf('lena.fischer') < t.indexOf('storefront-primary'); }")

    # an applied policy opens in the editor from the config page
    page.goto(f"{app.url}/config")
    page.get_by_role("link", name="Edit escalation policy payments").click()
    page.wait_for_url("**/policies/payments/edit")
    page.locator(".policy-step").nth(2).wait_for()

    phone = sign_in(browser, app, provider, PHONE)
    phone.goto(f"{app.url}/policies/payments/edit")
    phone.locator(".policy-step").nth(2).wait_for()
    phone.locator("#review-plan", has_text="No changes").wait_for()
    shot(phone, "policy-editor-phone")
    _fits(phone)
    assert_accessible(phone)


def test_build_a_workflow_and_preview_it(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    incident_id = app.post_alert(TITLE, "editor-preview")["incidents"][0]
    page = sign_in(browser, app, provider, DESKTOP)
    page.goto(f"{app.url}/workflows/new")
    page.locator(".workflow-block").first.wait_for()
    _type(page, "#workflow-name", "checkout-pager")
    _type(page, "#workflow-when", 'service.name == "checkout-api"')
    _type(page, "#wf-0-channel", "#payments-oncall")
    _type(page, "#wf-0-text", "Paging for {{ incident.title }}")
    page.select_option("#add-step", "page")
    page.locator("#wf-1-target").wait_for()
    _type(page, "#wf-1-target", "schedule:payments-primary")
    page.locator("#review-yaml", has_text="schedule: payments-primary").wait_for()
    page.locator("#review-verdict", has_text="valid").wait_for()
    assert page.locator("#when-problem").count() == 0

    # a broken condition: the problem shows under the field, and the review will not pass it
    _type(page, "#workflow-when", 'service.name = "checkout-api"')
    problem = page.locator("#when-problem")
    problem.wait_for()
    assert "expression syntax error" in problem.inner_text()
    page.locator("#review-verdict", has_text="problems to fix").wait_for()
    assert page.locator("#workflow-when").get_attribute("aria-invalid") == "true"
    shot(page, "workflow-editor-broken-condition")

    _type(page, "#workflow-when", 'service.name == "checkout-api"')
    page.locator("#review-verdict", has_text="valid").wait_for()
    assert page.locator("#when-problem").count() == 0

    # the preview: find the past incident, and see its title rendered into the step, as text
    page.fill("#incident-search", "journey")
    page.locator(".incident-choice", has_text=f"#{incident_id}").click()
    page.locator("#preview-incident", has_text=TITLE).wait_for()
    page.locator("#preview-when", has_text="true").wait_for()
    rendered = page.locator("#preview .preview-text").all_inner_texts()
    assert f"Paging for {TITLE}" in rendered
    assert page.locator("#preview b").count() == 0  # the title's markup is shown, not applied
    shot(page, "workflow-editor-preview")
    assert_accessible(page)

    phone = sign_in(browser, app, provider, PHONE)
    phone.goto(f"{app.url}/workflows/p1-broadcast/edit")
    phone.locator(".workflow-block").nth(4).wait_for()
    phone.locator("#review-plan", has_text="No changes").wait_for()
    shot(phone, "workflow-editor-phone")
    _fits(phone)
    assert_accessible(phone)
