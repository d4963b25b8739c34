"""The schedule editor in Chromium: a weekly rotation with an office-hours layer built from
scratch on a desktop, its YAML accepted by `oncall validate --strict` and its `oncall shifts`
equal to the live preview, a bad entry shown at its line, and a pull request opened against the
GitHub stand-in; on a phone, an existing schedule loaded and edited."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oncall.testing.peers.github import GitHubPeer

from .conftest import DESKTOP, PHONE, REPO, App, Provider, assert_accessible

pytestmark = pytest.mark.browser

ADMIN = "lena.fischer@northwind.example"  # admin of storefront
NAME = "storefront-tertiary"
START = "2026-11-02"  # a Monday
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def github() -> Iterator[GitHubPeer]:
    """The stand-in, named in the app's environment before the app starts."""
    with GitHubPeer() as peer:
        saved = {k: os.environ.get(k) for k in peer.env()}
        os.environ.update(peer.env())
        try:
            yield peer
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.fixture(scope="module")
def editor_app(github: GitHubPeer, app: App) -> App:
    return app


def sso(browser: Any, app: App, provider: Provider, email: str, **context: Any) -> Any:
    provider.next_email = email
    ctx = browser.new_context(**context)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page = ctx.new_page()
    page.goto(f"{app.url}/")
    page.wait_for_url("**/login**")
    page.click("#sso-sign-in")
    page.wait_for_selector("#signed-in-as, #login-error")
    errors = page.locator("#login-error")
    assert errors.count() == 0, errors.inner_text()
    return page


def field(page: Any, label: str) -> Any:
    return page.get_by_label(label, exact=True)


def settle(page: Any) -> None:
    """Let the debounced fields send and the review come back."""
    page.wait_for_timeout(900)
    page.wait_for_load_state("networkidle")


def type_into(page: Any, label: str, value: str) -> None:
    box = field(page, label)
    box.fill(value)
    box.press("Tab")
    settle(page)


def add_member(page: Any, layer: int, query: str, email: str) -> None:
    type_into(page, f"Search people for layer {layer}", query)
    page.locator("button", has_text=f"({email})").first.click()
    page.get_by_label(f"Remove {email}").wait_for(timeout=WAIT_MS)
    settle(page)


def loaded(page: Any) -> None:
    """The editor's load event has run: the review names the file."""
    page.locator("#review-path", has_text=".yaml").wait_for(timeout=WAIT_MS)


def verdict(page: Any, text: str) -> None:
    page.locator("#review-verdict", has_text=text).wait_for(timeout=WAIT_MS)


def preview_lines(page: Any) -> list[str]:
    rows = page.locator("tr.preview-shift")
    return [str(rows.nth(i).get_attribute("data-line")) for i in range(rows.count())]


def yaml_shown(page: Any) -> str:
    lines = page.locator("#review-yaml > div")
    texts = []
    for i in range(lines.count()):
        spans = lines.nth(i).locator("span")
        texts.append(spans.nth(1).inner_text())
    return "\n".join(texts) + "\n"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONCALL_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "oncall", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120, check=False)


