"""Turning "page this person" into outbox rows: which contact, which channel, how much later.

A person's own notification rules decide; without rules the defaults of
`oncall.core.notification_rules` apply to their verified contact methods. Email (their identity)
and Slack (looked up by email) need no verification. Channels whose provider is not configured
are left out; when nothing else is left, email or Slack by identity is the last resort.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.core.notification_rules import DEFAULT_RULES, Channel, Urgency, plan
from oncall.db.models import ContactMethodRow, NotificationRuleRow, UserRow

IDENTITY_CHANNELS = (Channel.EMAIL, Channel.SLACK)
"""Channels reachable from the email identity alone (Slack finds the user by email)."""


@dataclass(frozen=True)
class Contact:
    delay: timedelta
    channel: Channel
    address: str
    contact_method_id: int | None = None


def _verified(session: Session, user: UserRow) -> list[ContactMethodRow]:
    return list(
        session.scalars(
            select(ContactMethodRow)
            .where(
                ContactMethodRow.user_id == user.id,
                ContactMethodRow.verified_at.is_not(None),
                ContactMethodRow.disabled_at.is_(None),
            )
            .order_by(ContactMethodRow.id)
        )
    )


def contacts_for(
    session: Session, user: UserRow, urgency: Urgency, enabled: Collection[Channel]
) -> list[Contact]:
    """The notifications one page of `user` should produce, in the order they fall due."""
    methods = {m.id: m for m in _verified(session, user)}
    own = session.scalars(
        select(NotificationRuleRow).where(
            NotificationRuleRow.user_id == user.id, NotificationRuleRow.urgency == urgency
        )
    ).all()
    found: list[Contact] = []
    for rule in own:
        method = methods.get(rule.contact_method_id)
        if method is None or Channel(method.type) not in enabled:
            continue
        if urgency == "low" and method.type == Channel.VOICE:
            continue
        delay = timedelta(seconds=rule.delay_seconds)
        found.append(Contact(delay, Channel(method.type), method.address, method.id))
    if not found:
        by_channel: dict[Channel, list[ContactMethodRow]] = {}
        for m in methods.values():
            by_channel.setdefault(Channel(m.type), []).append(m)
        available = (set(by_channel) | set(IDENTITY_CHANNELS)) & set(enabled)
        for item in plan(DEFAULT_RULES, urgency, available):
            targets = by_channel.get(item.channel, [])
            if targets:
                found += [Contact(item.delay, item.channel, m.address, m.id) for m in targets]
            elif item.channel in IDENTITY_CHANNELS:
                found.append(Contact(item.delay, item.channel, user.email))
    found = [c for c in found if c.channel in enabled]
    if not found:
        for channel in IDENTITY_CHANNELS:
            if channel in enabled:
                found.append(Contact(timedelta(0), channel, user.email))
                break
    return sorted(found, key=lambda c: (c.delay, c.channel.value, c.address))
