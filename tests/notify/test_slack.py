"""Slack through slack-sdk against the local Slack peer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from oncall.notify.message import parse_slack_action
from oncall.notify.providers.slack import SlackProvider
from oncall.testing.peers import SlackPeer

from .conftest import ACKED, PAGE, RESOLVED, provider_settings


@pytest.fixture
def slack() -> Iterator[SlackPeer]:
    with SlackPeer(users={"alice@example.com": "U0ALICE"}) as peer:
        yield peer


def test_posts_to_the_service_channel_with_buttons(slack: SlackPeer) -> None:
    result = SlackProvider(provider_settings(slack.env())).send("#checkout", PAGE)

    assert result.ok and result.channel and result.ts
    (call,) = slack.calls("chat.postMessage")
    assert call["channel"] == "#checkout"
    assert "#123" in call["text"]
    actions = next(b for b in call["blocks"] if b["type"] == "actions")["elements"]
    parsed = [parse_slack_action(a["action_id"], a["value"]) for a in actions]
    assert [(p.action, p.incident_id) for p in parsed if p] == [
        ("acknowledge", PAGE.incident_id),
        ("resolve", PAGE.incident_id),
    ]
    request = next(r for r in slack.requests if r.path == "/api/chat.postMessage")
    assert request.header("Authorization") == "Bearer xoxb-oncall-test"


def test_direct_message_finds_the_user_by_email(slack: SlackPeer) -> None:
    result = SlackProvider(provider_settings(slack.env())).send("alice@example.com", PAGE)

    assert result.ok
    assert slack.calls("users.lookupByEmail") == [{"email": "alice@example.com"}]
    (opened,) = slack.calls("conversations.open")
    assert opened["users"] in ("U0ALICE", ["U0ALICE"])
    (posted,) = slack.calls("chat.postMessage")
    assert posted["channel"].startswith("D") and posted["channel"] == result.channel


def test_a_direct_message_channel_is_remembered_until_slack_says_it_is_gone(
    slack: SlackPeer,
) -> None:
    provider = SlackProvider(provider_settings(slack.env()))
    first, second = provider.send("alice@example.com", PAGE), provider.send("alice@example.com",
                                                                              PAGE)
    assert first.ok and second.ok and first.channel == second.channel
    assert len(slack.calls("users.lookupByEmail")) == 1
    assert len(slack.calls("conversations.open")) == 1

    slack.close_dm("U0ALICE")
    third = provider.send("alice@example.com", PAGE)

    assert third.ok and third.channel != first.channel
    assert len(slack.calls("users.lookupByEmail")) == 2
    assert len(slack.calls("conversations.open")) == 2
    assert len(slack.calls("chat.postMessage")) == 4  # the one refused, then the new channel


def test_unknown_email_is_a_permanent_failure(slack: SlackPeer) -> None:
    result = SlackProvider(provider_settings(slack.env())).send("nobody@example.com", PAGE)

    assert not result.ok and not result.retryable
    assert "nobody@example.com" in (result.error or "")
    assert slack.calls("chat.postMessage") == []


def test_update_rewrites_the_message_and_drops_buttons_once_resolved(slack: SlackPeer) -> None:
    provider = SlackProvider(provider_settings(slack.env()))
    sent = provider.send("#checkout", PAGE)
    assert sent.channel and sent.ts

    acked = provider.update(sent.channel, sent.ts, ACKED)
    resolved = provider.update(sent.channel, sent.ts, RESOLVED)

    assert acked.ok and resolved.ok and resolved.ts == sent.ts
    first, second = slack.calls("chat.update")
    assert [
        e["text"]["text"] for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]
    ] == ["Resolve"]
    assert not [b for b in second["blocks"] if b["type"] == "actions"]
    assert slack.messages[(sent.channel, sent.ts)]["text"].startswith(":white_check_mark:")


def test_update_of_unknown_message_is_permanent(slack: SlackPeer) -> None:
    result = SlackProvider(provider_settings(slack.env())).update("C1", "1.000001", ACKED)
    assert not result.ok and not result.retryable and "message_not_found" in (result.error or "")


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (403, False)]
)
def test_http_failures_classified(slack: SlackPeer, status: int, retryable: bool) -> None:
    slack.fail(status)
    result = SlackProvider(provider_settings(slack.env())).send("#checkout", PAGE)
    assert not result.ok
    assert result.retryable is retryable
    assert result.status_code == status
    assert len(slack.requests) == 1, "the provider must not retry on its own"


def test_wrong_token_is_permanent(slack: SlackPeer) -> None:
    settings = provider_settings(slack.env(), ONCALL_SLACK_TOKEN="xoxb-wrong")
    result = SlackProvider(settings).send("#checkout", PAGE)
    assert not result.ok and not result.retryable and "invalid_auth" in (result.error or "")


def test_hanging_slack_times_out_retryably(slack: SlackPeer, short_timeout: str) -> None:
    slack.hang()
    settings = provider_settings(slack.env(), ONCALL_SLACK_TIMEOUT=short_timeout)
    result = SlackProvider(settings).send("#checkout", PAGE)
    assert not result.ok and result.retryable
    assert "timeout" in (result.error or "")


def test_unreachable_slack_is_retryable() -> None:
    with SlackPeer() as peer:
        env = peer.env()
    result = SlackProvider(provider_settings(env)).send("#checkout", PAGE)
    assert not result.ok and result.retryable


def test_failure_switch_for_a_number_of_requests(slack: SlackPeer) -> None:
    provider = SlackProvider(provider_settings(slack.env()))
    slack.fail(500, times=2)
    outcomes = [provider.send("#checkout", PAGE).ok for _ in range(3)]
    assert outcomes == [False, False, True]


def test_the_posted_fallback_text_cannot_ping_the_channel(slack: SlackPeer) -> None:
    hostile = replace(PAGE, title="<!channel> <https://evil.example|Reset SSO>")
    assert SlackProvider(provider_settings(slack.env())).send("#checkout", hostile).ok
    (call,) = slack.calls("chat.postMessage")
    assert "<!channel>" not in call["text"]
    assert "&lt;!channel&gt; &lt;https://evil.example|Reset SSO&gt;" in call["text"]
