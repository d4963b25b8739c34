"""The schedule list, the week overview and the audit log in Chromium, at desktop and phone
width, each checked with axe-core; the audit log's CSV download, and its refusals."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from oncall.config.loader import load
from oncall.core.schedule import shifts, who_at
from oncall.db.engine import write_session
from oncall.incidents import events
from oncall.web import week_grid
from oncall.web.schedule_list import display_name

from .conftest import DESKTOP, PHONE, REPO, App, Provider, assert_accessible
from .test_web_app import sso

pytestmark = pytest.mark.browser

OBSERVER = "ruby.chen@northwind.example"  # observer of storefront
TEAM_ADMIN = "lena.fischer@northwind.example"  # admin of storefront, not a platform admin
PLATFORM_ADMIN = "priya.raman@northwind.example"  # in Organization.admins
LONDON = "Europe/London"
EVIL = "=HYPERLINK(\"https://evil.example\",\"x\")"
SIZES = {"desktop": DESKTOP, "phone": PHONE}

CONFIG = load(REPO).config
NAMES = {email: user.name for email, user in CONFIG.users.items()}


def nav(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("a").all_inner_texts()]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_schedule_list(browser: Any, app: App, provider: Provider, shot: Any, size: str) -> None:
    page = sso(browser, app, provider, OBSERVER, timezone_id=LONDON, **SIZES[size])
    assert "Schedules" in nav(page) and "This week" in nav(page) and "Audit" not in nav(page)
    page.goto(f"{app.url}/schedules")
    page.locator("#schedule-list .schedule-row").first.wait_for()
    page.locator("#schedule-count", has_text="in Europe/London").wait_for()
    before = datetime.now(UTC)
    rows = page.locator("#schedule-list .schedule-row")
    shown = {rows.nth(i).get_attribute("data-schedule"):
             rows.nth(i).locator(".on-call-now").inner_text().strip()
             for i in range(rows.count())}
    after = datetime.now(UTC)
    assert set(shown) == set(CONFIG.schedules)
    for name, who in shown.items():  # whom the core's who_at gives, by name
        expected = {display_name(who_at(CONFIG.schedules[name], at), NAMES,
                                 "no one (coverage gap)") for at in (before, after)}
        assert who in expected, (name, who, expected)
    primary = page.locator(".schedule-row[data-schedule=storefront-primary]")
    assert "Europe/London" in primary.inner_text() and "storefront-web" in primary.inner_text()
    assert primary.locator(".next-handoff").inner_text().count("→") == 1
    shot(page, f"schedules-{size}")
    assert_accessible(page)
    page.fill("#schedule-search", "secondary")
    page.locator("#schedule-count", has_text=" of ").wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.schedule-row')]"
        ".every(r => r.dataset.schedule.includes('secondary'))")
    assert rows.count() == sum("secondary" in n for n in CONFIG.schedules) > 0
    page.locator(".schedule-row a", has_text="storefront-secondary").click()
    page.wait_for_url("**/schedules/storefront-secondary")
    page.wait_for_selector(".shift-bar")
    page.context.close()


def _expected_week(offset: int) -> dict[str, list[list[str]]]:
    """Per schedule, per day, the people and hours the engine gives (no overrides here)."""
    week = week_grid.week_of(datetime.now(UTC), ZoneInfo(LONDON), offset)
    by_schedule = {name: shifts(s, week.start, week.end) for name, s in CONFIG.schedules.items()}
    return {row.schedule: [[f"{display_name(s.who, NAMES)} {s.start}–{s.end}" for s in day]
                           for day in row.days]
            for row in week_grid.grid(by_schedule, week)}


def _shown_week(page: Any) -> dict[str, list[list[str]]]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#week-grid .week-row')].map(
            r => [r.dataset.schedule, [...r.querySelectorAll('.week-cell')].map(
                c => [...c.querySelectorAll('.stint')].map(
                    s => [...s.children].map(x => x.innerText.trim()).join(' ')))]))""")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_week_grid(browser: Any, app: App, provider: Provider, shot: Any, size: str) -> None:
    page = sso(browser, app, provider, OBSERVER, timezone_id=LONDON, **SIZES[size])
    page.goto(f"{app.url}/oncall/week")
    page.locator("#week-grid .week-row .stint").first.wait_for()
    page.get_by_text("Days and hours in Europe/London").wait_for()
    monday = week_grid.week_of(datetime.now(UTC), ZoneInfo(LONDON)).monday
    page.locator("#week-label", has_text=f"{monday:%a %d %b}").wait_for()
    assert _shown_week(page) == _expected_week(0)
    assert page.locator("#week-people .person-week").count() > 0
    shot(page, f"week-{size}")
    assert_accessible(page)
    if size == "desktop":
        nxt = monday + timedelta(weeks=1)
        page.click("#week-next")
        page.locator("#week-label", has_text=f"{nxt:%a %d %b}").wait_for()
        assert _shown_week(page) == _expected_week(1)
        page.click("#week-prev")
        page.click("#week-prev")
        prev = monday - timedelta(weeks=1)
        page.locator("#week-label", has_text=f"{prev:%a %d %b}").wait_for()
        assert _shown_week(page) == _expected_week(-1)
    page.context.close()


