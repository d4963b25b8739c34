"""Personal notification rules: for each urgency, which contact method after how long.

With no rules of their own for an urgency, a person is paged by the defaults of
`oncall.core.notification_rules` over their verified methods; `effective_rules` shows exactly
what a page would do, which is what the profile page displays. `replace_rules` sets a whole
urgency at once (the API's PUT, the page's "use the defaults"), checked in full before it writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    address: str = ""
    """The address as stored (E.164 for a phone; `display` is how people read it), except for a
    push subscription, whose keys are secrets: its display."""


@dataclass(frozen=True)
class EffectiveRule:
    urgency: str
    delay: timedelta
    channel: str
    display: str
    default: bool
    """True when it comes from the defaults: the person has no rules for this urgency, or none
    that can be used yet (their methods are unverified or off)."""
    address: str = ""
    contact_method_id: int | None = None
    """None for email or Slack reached through the person's identity, not a method."""


def _address(channel: str, address: str) -> str:
    return _display(channel, address) if channel == Channel.PUSH.value else address


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
        address=_address(method.type, method.address),
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
    own = {
        (method_id, seconds) for method_id, seconds in session.execute(
            select(NotificationRuleRow.contact_method_id, NotificationRuleRow.delay_seconds)
            .where(NotificationRuleRow.user_id == user_id, NotificationRuleRow.urgency == level)
        )
    }
    contacts = contacts_for(session, user, level, enabled if enabled is not None else set(Channel))
    # Own rules that cannot be used (no method verified yet) leave the defaults in force.
    default = not any(
        (c.contact_method_id, int(c.delay.total_seconds())) in own for c in contacts
    )
    return [
        EffectiveRule(
            level,
            c.delay,
            c.channel.value,
            _display(c.channel.value, c.address),
            default=default,
            address=_address(c.channel.value, c.address),
            contact_method_id=c.contact_method_id,
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


@dataclass(frozen=True)
class RuleSpec:
    """One rule of a replacement list: page through `contact_method_id` after `delay`."""

    delay: timedelta
    contact_method_id: int


class InvalidRules(Invalid):
    """A replacement refused: every problem found, as (field, reason), fields named as in the
    JSON of the API (`high[1].contact_method_id`); nothing was changed."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in self.problems))


def _problems(
    user: UserRow, methods: Mapping[int, ContactMethodRow], urgency: str,
    specs: Sequence[RuleSpec],
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()
    for index, spec in enumerate(specs):
        at = f"{urgency}[{index}]"
        try:
            seconds = _delay(spec.delay)
        except Invalid as exc:
            found.append((f"{at}.delay_minutes", str(exc)))
            seconds = -1
        method = methods.get(spec.contact_method_id)
        if method is None:
            found.append((f"{at}.contact_method_id",
                          f"contact method {spec.contact_method_id} is not one of "
                          f"{user.email}'s"))
            continue
        if urgency == "low" and method.type == Channel.VOICE.value:
            found.append((f"{at}.contact_method_id",
                          "low-urgency incidents never ring a phone: choose another method"))
        if seconds >= 0:
            if (method.id, seconds) in seen:
                found.append((at, "the same rule is listed twice"))
            seen.add((method.id, seconds))
    return found


def replace_rules(
    session: Session,
    actor: Actor,
    user_id: int,
    rules: Mapping[str, Sequence[RuleSpec]],
    now: datetime,
) -> list[NotificationRule]:
    """Make the person's rules of each urgency in `rules` exactly the ones listed (an empty
    list: the defaults apply again); urgencies not named keep theirs.

    Everything is checked before anything changes (InvalidRules lists every problem). A rule
    kept as it was keeps its id and is not audited; each one dropped or added is audited as
    `remove_rule` and `add_rule` audit theirs. Returns all the person's rules afterwards.
    """
    user = owner(session, actor, user_id, "change the notification rules")
    unknown = [(name, f"urgency must be one of {', '.join(URGENCIES)}, not {name!r}")
               for name in rules if name not in URGENCIES]
    if unknown:
        raise InvalidRules(unknown)
    wanted = {spec.contact_method_id for specs in rules.values() for spec in specs}
    methods = {
        m.id: m for m in session.scalars(
            select(ContactMethodRow).where(ContactMethodRow.user_id == user.id,
                                           ContactMethodRow.id.in_(wanted)))
    } if wanted else {}
    problems = [p for urgency, specs in rules.items()
                for p in _problems(user, methods, urgency, specs)]
    if problems:
        raise InvalidRules(problems)
    # One replacement of a person's rules at a time: the second waits, then sees the first's.
    session.get(UserRow, user.id, with_for_update=True, populate_existing=True)
    for urgency, specs in rules.items():
        current = list(session.scalars(
            select(NotificationRuleRow)
            .where(NotificationRuleRow.user_id == user.id, NotificationRuleRow.urgency == urgency)
            .order_by(NotificationRuleRow.id)))
        target = [(spec.contact_method_id, _delay(spec.delay)) for spec in specs]
        keep = {(r.contact_method_id, r.delay_seconds) for r in current} & set(target)
        for row in current:
            if (row.contact_method_id, row.delay_seconds) not in keep:
                before = _state(row)
                session.delete(row)
                session.flush()
                audit(session, actor=actor, user=user, type="notification_rule.removed",
                      now=now, before=before)
        existing = {(r.contact_method_id, r.delay_seconds) for r in current}
        for method_id, seconds in target:
            if (method_id, seconds) in existing:
                continue
            row = NotificationRuleRow(user_id=user.id, contact_method_id=method_id,
                                      urgency=urgency, delay_seconds=seconds, created_at=now)
            session.add(row)
            session.flush()
            audit(session, actor=actor, user=user, type="notification_rule.added", now=now,
                  after=_state(row))
    return notification_rules(session, actor, user_id)
