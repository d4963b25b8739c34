"""Personal notification rules: which channels page a person, and how long after the page.

Like PagerDuty's: for a high-urgency incident, e.g. push at once, SMS after 1 minute, a voice
call after 3; for low urgency, email only. The plan only uses channels the person has a
verified contact method for, and never comes out empty: email (the identity) is the last resort.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Literal

Urgency = Literal["high", "low"]


class Channel(StrEnum):
    PUSH = "push"
    SLACK = "slack"
    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"
    TEAMS = "teams"
    """A service's Teams channel (incoming webhook); nobody's personal channel."""


@dataclass(frozen=True, order=True)
class Rule:
    delay: timedelta
    channel: Channel
    urgency: Urgency


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(timedelta(0), Channel.PUSH, "high"),
    Rule(timedelta(0), Channel.SLACK, "high"),
    Rule(timedelta(0), Channel.EMAIL, "high"),
    Rule(timedelta(minutes=1), Channel.SMS, "high"),
    Rule(timedelta(minutes=3), Channel.VOICE, "high"),
    Rule(timedelta(0), Channel.SLACK, "low"),
    Rule(timedelta(0), Channel.EMAIL, "low"),
)


@dataclass(frozen=True)
class PlannedNotification:
    delay: timedelta
    channel: Channel


def plan(
    rules: Iterable[Rule], urgency: Urgency, available: Iterable[Channel]
) -> list[PlannedNotification]:
    """The notifications to schedule for one page, in the order they fall due.

    `rules` are the person's own (empty: the defaults apply); `available` are channels with a
    verified contact method. Low urgency never rings a phone, whatever the rules say.
    """
    mine = list(rules) or list(DEFAULT_RULES)
    usable = set(available)
    chosen: dict[tuple[timedelta, Channel], None] = {}
    for rule in sorted(mine):
        if rule.urgency != urgency or rule.channel not in usable:
            continue
        if urgency == "low" and rule.channel is Channel.VOICE:
            continue
        chosen.setdefault((rule.delay, rule.channel), None)
    if not chosen:
        chosen[(timedelta(0), Channel.EMAIL)] = None
    return [PlannedNotification(delay, channel) for delay, channel in chosen]
