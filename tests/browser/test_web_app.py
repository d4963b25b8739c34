"""The web app in Chromium: SSO sign-in, a live incident, acknowledge, timeline, roles,
break-glass sign-in, and a screenshot of every page (test-output/screenshots/)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from oncall.config.loader import load
from oncall.core.schedule import who_at
from oncall.db.models import (
    AuditEventRow,
    IncidentRow,
    NotificationRow,
    TeamMembershipRow,
    UserRow,
)
from oncall.notify.settings import ProviderSettings
from oncall.settings import Settings
from oncall.testing.peers import WebhookPeer
from oncall.web import auth
from oncall.worker.providers import build_chains
from oncall.worker.runtime import Runtime

from .conftest import ADMIN_PASSWORD, REPO, REVISION, App, Provider

pytestmark = pytest.mark.browser

RESPONDER = "marcus.bell@northwind.example"  # a responder of payments, which owns checkout-api
OBSERVER = "ruby.chen@northwind.example"
ADMIN = "lena.fischer@northwind.example"
LIVE_TIMEOUT_MS = 10_000


def sso(browser: Any, app: App, provider: Provider, email: str, **context: Any) -> Any:
    provider.next_email = email
    page = browser.new_context(**context).new_page()
    page.goto(f"{app.url}/")
    page.wait_for_url("**/login**")
    page.click("#sso-sign-in")
    page.wait_for_selector("#signed-in-as, #login-error")
    errors = page.locator("#login-error")
    assert errors.count() == 0, errors.inner_text()
    return page


def card(page: Any, title: str) -> Any:
    return page.locator(".incident-card", has_text=title)


def test_sso_live_incident_acknowledge_and_timeline(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    page = sso(browser, app, provider, RESPONDER)
    assert page.locator("#signed-in-as").inner_text() == "Marcus Bell"
    page.wait_for_selector("#live-badge")
    title = f"Checkout journey failing {uuid.uuid4().hex[:6]}"
    result = app.post_alert(title, title)
    card(page, title).wait_for(timeout=LIVE_TIMEOUT_MS)  # appears without a reload
    shot(page, "incidents")
    card(page, title).locator(".ack-button").click()
    page.locator(".incident-card[data-status=acknowledged]", has_text=title).wait_for()
    iid = result["incidents"][0]
    with app.engine.connect() as conn:
        assert (
            conn.scalar(select(IncidentRow.status).where(IncidentRow.id == iid)) == "acknowledged"
        )
    page.goto(f"{app.url}/incidents/{iid}")
    page.locator(".timeline-entry", has_text="Acknowledged by Marcus Bell").wait_for()
    entry = page.locator(".timeline-entry", has_text="Acknowledged by").inner_text()
    assert "Acknowledged by Marcus Bell" in entry and "user:" not in entry
    shot(page, "incident")
    page.click(".note-button")
    page.fill("#dialog-text", "Rolled back **release 42**")
    page.click("#dialog-save")
    page.locator(".timeline-note strong", has_text="release 42").wait_for()
    shot(page, "incident-with-note")


def test_observer_sees_no_actions_and_is_refused_server_side(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    title = f"Search latency {uuid.uuid4().hex[:6]}"
    result = app.post_alert(title, title)
    page = sso(browser, app, provider, OBSERVER)
    card(page, title).wait_for()
    assert card(page, title).locator(".ack-button").count() == 0
    shot(page, "incidents-observer")
    page.close()

    # A responder of the owning team has the page open with the button showing; then the
    # config demotes them.
    page = sso(browser, app, provider, "sofia.alvarez@northwind.example")
    card(page, title).locator(".ack-button").wait_for()
    with app.engine.begin() as conn:
        user_id = conn.scalar(
            select(UserRow.id).where(UserRow.email == "sofia.alvarez@northwind.example")
        )
        conn.execute(
            update(TeamMembershipRow)
            .where(TeamMembershipRow.user_id == user_id)
            .values(role="observer")
        )
    try:
        card(page, title).locator(".ack-button").click()
        page.locator("#error-message", has_text="observer").wait_for()
        shot(page, "acknowledge-refused")
        iid = result["incidents"][0]
        with app.engine.connect() as conn:
            assert (
                conn.scalar(select(IncidentRow.status).where(IncidentRow.id == iid)) == "triggered"
            )
    finally:
        with app.engine.begin() as conn:
            conn.execute(
                update(TeamMembershipRow)
                .where(TeamMembershipRow.user_id == user_id)
                .values(role="responder")
            )


def test_break_glass_sign_in_is_audited(browser: Any, app: App, shot: Any) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{app.url}/login")
    page.wait_for_selector("#break-glass")
    shot(page, "login")
    page.click("#break-glass")
    page.wait_for_selector("#password")
    shot(page, "break-glass")
    page.fill("#email", ADMIN)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#signed-in-as")
    assert page.locator("#signed-in-as").inner_text() == "Lena Fischer"
    with app.engine.connect() as conn:
        actors = list(
            conn.scalars(
                select(AuditEventRow.actor).where(AuditEventRow.type == auth.LOCAL_SIGN_IN)
            )
        )
    assert f"user:{ADMIN}" in actors
    page.click("#sign-out")
    page.wait_for_url("**/login**")


def _table(page: Any, selector: str) -> list[list[str]]:
    rows = page.locator(f"{selector} tbody tr")
    return [[cell.strip() for cell in rows.nth(i).locator("td").all_inner_texts()]
            for i in range(rows.count())]


def test_every_page(browser: Any, app: App, provider: Provider, shot: Any) -> None:
    app.post_alert("Catalog API 5xx above 2%", "catalog-5xx")
    config = load(REPO).config
    page = sso(browser, app, provider, ADMIN)
    for path, name, ready in [
        ("/oncall", "oncall", "#oncall-schedules"),
        ("/schedules/storefront-primary", "schedule", ".shift-bar"),
        ("/services", "services", ".service-card"),
        ("/config", "config", "text=Last reconcile"),
        ("/profile", "profile", "#test-page"),
    ]:
        page.goto(f"{app.url}{path}")
        page.wait_for_selector(ready)
        shot(page, name)
        if name == "oncall":  # who the config says is on call now, for every schedule
            now = datetime.now(UTC)
            shown = {row[0]: row[2] for row in _table(page, "#oncall-schedules")}
            assert shown == {
                schedule.name: who_at(schedule, now) or "no one (coverage gap)"
                for schedule in config.schedules.values()
            }
        elif name == "services":  # every service of the config, by name
            headings = page.locator(".service-card .rt-Heading").all_inner_texts()
            assert sorted(h.strip() for h in headings) == sorted(config.services)
        elif name == "config":  # the revision the config was last applied from
            assert REVISION[:12] in page.locator("text=Revision").first.inner_text()
    page.goto(f"{app.url}/schedules/storefront-primary")
    page.wait_for_selector(".shift-bar")
    page.click("text=New feed URL for this schedule")
    feed = page.locator("#feed-url").inner_text().strip()
    ical = page.request.get(feed)
    assert ical.status == 200 and b"BEGIN:VCALENDAR" in ical.body()


def test_phone_width_acknowledge_in_one_tap(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    title = f"Phone page {uuid.uuid4().hex[:6]}"
    app.post_alert(title, title)
    page = sso(
        browser,
        app,
        provider,
        RESPONDER,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    button = card(page, title).locator(".ack-button")
    button.wait_for()
    box = button.bounding_box()
    assert box is not None and box["height"] >= 40 and box["x"] + box["width"] <= 390
    shot(page, "incidents-phone")
    button.tap()
    page.locator(".incident-card[data-status=acknowledged]", has_text=title).wait_for()


def test_csp_lets_the_app_work_and_html_in_a_note_stays_text(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    """The Content-Security-Policy is on the page and blocks nothing the app needs (no
    violation reported while signing in, going live, acting, adding a note); a note with HTML
    and a script link shows as the text that was typed and runs nothing."""
    violations: list[str] = []

    def watch(page: Any) -> None:
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )

    raw = browser.new_context().new_page()
    response = raw.goto(f"{app.url}/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    raw.close()

    title = f"Checkout XSS probe {uuid.uuid4().hex[:6]}"
    iid = app.post_alert(title, title)["incidents"][0]
    provider.next_email = RESPONDER
    page = browser.new_context().new_page()
    watch(page)
    page.goto(f"{app.url}/")
    page.wait_for_url("**/login**")
    page.click("#sso-sign-in")
    page.wait_for_selector("#signed-in-as")
    page.wait_for_selector("#live-badge")
    page.goto(f"{app.url}/incidents/{iid}")
    page.wait_for_selector(".note-button")
    payload = (
        '<img src=x onerror="window.__xss=1"> <iframe srcdoc="<b>framed</b>"></iframe> '
        "[runbook](javascript:window.__xss=2)"
    )
    page.click(".note-button")
    page.fill("#dialog-text", payload)
    page.click("#dialog-save")
    note = page.locator(".timeline-note", has_text="onerror")
    note.wait_for()
    shot(page, "incident-with-html-note")
    assert note.locator("img, iframe, a").count() == 0
    assert "<img src=x" in note.inner_text()
    assert page.evaluate("window.__xss") is None
    page.goto(f"{app.url}/oncall")
    page.wait_for_selector("#oncall-schedules")
    assert violations == []


def test_run_a_runbook_with_a_bad_then_a_good_parameter_and_see_its_result_live(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    """The form comes from restart-checkout's schema (region an enum, reason at most 200
    characters); the server's problems show beside their fields; a good run is queued, and
    when a worker has run it the result shows on the open page without a reload."""
    title = f"Checkout pods stuck {uuid.uuid4().hex[:6]}"
    iid = app.post_alert(title, title)["incidents"][0]
    page = sso(browser, app, provider, RESPONDER)
    page.goto(f"{app.url}/incidents/{iid}")
    page.click(".run-runbook[data-runbook=restart-checkout]")
    form = page.locator("#runbook-form")
    form.wait_for()
    assert form.locator(".runbook-field").count() == 2
    form.locator("input[name=reason]").fill("x" * 201)
    page.click("#runbook-submit")
    form.locator(".field-error[data-field=region]", has_text="is required").wait_for()
    assert "201" not in form.locator(".field-error[data-field=reason]").inner_text()
    assert "is too long" in form.locator(".field-error[data-field=reason]").inner_text()
    shot(page, "runbook-form-errors")
    with app.engine.connect() as conn:
        assert conn.scalar(select(NotificationRow.id).where(
            NotificationRow.incident_id == iid, NotificationRow.kind == "workflow")) is None

    form.locator("[role=combobox]").click()
    page.get_by_role("option", name="eu-west-1").click()
    form.locator("input[name=reason]").fill("pods stuck after deploy")
    page.click("#runbook-submit")
    run = page.locator(".runbook-run[data-state=queued]", has_text="restart-checkout")
    run.wait_for()
    assert "reason=pods stuck after deploy, region=eu-west-1" in run.inner_text()
    page.locator("#runbook-form").wait_for(state="detached")

    with WebhookPeer() as receiver, app.engine.connect() as conn:
        step = conn.scalar(select(NotificationRow.id).where(
            NotificationRow.incident_id == iid, NotificationRow.kind == "workflow"))
        providers = ProviderSettings.from_env({})
        runtime = Runtime(
            settings=Settings(database_url=app.engine.url.render_as_string(False)),
            providers=providers, engine=app.engine, chains=build_chains(providers),
            worker_id="browser-test",
            environ={"AWX_URL": receiver.url, "AWX_TOKEN": "browser-test-token"})
        assert runtime.dispatch(step).outcome == "sent"
        assert receiver.requests[0].json() == {"extra_vars": {
            "region": "eu-west-1", "reason": "pods stuck after deploy"}}
    done = page.locator(".runbook-run[data-state=succeeded]", has_text="restart-checkout")
    done.wait_for(timeout=LIVE_TIMEOUT_MS)  # live: no reload
    assert "HTTP 201" in done.inner_text() and '"status": "pending"' in done.inner_text()
    shot(page, "runbook-run-succeeded")
