"""Turning "page this person" into outbox rows: which contact, which channel, how much later.

A person's own notification rules decide; without rules the defaults of
`oncall.core.notification_rules` apply to their verified contact methods. Email (their identity)
and Slack (looked up by email) need no verification. Channels whose provider is not configured
are left out; when nothing else is left, email or Slack by identity is the last resort.

`people` reads everyone a step pages in one statement, whatever their number; `plan`
decides from what it read, without the database.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Connection,
    Integer,
    Row,
    String,
    and_,
    bindparam,
    cast,
    literal,
    null,
    select,
    union_all,
)
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

_USER, _METHOD, _RULE = 0, 1, 2


def _read_people(by_email: bool) -> CompoundSelect[Any]:
    """Users (by email and enabled, or by id), their verified methods and their rules for an
    urgency, in one statement: a page is one round trip, not three. Rows are (part, user id,
    email, item id, method type, address, rule's method id, delay), parts in order, items by
    id: methods in the order they were added, rules in the order they were written."""
    if by_email:
        chosen = and_(_USERS.c.email.in_(bindparam("emails", expanding=True)),
                      _USERS.c.disabled_at.is_(None))
    else:
        chosen = _USERS.c.id == bindparam("user_id")
    # PostgreSQL types a union's columns branch by branch: every NULL is typed.
    no_id, no_text, no_int = cast(null(), BigInteger), cast(null(), String), cast(null(), Integer)
    users = select(literal(_USER).label("part"), _USERS.c.id.label("user_id"), _USERS.c.email,
                   no_id.label("item"), no_text.label("type"), no_text.label("address"),
                   no_id.label("method_id"), no_int.label("delay")).where(chosen)
    methods = (
        select(literal(_METHOD), _METHODS.c.user_id, no_text, _METHODS.c.id, _METHODS.c.type,
               _METHODS.c.address, no_id, no_int)
        .join(_USERS, _USERS.c.id == _METHODS.c.user_id)
        .where(chosen, _METHODS.c.verified_at.is_not(None), _METHODS.c.disabled_at.is_(None))
    )
    rules = (
        select(literal(_RULE), _RULES.c.user_id, no_text, _RULES.c.id, no_text, no_text,
               _RULES.c.contact_method_id, _RULES.c.delay_seconds)
        .join(_USERS, _USERS.c.id == _RULES.c.user_id)
        .where(chosen, _RULES.c.urgency == bindparam("urgency"))
    )
    return union_all(users, methods, rules).order_by("part", "item")


_BY_EMAIL = _read_people(by_email=True)
_BY_ID = _read_people(by_email=False)


def _people_from(rows: Iterable[Row[Any]]) -> dict[int, Person]:
    emails: dict[int, str] = {}
    methods: dict[int, list[Method]] = {}
    rules: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        part, user_id, email, item, kind, address, method_id, delay = tuple(row)
        if part == _USER:
            emails[user_id] = email
        elif part == _METHOD:
            methods.setdefault(user_id, []).append(Method(item, kind, address))
        else:
            rules.setdefault(user_id, []).append((method_id, delay))
    return {
        user_id: Person(user_id, email, tuple(methods.get(user_id, ())),
                        tuple(rules.get(user_id, ())))
        for user_id, email in emails.items()
    }


def people(conn: Connection, emails: Iterable[str], urgency: Urgency) -> dict[str, Person]:
    """The enabled users among `emails`, by email; a disabled or unknown address is absent."""
    wanted = sorted(set(emails))
    if not wanted:
        return {}
    rows = conn.execute(_BY_EMAIL, {"emails": wanted, "urgency": urgency})
    return {p.email: p for p in _people_from(rows).values()}


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
    rows = session.connection().execute(_BY_ID, {"user_id": user.id, "urgency": urgency})
    person = _people_from(rows)[user.id]
    return plan(person, urgency, enabled)
