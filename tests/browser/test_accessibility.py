"""Every page of the web app checked with axe-core (WCAG 2.1 AA) at desktop and phone width,
in the light and the dark colour scheme, signed in as the organisation's platform admin (who
sees every control); and a keyboard-only walk: the skip link first, then into the page, with a
visible focus ring on every stop."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import DESKTOP, PHONE, App, Provider, assert_accessible
from .test_web_app import sso

pytestmark = pytest.mark.browser

ADMIN = "priya.raman@northwind.example"  # Organization.admins: every button shows to her
STATUS_PAGE = "northwind-status"

PAGES = [
    ("/", "#incident-list"),
    ("/incidents/{incident}", "#timeline"),
    ("/oncall", "#oncall-schedules"),
    ("/schedules/storefront-primary", ".shift-bar"),
    ("/services", ".service-card"),
    ("/status-pages", f"a[href='/status-pages/{STATUS_PAGE}']"),
    (f"/status-pages/{STATUS_PAGE}", "#notice-post"),
    ("/postmortems", "#postmortem-status"),
    ("/postmortems/{postmortem}", "#pm-body"),
    ("/config", "text=Last reconcile"),
    ("/profile", "#test-page"),
    ("/reports", "#report-figures"),
    ("/push", "#push-section"),
    ("/delivery", "#delivery-window"),
]
"""Each signed-in page, and what shows once its data has loaded."""

VARIANTS = {
    "desktop-light": {**DESKTOP, "color_scheme": "light"},
    "desktop-dark": {**DESKTOP, "color_scheme": "dark"},
    "phone-light": {**PHONE, "color_scheme": "light"},
    "phone-dark": {**PHONE, "color_scheme": "dark"},
}


@pytest.fixture(scope="module")
def world(browser: Any, app: App, provider: Provider) -> dict[str, str]:
    """An incident, and a postmortem opened from it, for the pages that show one."""
    title = f"Checkout journey failing {uuid.uuid4().hex[:6]}"
    incident = app.post_alert(title, title)["incidents"][0]
    page = sso(browser, app, provider, ADMIN)
    page.goto(f"{app.url}/incidents/{incident}")
    page.click("#open-postmortem")
    page.wait_for_url("**/postmortems/*")
    postmortem = page.url.rstrip("/").rsplit("/", 1)[1]
    page.context.close()
    return {"incident": str(incident), "postmortem": postmortem}


def _background_luminance(page: Any) -> float:
    """The relative luminance (0 black, 1 white) of what the page is painted on."""
    rgb = page.evaluate(
        """() => {
          const el = document.querySelector('.radix-themes') || document.body;
          const m = getComputedStyle(el).backgroundColor.match(/[\\d.]+/g).map(Number);
          return m.slice(0, 3);
        }"""
    )
    r, g, b = (c / 255 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_page_passes_axe(
    browser: Any, app: App, provider: Provider, world: dict[str, str], shot: Any,
    variant: str,
) -> None:
    found: list[str] = []
    signed_out = browser.new_context(**VARIANTS[variant]).new_page()
    signed_out.goto(f"{app.url}/login")
    signed_out.wait_for_selector("#sso-sign-in")
    try:
        assert_accessible(signed_out)
    except AssertionError as exc:
        found.append(f"/login: {exc}")
    signed_out.goto(f"{app.url}/auth/local")  # the break-glass form, served outside the app
    signed_out.wait_for_selector("#email")
    luminance = _background_luminance(signed_out)
    assert (luminance < 0.1) if variant.endswith("dark") else (luminance > 0.8), luminance
    try:
        assert_accessible(signed_out)
    except AssertionError as exc:
        found.append(f"/auth/local: {exc}")
    signed_out.context.close()

    page = sso(browser, app, provider, ADMIN, **VARIANTS[variant])
    for path, ready in PAGES:
        url = path.format(**world)
        page.goto(f"{app.url}{url}")
        page.wait_for_selector(ready)
        page.wait_for_timeout(300)  # the live data and time zone settle
        luminance = _background_luminance(page)
        if variant.endswith("dark"):  # the system's dark setting is followed
            assert luminance < 0.1, f"{url}: not dark ({luminance:.2f})"
        else:
            assert luminance > 0.8, f"{url}: not light ({luminance:.2f})"
        try:
            assert_accessible(page)
        except AssertionError as exc:
            found.append(f"{url}: {exc}")
        if path in ("/", "/profile", "/reports"):
            shot(page, f"a11y-{path.strip('/') or 'incidents'}-{variant}")
    page.context.close()
    assert not found, "\n\n".join(found)


def _focus_shows(page: Any) -> dict[str, Any]:
    """What has focus, and whether a focus ring is drawn around it (an outline on it, its
    ::before, or the field around it)."""
    result: dict[str, Any] = page.evaluate(
        """() => {
          const el = document.activeElement;
          const ring = (e, pseudo) => {
            if (!e) return false;
            const s = getComputedStyle(e, pseudo);
            return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
          };
          const box = el.getBoundingClientRect();
          return {
            id: el.id, tag: el.tagName, text: (el.innerText || el.getAttribute('aria-label')
              || '').trim().slice(0, 40), inMain: !!el.closest('main'),
            inNav: !!el.closest('nav'), visible: box.width > 0 && box.height > 0,
            ring: ring(el) || ring(el, '::before') || ring(el, '::after')
              || ring(el.parentElement),
          };
        }"""
    )
    return result


def test_keyboard_only_skip_link_then_the_page_with_a_visible_focus(
    browser: Any, app: App, provider: Provider, world: dict[str, str], shot: Any
) -> None:
    page = sso(browser, app, provider, ADMIN, **DESKTOP)
    page.wait_for_selector("#incident-list")
    page.keyboard.press("Tab")
    first = _focus_shows(page)
    assert first["id"] == "skip-link" and first["visible"], first
    box = page.locator("#skip-link").bounding_box()
    assert box is not None and box["x"] >= 0  # on screen while it has focus
    shot(page, "a11y-skip-link")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'main'")

    # From main on, every Tab stop is inside main and shows where the focus is.
    stops, missing_ring = [], []
    for _ in range(25):
        page.keyboard.press("Tab")
        now = _focus_shows(page)
        if now["tag"] == "BODY":
            break
        stops.append(now)
        if not now["ring"] or not now["visible"]:
            missing_ring.append(now)
    assert stops and all(s["inMain"] for s in stops), stops
    assert not missing_ring, missing_ring
    reached = {s["id"] for s in stops} | {s["text"] for s in stops}
    assert {"count-open", "search", "select-all", "shortcuts-open"} <= reached, reached

    # The navigation is reachable too: back from the page, the nav's links take focus.
    page.keyboard.press("Shift+Tab")
    page.goto(f"{app.url}/oncall")
    page.wait_for_selector("#oncall-schedules")
    page.keyboard.press("Tab")
    assert _focus_shows(page)["id"] == "skip-link"
    stops = []
    for _ in range(40):
        page.keyboard.press("Tab")
        stops.append({**_focus_shows(page), "role": page.evaluate(
            "[document.activeElement.getAttribute('role'),"
            " document.activeElement.getAttribute('aria-label')]")})
    assert any(s["inNav"] and s["text"] == "Services" for s in stops), stops
    assert all(s["ring"] for s in stops if s["inNav"]), stops
    # the wide tables take focus, so a keyboard can scroll them
    regions = [s["role"][1] for s in stops if s["role"][0] == "region"]
    assert regions[:2] == ["Who is on call now", "Whom each service pages now"], stops
    assert all(s["ring"] for s in stops if s["role"][0] == "region"), stops
