"""A person's contact methods, notification rules, and the test page they can send themselves."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import ContactMethodRow, NotificationRuleRow
from oncall.incidents import events
from oncall.incidents.actors import Actor
from oncall.store import outbox

TEST_PAGE = "user.test_page"


class Invalid(ValueError):
    pass


@dataclass(frozen=True)
class Contact:
    id: int
    type: str
    address: str
    label: str
    verified: bool


@dataclass(frozen=True)
class Rule:
    urgency: str
    delay_minutes: int
    contact: str


def contacts(session: Session, user_id: int) -> list[Contact]:
    rows = session.scalars(
        select(ContactMethodRow)
        .where(ContactMethodRow.user_id == user_id, ContactMethodRow.disabled_at.is_(None))
        .order_by(ContactMethodRow.id)
    )
    return [
        Contact(r.id, r.type, r.address, r.label or "", r.verified_at is not None) for r in rows
    ]


def rules(session: Session, user_id: int) -> list[Rule]:
    rows = session.execute(
        select(NotificationRuleRow, ContactMethodRow)
        .join(ContactMethodRow, ContactMethodRow.id == NotificationRuleRow.contact_method_id)
        .where(NotificationRuleRow.user_id == user_id)
        .order_by(NotificationRuleRow.urgency, NotificationRuleRow.delay_seconds)
    )
    return [Rule(r.urgency, r.delay_seconds // 60, f"{c.type} {c.address}") for r, c in rows]


def send_test_page(session: Session, actor: Actor, contact_id: int | None, now: datetime) -> int:
    """Queue a test notification in the outbox for the actor's verified contact methods.

    Returns how many were queued; the worker delivers them like any page.
    """
    if actor.user_id is None:
        raise Invalid("only a signed-in person can send themselves a test page")
    found = [c for c in contacts(session, actor.user_id) if c.verified]
    if contact_id is not None:
        found = [c for c in found if c.id == contact_id]
    if not found:
        raise Invalid("no verified contact method to send a test page to")
    batch = secrets.token_hex(8)
    for c in found:
        outbox.queue_test_page(
            session, key=f"test:{actor.user_id}:{c.id}:{batch}", user_id=actor.user_id,
            contact_method_id=c.id, channel=c.type, address=c.address, now=now,
        )
    events.record(
        session, at=now, actor=actor, type=TEST_PAGE, data={"contacts": [c.id for c in found]}
    )
    session.flush()
    return len(found)