def test_build_a_schedule_validate_it_and_open_a_pull_request(
    browser: Any, editor_app: App, provider: Provider, github: GitHubPeer, shot: Any,
    tmp_path: Path,
) -> None:
    page = sso(browser, editor_app, provider, ADMIN, **DESKTOP)
    page.goto(f"{editor_app.url}/schedules/new")
    loaded(page)
    assert field(page, "Team").input_value() == "storefront"
    type_into(page, "Schedule name", NAME)
    field(page, "Time zone").select_option("Europe/London")
    settle(page)
    type_into(page, "Layer 1 name", "weekly")
    type_into(page, "Layer 1 start date", START)  # in the past: no gap before the first turn
    add_member(page, 1, "samuel", "samuel.osei@northwind.example")
    add_member(page, 1, "grace", "grace.mwangi@northwind.example")
    page.get_by_role("button", name="Add a layer").click()
    field(page, "Layer 2 name").wait_for(timeout=WAIT_MS)
    type_into(page, "Layer 2 name", "office-hours")
    field(page, "Layer 2 rotation").select_option("daily")
    settle(page)
    type_into(page, "Layer 2 start date", START)
    type_into(page, "Layer 2 handoff time", "08:00")
    add_member(page, 2, "noah", "noah.petit@northwind.example")
    add_member(page, 2, "isla", "isla.mcleod@northwind.example")
    page.get_by_label("Add a time window to layer 2").click()
    field(page, "Layer 2 window 1 from").wait_for(timeout=WAIT_MS)
    type_into(page, "Layer 2 window 1 from", "08:00")
    type_into(page, "Layer 2 window 1 to", "18:00")
    verdict(page, "valid")
    page.locator("tr.preview-shift").first.wait_for(timeout=WAIT_MS)
    assert page.locator("#review-yaml .review-problem").count() == 0  # no warning either
    shot(page, "schedule-editor-new")
    assert_accessible(page)

    # the YAML, as "Copy YAML" puts it on the clipboard
    page.locator("#copy-yaml").click()
    page.locator("#notice-message", has_text="copied").wait_for(timeout=WAIT_MS)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == yaml_shown(page)
    assert f"name: {NAME}" in copied and "- {days: [mon, tue, wed, thu, fri], from: \"08:00\"" \
        in copied

    # oncall validate --strict accepts it, and oncall shifts says what the preview showed
    repo = tmp_path / "config"
    for sub in ("rules", "schedules", "workflows"):
        shutil.copytree(REPO / sub, repo / sub)
    (repo / "schedules" / f"{NAME}.yaml").write_text(copied, encoding="utf-8")
    validated = run_cli("validate", "--strict", str(repo))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    start = page.locator("#preview-from").inner_text().strip()
    end = page.locator("#preview-to").inner_text().strip()
    shown = preview_lines(page)
    listed = run_cli("shifts", NAME, "--config", str(repo), "--from", start, "--to", end)
    assert listed.returncode == 0, listed.stderr
    assert shown and shown == listed.stdout.splitlines()
    assert {"weekly", "office-hours"} <= {line.rsplit("  ", 1)[1] for line in shown}

    # a bad entry: a time window on no day at all, shown at its line
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        page.get_by_label(f"Layer 2 window 1 {day}").click()
        settle(page)
    verdict(page, "problems to fix")
    problem = page.locator("#review-yaml .review-problem")
    problem.first.wait_for(timeout=WAIT_MS)
    assert "at least 1 item" in problem.first.inner_text()
    assert "- {days: [], from:" in problem.first.locator("xpath=..").inner_text()
    assert page.locator("#open-pr").is_disabled()
    shot(page, "schedule-editor-problem")
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        page.get_by_label(f"Layer 2 window 1 {day}").click()
        settle(page)
    verdict(page, "valid")
    assert yaml_shown(page) == copied

    # the pull request, against the stand-in
    page.locator("#open-pr").click()
    link = page.locator("#pr-link")
    link.wait_for(timeout=WAIT_MS)
    [pull] = github.pulls
    assert link.get_attribute("href") == f"{github.url}/{github.repository}/pull/{pull.number}"
    assert pull.title == f"Add Schedule {NAME}" and pull.base == "main"
    branch = page.locator("#pr-branch")
    assert branch.inner_text().strip() == pull.head
    assert branch.get_attribute("href") == f"{github.url}/{github.repository}/tree/{pull.head}"
    assert github.file(pull.head, f"schedules/{NAME}.yaml") == copied
    shot(page, "schedule-editor-pull-request")
    assert_accessible(page)


def test_edit_an_existing_schedule_on_a_phone(
    browser: Any, editor_app: App, provider: Provider, shot: Any
) -> None:
    page = sso(browser, editor_app, provider, ADMIN, **PHONE)
    page.goto(f"{editor_app.url}/schedules/storefront-primary/edit")
    loaded(page)
    verdict(page, "valid")
    assert field(page, "Schedule name").input_value() == "storefront-primary"
    assert field(page, "Time zone").input_value() == "Europe/London"
    assert page.get_by_label("Remove samuel.osei@northwind.example").count() == 2
    assert "No changes" in page.locator("#review-plan").inner_text()
    type_into(page, "Layer 1 handoff time", "11:00")
    page.locator("#review-plan", has_text="~ update Schedule storefront-primary").wait_for(
        timeout=WAIT_MS)
    assert '"2026-01-05T10:00" -> "2026-01-05T11:00"' in page.locator("#review-plan").inner_text()
    assert page.locator("tr.preview-shift").count() > 0
    for selector in ("#copy-yaml", "#open-pr"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
        assert box["height"] >= 44, selector
    shot(page, "schedule-editor-phone")
    assert_accessible(page)