def _log_events(app: App, marker: str, count: int) -> None:
    with write_session(app.engine) as session:
        now = datetime.now(UTC)
        for i in range(count):
            row = events.record(session, at=now - timedelta(seconds=count - i),
                                actor=f"user:{TEAM_ADMIN}", type=marker, data={"n": i})
            row.subject_kind, row.subject_name = "schedule", "storefront-primary"
        row = events.record(session, at=now, actor="integration:synthetic-checks",
                            type=marker, data={"summary": "probe"})
        row.subject_kind, row.subject_name = "incident", EVIL


def test_an_admin_filters_the_audit_log_and_downloads_it(
    browser: Any, app: App, provider: Provider, shot: Any
) -> None:
    marker = f"browser.audit_{uuid.uuid4().hex[:8]}"
    _log_events(app, marker, 60)
    page = sso(browser, app, provider, PLATFORM_ADMIN, timezone_id=LONDON, **DESKTOP)
    assert "Audit" in nav(page)
    page.get_by_role("link", name="Audit", exact=True).click()
    page.wait_for_url("**/audit")
    page.locator("#audit-log .audit-row").first.wait_for()
    page.fill("#audit-action", marker)
    page.click("#audit-apply")
    page.wait_for_function(
        "m => [...document.querySelectorAll('#audit-log .audit-row')]"
        ".every(r => r.innerText.includes(m))", arg=marker)
    rows = page.locator("#audit-log .audit-row")
    assert rows.count() == 50
    first = rows.first.inner_text()
    assert "integration:synthetic-checks" in first and f"incident {EVIL}" in first
    assert "Lena Fischer" in rows.nth(1).inner_text() and "n=59" in rows.nth(1).inner_text()
    shot(page, "audit-desktop")
    assert_accessible(page)
    first_page = [rows.nth(i).get_attribute("data-id") for i in range(rows.count())]
    page.click("#audit-older")
    page.locator("#audit-page", has_text="Page 2").wait_for()
    page.wait_for_function("() => document.querySelectorAll('#audit-log .audit-row').length"
                           " === 11")
    assert "n=0" in rows.last.inner_text()
    page.click("#audit-newer")
    page.locator("#audit-page", has_text="Page 1").wait_for()
    assert [rows.nth(i).get_attribute("data-id") for i in range(rows.count())] == first_page

    # actor filter on top: Lena's events only
    page.fill("#audit-actor", "lena.fischer")
    page.click("#audit-apply")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#audit-log .audit-row')]"
        ".every(r => r.innerText.includes('lena.fischer'))")
    with page.expect_download() as download:
        page.click("#audit-export")
    assert download.value.suggested_filename.startswith("audit-")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    found = list(csv.DictReader(io.StringIO(text)))
    assert len(found) == 60
    assert {(r["actor"], r["who"], r["action"], r["object"]) for r in found} == {
        (f"user:{TEAM_ADMIN}", "Lena Fischer", marker, "storefront-primary")}
    assert [r["details"] for r in found] == [f"n={i}" for i in reversed(range(60))]

    # the integration's event: its formula-looking object is defused
    page.fill("#audit-actor", "integration:")
    page.click("#audit-apply")
    page.wait_for_function("() => document.querySelectorAll('#audit-log .audit-row').length"
                           " === 1")
    with page.expect_download() as download:
        page.click("#audit-export")
    (evil,) = csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8")))
    assert evil["object"] == "'" + EVIL
    page.context.close()

    phone = sso(browser, app, provider, PLATFORM_ADMIN, timezone_id=LONDON, **PHONE)
    phone.goto(f"{app.url}/audit")
    phone.locator("#audit-log .audit-row").first.wait_for()
    shot(phone, "audit-phone")
    assert_accessible(phone)
    phone.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_anyone_else_is_refused_the_page_and_the_csv(
    browser: Any, app: App, provider: Provider, shot: Any, size: str
) -> None:
    marker = f"browser.refused_{uuid.uuid4().hex[:8]}"
    _log_events(app, marker, 3)
    page = sso(browser, app, provider, TEAM_ADMIN, **SIZES[size])
    assert "Audit" not in nav(page)
    page.goto(f"{app.url}/audit")
    page.locator("#audit-refused", has_text="Not allowed").wait_for()
    assert page.locator("#audit-log").count() == 0
    assert marker not in page.content()
    shot(page, f"audit-refused-{size}")
    assert_accessible(page)
    response = page.request.get(f"{app.url}/audit/export.csv?action={marker}")
    assert response.status == 403 and marker not in response.text()
    page.context.close()
    anonymous = httpx.get(f"{app.url}/audit/export.csv", params={"action": marker}, timeout=10)
    assert anonymous.status_code in (401, 403)
    assert marker not in anonymous.text and "@northwind.example" not in anonymous.text
