"""Personal notification rules: for each urgency, which contact method after how long.

With no rules of their own for an urgency, a person is paged by the defaults of
`oncall.core.notification_rules` over their verified methods; `effective_rules` shows exactly
what a page would do, which is what the profile page displays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.contacts.access import Invalid, NotFound, audit, owner
from oncall.contacts.methods import _display
from oncall.core.notification_rules import Channel, Urgency
from oncall.db.models import ContactMethodRow, NotificationRuleRow, UserRow
from oncall.incidents.actors import Actor
from oncall.paging.contacts import contacts_for

MAX_DELAY = timedelta(hours=2)
"""Longer than any sensible escalation step: a later notification would never be sent."""
URGENCIES: tuple[str, ...] = get_args(Urgency)


@dataclass(frozen=True)
class NotificationRule:
    id: int
    user_id: int
    urgency: str
    delay: timedelta
    contact_method_id: int
    channel: str
    display: str
    usable: bool
    """False while the method is unverified or turned off: the rule is skipped."""


@dataclass(frozen=True)
class EffectiveRule:
    urgency: str
    delay: timedelta
    channel: str
    display: str
    default: bool
    """True when it comes from the defaults (the person has no rules for this urgency)."""


def _view(rule: NotificationRuleRow, method: ContactMethodRow) -> NotificationRule:
    return NotificationRule(
        id=rule.id,
        user_id=rule.user_id,
        urgency=rule.urgency,
        delay=timedelta(seconds=rule.delay_seconds),
        contact_method_id=method.id,
        channel=method.type,
        display=_display(method.type, method.address),
        usable=method.verified_at is not None and method.disabled_at is None,
    )


def notification_rules(session: Session, actor: Actor, user_id: int) -> list[NotificationRule]:
    """A person's own rules, by urgency then delay."""
    owner(session, actor, user_id, "see the notification rules")
    rows = session.execute(
        select(NotificationRuleRow, ContactMethodRow)
        .join(ContactMethodRow, ContactMethodRow.id == NotificationRuleRow.contact_method_id)
        .where(NotificationRuleRow.user_id == user_id)
        .order_by(
            NotificationRuleRow.urgency,
            NotificationRuleRow.delay_seconds,
            NotificationRuleRow.id,
        )
    )
    return [_view(rule, method) for rule, method in rows]


def effective_rules(
    session: Session,
    actor: Actor,
    user_id: int,
    urgency: str,
    enabled: set[Channel] | None = None,
) -> list[EffectiveRule]:
    """What a page of this urgency would send now (own rules, else the defaults), given the
    channels the deployment has providers for (`enabled`; None: all)."""
    user = owner(session, actor, user_id, "see the notification rules")
    level = _urgency(urgency)
    own = session.scalar(
        select(NotificationRuleRow.id).where(
            NotificationRuleRow.user_id == user_id, NotificationRuleRow.urgency == level
        )
    )
    contacts = contacts_for(session, user, level, enabled if enabled is not None else set(Channel))
    return [
        EffectiveRule(
            level,
            c.delay,
            c.channel.value,
            _display(c.channel.value, c.address),
            default=own is None,
        )
        for c in contacts
    ]


def _urgency(value: str) -> Urgency:
    if value not in URGENCIES:
        raise Invalid(f"urgency must be one of {', '.join(URGENCIES)}, not {value!r}")
    return "low" if value == "low" else "high"


def _delay(delay: timedelta | int) -> int:
    seconds = int(delay.total_seconds()) if isinstance(delay, timedelta) else int(delay)
    if seconds < 0:
        raise Invalid("the delay cannot be negative")
    if seconds > MAX_DELAY.total_seconds():
        raise Invalid(f"the delay is limited to {int(MAX_DELAY.total_seconds() // 60)} minutes")
    return seconds


def _method(session: Session, user: UserRow, method_id: int) -> ContactMethodRow:
    method = session.get(ContactMethodRow, method_id)
    if method is None or method.user_id != user.id:
        raise Invalid(f"contact method {method_id} is not one of {user.email}'s")
    return method


def _check(
    session: Session,
    user: UserRow,
    method: ContactMethodRow,
    urgency: str,
    seconds: int,
    exclude: int | None = None,
) -> None:
    if urgency == "low" and method.type == Channel.VOICE.value:
        raise Invalid("low-urgency incidents never ring a phone: choose another method")
    clash = session.scalar(
        select(NotificationRuleRow.id).where(
            NotificationRuleRow.user_id == user.id,
            NotificationRuleRow.urgency == urgency,
            NotificationRuleRow.contact_method_id == method.id,
            NotificationRuleRow.delay_seconds == seconds,
            NotificationRuleRow.id != (exclude or 0),
        )
    )
    if clash is not None:
        raise Invalid("the same rule exists already")


def _state(rule: NotificationRuleRow) -> dict[str, object]:
    return {
        "id": rule.id,
        "urgency": rule.urgency,
        "delay_seconds": rule.delay_seconds,
        "contact_method_id": rule.contact_method_id,
    }


def add_rule(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    urgency: str,
    delay: timedelta | int,
    contact_method_id: int,
    now: datetime,
) -> NotificationRule:
    """Page through `contact_method_id` `delay` after a page of this urgency.

    A rule may name a method still being verified; it takes effect once verified.
    """
    user = owner(session, actor, user_id, "change the notification rules")
    level, seconds = _urgency(urgency), _delay(delay)
    method = _method(session, user, contact_method_id)
    _check(session, user, method, level, seconds)
    rule = NotificationRuleRow(
        user_id=user.id,
        contact_method_id=method.id,
        urgency=level,
        delay_seconds=seconds,
        created_at=now,
    )
    session.add(rule)
    session.flush()
    audit(session, actor=actor, user=user, type="notification_rule.added", now=now,
          after=_state(rule))
    return _view(rule, method)


def _rule(session: Session, actor: Actor, rule_id: int) -> tuple[NotificationRuleRow, UserRow]:
    rule = session.get(NotificationRuleRow, rule_id, with_for_update=True)
    if rule is None:
        raise NotFound(f"notification rule {rule_id} does not exist")
    return rule, owner(session, actor, rule.user_id, "change the notification rules")


def update_rule(
    session: Session,
    actor: Actor,
    rule_id: int,
    *,
    now: datetime,
    urgency: str | None = None,
    delay: timedelta | int | None = None,
    contact_method_id: int | None = None,
) -> NotificationRule:
    """Change any of a rule's urgency, delay and method (None leaves it as it is)."""
    rule, user = _rule(session, actor, rule_id)
    before = _state(rule)
    level = _urgency(urgency) if urgency is not None else rule.urgency
    seconds = _delay(delay) if delay is not None else rule.delay_seconds
    method = _method(session, user, contact_method_id or rule.contact_method_id)
    _check(session, user, method, level, seconds, exclude=rule.id)
    rule.urgency, rule.delay_seconds, rule.contact_method_id = level, seconds, method.id
    session.flush()
    if _state(rule) != before:
        audit(session, actor=actor, user=user, type="notification_rule.changed", now=now,
              before=before, after=_state(rule))
    return _view(rule, method)


def remove_rule(session: Session, actor: Actor, rule_id: int, now: datetime) -> None:
    """Delete a rule; with none left for an urgency, the defaults apply again."""
    rule, user = _rule(session, actor, rule_id)
    before = _state(rule)
    session.delete(rule)
    session.flush()
    audit(session, actor=actor, user=user, type="notification_rule.removed", now=now,
          before=before)
