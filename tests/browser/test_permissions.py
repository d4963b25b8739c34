"""A responder of another team, in Chromium, on an incident their team does not own.

The incident comes from the synthetic-checks integration, on checkout-api (payments). A
storefront responder opens it; then the page itself sends the incident's events (acknowledge,
escalate now, a priority change) over the app's websocket, as a tampered page would, and the
server refuses each: the incident is still triggered, at its priority, with no new timeline
entry, and the refusal is shown on the page.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from oncall.db.models import AuditEventRow, IncidentRow
from oncall.web.state.incident import IncidentState

from .conftest import App, Provider
from .test_web_app import sso

pytestmark = pytest.mark.browser

OUTSIDER = "samuel.osei@northwind.example"  # a storefront responder; payments owns checkout-api

FORCE = """(forced) => {
  // Reflex hands every event to this hook just before it goes over the websocket; the next
  // Sign-out click leaves as the forced event instead.
  window.__forced = forced;
  window.__reflex_otel = {
    onEventSend: (event) => {
      if (event.name.endsWith(".sign_out") && window.__forced.length) {
        const next = window.__forced.shift();
        event.name = next.name;
        event.payload = next.payload;
      }
    },
  };
}"""


def _incident(app: App, iid: int) -> tuple[str, str | None, int]:
    with app.engine.connect() as conn:
        status, priority = conn.execute(select(IncidentRow.status, IncidentRow.priority)
                                        .where(IncidentRow.id == iid)).one()
        events = conn.scalar(select(func.count()).select_from(AuditEventRow)
                             .where(AuditEventRow.incident_id == iid))
    return status, priority, int(events or 0)


def test_a_responder_of_another_team_is_refused_even_when_the_page_sends_the_event(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    title = f"Checkout journey failing {uuid.uuid4().hex[:6]}"
    iid = app.post_alert(title, title)["incidents"][0]
    before = _incident(app, iid)
    assert before[0] == "triggered"
    page = sso(browser, app, provider, OUTSIDER)
    page.goto(f"{app.url}/incidents/{iid}")
    page.locator("#incident-title", has_text=title).wait_for()
    shot(page, "incident-other-team")

    state = IncidentState.get_full_name()
    forced = [
        {"name": f"{state}.acknowledge", "payload": {"incident_id": iid}},
        {"name": f"{state}.escalate_now", "payload": {}},
        {"name": f"{state}.change_priority", "payload": {"incident_id": iid, "priority": "P1"}},
    ]
    page.evaluate(FORCE, forced)
    for event in forced:
        page.click("#sign-out")  # leaves as the forced event
        error = page.locator("#error-message", has_text="samuel.osei")
        error.wait_for()
        message = error.inner_text()
        assert "cannot" in message and "payments" in message, message
        assert _incident(app, iid) == before, event["name"]
        page.locator("[role=alert] button", has_text="×").click()  # dismiss: not forced
        error.wait_for(state="detached")
    assert page.evaluate("window.__forced.length") == 0
    assert page.url.endswith(f"/incidents/{iid}")  # never signed out: every click was forced
    shot(page, "incident-other-team-refused")


def test_a_responder_of_another_team_sees_no_actions(
    browser: Any, app: App, provider: Provider
) -> None:
    title = f"Checkout slow {uuid.uuid4().hex[:6]}"
    iid = app.post_alert(title, title)["incidents"][0]
    page = sso(browser, app, provider, OUTSIDER)
    page.goto(f"{app.url}/incidents/{iid}")
    page.locator("#incident-title", has_text=title).wait_for()
    page.wait_for_timeout(500)
    for selector in (".ack-button", ".resolve-button", "#escalate-now"):
        assert page.locator(selector).count() == 0, selector
