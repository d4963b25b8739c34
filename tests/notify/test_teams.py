"""Teams through its incoming webhook against the Teams peer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from oncall.notify.message import render_teams
from oncall.notify.providers.teams import TeamsProvider
from oncall.testing.peers import TeamsPeer

from .conftest import PAGE, RESOLVED, provider_settings


@pytest.fixture
def teams() -> Iterator[TeamsPeer]:
    with TeamsPeer() as peer:
        yield peer


def test_posts_the_adaptive_card(teams: TeamsPeer) -> None:
    provider = TeamsProvider(provider_settings())
    assert provider.send(teams.webhook_url, PAGE).ok
    assert provider.send(teams.webhook_url, RESOLVED).ok

    first, second = teams.cards
    assert first == render_teams(PAGE)["attachments"][0]["content"]
    assert first["body"][0]["text"] == "#123 Checkout API 5xx rate above 5% – EU"
    assert next(a["title"] for a in first["actions"]) == "Acknowledge"
    assert second["body"][1]["text"] == "Resolved by bob"
    assert teams.requests[0].header("Content-Type") == "application/json"


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (502, True), (429, True), (400, False), (404, False)]
)
def test_failures_classified(teams: TeamsPeer, status: int, retryable: bool) -> None:
    teams.fail(status, "boom")
    result = TeamsProvider(provider_settings()).send(teams.webhook_url, PAGE)
    assert not result.ok and result.retryable is retryable and result.status_code == status


def test_throttling_reported_in_a_200_body_is_retryable(teams: TeamsPeer) -> None:
    teams.fail(200, "Microsoft Teams endpoint returned HTTP error 429 with ContextId ... throttled")
    result = TeamsProvider(provider_settings()).send(teams.webhook_url, PAGE)
    assert not result.ok and result.retryable


def test_hanging_webhook_times_out(teams: TeamsPeer, short_timeout: str) -> None:
    teams.hang()
    result = TeamsProvider(provider_settings(ONCALL_TEAMS_TIMEOUT=short_timeout)).send(
        teams.webhook_url, PAGE
    )
    assert not result.ok and result.retryable and "timeout" in (result.error or "")


def test_bad_webhook_url_is_permanent() -> None:
    result = TeamsProvider(provider_settings()).send("not a url", PAGE)
    assert not result.ok and not result.retryable


def test_a_markdown_link_in_the_title_is_not_a_link_in_the_card(teams: TeamsPeer) -> None:
    hostile = replace(PAGE, title="[Reset SSO](https://evil.example)")
    assert TeamsProvider(provider_settings()).send(teams.webhook_url, hostile).ok
    (card,) = teams.cards
    assert card["body"][0]["text"] == r"#123 \[Reset SSO\]\(https://evil.example\)"
