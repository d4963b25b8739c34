"""Personal notification rules."""

from __future__ import annotations

from datetime import timedelta

from oncall.core.notification_rules import Channel, Rule, plan

ALL = list(Channel)
M = timedelta(minutes=1)


def pairs(items: list) -> list[tuple[int, str]]:  # type: ignore[type-arg]
    return [(int(p.delay / M), p.channel.value) for p in items]


def test_defaults_for_high_urgency() -> None:
    assert pairs(plan([], "high", ALL)) == [
        (0, "email"),
        (0, "push"),
        (0, "slack"),
        (1, "sms"),
        (3, "voice"),
    ]


def test_defaults_for_low_urgency_never_ring() -> None:
    assert pairs(plan([], "low", ALL)) == [(0, "email"), (0, "slack")]


def test_own_rules_replace_defaults() -> None:
    rules = [
        Rule(timedelta(0), Channel.PUSH, "high"),
        Rule(M, Channel.SMS, "high"),
        Rule(3 * M, Channel.VOICE, "high"),
    ]
    assert pairs(plan(rules, "high", ALL)) == [(0, "push"), (1, "sms"), (3, "voice")]


def test_unverified_channels_are_left_out() -> None:
    rules = [Rule(timedelta(0), Channel.PUSH, "high"), Rule(M, Channel.SMS, "high")]
    assert pairs(plan(rules, "high", [Channel.SMS, Channel.EMAIL])) == [(1, "sms")]


def test_never_empty_falls_back_to_email() -> None:
    rules = [Rule(timedelta(0), Channel.VOICE, "low")]
    assert pairs(plan(rules, "low", ALL)) == [(0, "email")]
    assert pairs(plan([Rule(0 * M, Channel.SMS, "high")], "high", [])) == [(0, "email")]


def test_duplicates_collapse() -> None:
    rules = [Rule(M, Channel.SMS, "high"), Rule(M, Channel.SMS, "high")]
    assert pairs(plan(rules, "high", ALL)) == [(1, "sms")]
