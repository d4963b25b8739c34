"""The test page a person sends themselves, to their verified contact methods: used by the
profile page and by `POST /api/v1/users/me/test-page` (notification rules live in
`oncall.contacts.rules`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import ContactMethodRow
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


def contacts(session: Session, user_id: int) -> list[Contact]:
    rows = session.scalars(
        select(ContactMethodRow)
        .where(ContactMethodRow.user_id == user_id, ContactMethodRow.disabled_at.is_(None))
        .order_by(ContactMethodRow.id)
    )
    return [
        Contact(r.id, r.type, r.address, r.label or "", r.verified_at is not None) for r in rows
    ]


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
