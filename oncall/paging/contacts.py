"""Turning "page this person" into outbox rows: which contact, which channel, how much later.

A person's own notification rules decide; without rules the defaults of
`oncall.core.notification_rules` apply to their verified contact methods. Email (their identity)
and Slack (looked up by email) need no verification. Channels whose provider is not configured
are left out; when nothing else is left, email or Slack by identity is the last resort.

`people` reads everyone a step pages in three statements, whatever their number; `plan`
decides from what it read, without the database.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from oncall.core import notification_rules
from oncall.core.notification_rules import DEFAULT_RULES, Channel, Urgency
from oncall.db.models import ContactMethodRow, NotificationRuleRow, UserRow

IDENTITY_CHANNELS = (Channel.EMAIL, Channel.SLACK)
"""Channels reachable from the email identity alone (Slack finds the user by email)."""


@dataclass(frozen=True)
class Contact:
    delay: timedelta
    channel: Channel
    address: str
    contact_method_id: int | None = None


@dataclass(frozen=True)
class Method:
    """A verified, enabled contact method."""

    id: int
    type: str
    address: str


@dataclass(frozen=True)
class Person:
    """What paging one person needs: their verified methods and their rules for one urgency,
    as (contact method id, delay in seconds)."""

    id: int
    email: str
    methods: tuple[Method, ...] = ()
    rules: tuple[tuple[int, int], ...] = ()


_USERS = UserRow.__table__
_METHODS = ContactMethodRow.__table__
_RULES = NotificationRuleRow.__table__

_ENABLED_USERS = select(_USERS.c.id, _USERS.c.email).where(
    _USERS.c.email.in_(bindparam("emails", expanding=True)), _USERS.c.disabled_at.is_(None)
)
_VERIFIED = (
    select(_METHODS.c.user_id, _METHODS.c.id, _METHODS.c.type, _METHODS.c.address)
    .where(
        _METHODS.c.user_id.in_(bindparam("users", expanding=True)),
        _METHODS.c.verified_at.is_not(None),
        _METHODS.c.disabled_at.is_(None),
    )
    .order_by(_METHODS.c.id)
)
_OWN_RULES = (
    select(_RULES.c.user_id, _RULES.c.contact_method_id, _RULES.c.delay_seconds)
    .where(_RULES.c.user_id.in_(bindparam("users", expanding=True)),
           _RULES.c.urgency == bindparam("urgency"))
    .order_by(_RULES.c.id)
)


def _details(conn: Connection, found: dict[int, str], urgency: Urgency) -> dict[int, Person]:
    """`found` (user id → email) with their methods and rules."""
    if not found:
        return {}
    ids = list(found)
    methods: dict[int, list[Method]] = {}
    for user_id, method_id, kind, address in conn.execute(_VERIFIED, {"users": ids}):
        methods.setdefault(user_id, []).append(Method(method_id, kind, address))
    rules: dict[int, list[tuple[int, int]]] = {}
    for user_id, method_id, delay in conn.execute(_OWN_RULES, {"users": ids, "urgency": urgency}):
        rules.setdefault(user_id, []).append((method_id, delay))
    return {
        user_id: Person(user_id, email, tuple(methods.get(user_id, ())),
                        tuple(rules.get(user_id, ())))
        for user_id, email in found.items()
    }


def people(conn: Connection, emails: Iterable[str], urgency: Urgency) -> dict[str, Person]:
    """The enabled users among `emails`, by email; a disabled or unknown address is absent."""
    wanted = sorted(set(emails))
    if not wanted:
        return {}
    found = {row.id: row.email for row in conn.execute(_ENABLED_USERS, {"emails": wanted})}
    return {p.email: p for p in _details(conn, found, urgency).values()}


def plan(person: Person, urgency: Urgency, enabled: Collection[Channel]) -> list[Contact]:
    """The notifications one page of `person` should produce, in the order they fall due."""
    methods = {m.id: m for m in person.methods}
    found: list[Contact] = []
    for method_id, delay_seconds in person.rules:
        method = methods.get(method_id)
        if method is None or Channel(method.type) not in enabled:
            continue
        if urgency == "low" and method.type == Channel.VOICE:
            continue
        found.append(Contact(timedelta(seconds=delay_seconds), Channel(method.type),
                             method.address, method.id))
    if not found:
        by_channel: dict[Channel, list[Method]] = {}
        for m in methods.values():
            by_channel.setdefault(Channel(m.type), []).append(m)
        available = (set(by_channel) | set(IDENTITY_CHANNELS)) & set(enabled)
        for item in notification_rules.plan(DEFAULT_RULES, urgency, available):
            targets = by_channel.get(item.channel, [])
            if targets:
                found += [Contact(item.delay, item.channel, m.address, m.id) for m in targets]
            elif item.channel in IDENTITY_CHANNELS:
                found.append(Contact(item.delay, item.channel, person.email))
    found = [c for c in found if c.channel in enabled]
    if not found:
        for channel in IDENTITY_CHANNELS:
            if channel in enabled:
                found.append(Contact(timedelta(0), channel, person.email))
                break
    return sorted(found, key=lambda c: (c.delay, c.channel.value, c.address))


def contacts_for(
    session: Session, user: UserRow, urgency: Urgency, enabled: Collection[Channel]
) -> list[Contact]:
    """`plan` for one user row, disabled or not (the app previews a person's rules)."""
    person = _details(session.connection(), {user.id: user.email}, urgency)[user.id]
    return plan(person, urgency, enabled)
