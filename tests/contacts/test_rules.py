"""Personal notification rules: CRUD, validation, and what a page would do (own or default)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall import contacts
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, ContactMethodRow
from oncall.incidents.actors import Actor, Forbidden

from .conftest import NOW  # type: ignore[import-not-found]


def verified_phone(engine: Engine, actor: Actor) -> tuple[int, int]:
    assert actor.user_id
    with write_session(engine) as session:
        sms, voice = contacts.add_phone(session, actor, actor.user_id, "+14155552671", NOW)
        for row in session.scalars(select(ContactMethodRow)):
            row.verified_at = NOW
    return sms.id, voice.id


def test_defaults_until_the_person_writes_rules(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice = people["alice"]
    assert alice.user_id
    _sms, voice = verified_phone(applied_engine, alice)
    with Session(applied_engine) as session:
        plan = contacts.effective_rules(session, alice, alice.user_id, "high")
    assert all(r.default for r in plan)
    assert [(r.channel, r.delay) for r in plan if r.channel in ("sms", "voice")] == [
        ("sms", timedelta(minutes=1)), ("voice", timedelta(minutes=3))]
    with write_session(applied_engine) as session:
        contacts.add_rule(session, alice, alice.user_id, urgency="high", delay=0,
                          contact_method_id=voice, now=NOW)
    with Session(applied_engine) as session:
        plan = contacts.effective_rules(session, alice, alice.user_id, "high")
        low = contacts.effective_rules(session, alice, alice.user_id, "low")
    assert [(r.channel, r.delay, r.default) for r in plan] == [("voice", timedelta(0), False)]
    assert all(r.default and r.channel != "voice" for r in low)


def test_crud_is_audited(applied_engine: Engine, people: dict[str, Actor]) -> None:
    alice = people["alice"]
    assert alice.user_id
    sms, voice = verified_phone(applied_engine, alice)
    with write_session(applied_engine) as session:
        rule = contacts.add_rule(session, alice, alice.user_id, urgency="high",
                                 delay=timedelta(minutes=1), contact_method_id=sms, now=NOW)
        changed = contacts.update_rule(session, alice, rule.id, delay=120, now=NOW)
        moved = contacts.update_rule(session, alice, rule.id, contact_method_id=voice, now=NOW)
    assert changed.delay == timedelta(minutes=2) and moved.channel == "voice" and moved.usable
    with Session(applied_engine) as session:
        [listed] = contacts.notification_rules(session, alice, alice.user_id)
    assert listed == moved
    with write_session(applied_engine) as session:
        contacts.remove_rule(session, alice, rule.id, NOW)
    with Session(applied_engine) as session:
        assert contacts.notification_rules(session, alice, alice.user_id) == []
        types = list(session.scalars(select(AuditEventRow.type).where(
            AuditEventRow.type.like("notification_rule.%")).order_by(AuditEventRow.id)))
    assert types == ["notification_rule.added", "notification_rule.changed",
                     "notification_rule.changed", "notification_rule.removed"]


@pytest.mark.parametrize(
    ("urgency", "delay", "method", "message"),
    [
        ("medium", 0, "sms", "urgency"),
        ("high", -1, "sms", "negative"),
        ("high", 3 * 3600, "sms", "limited"),
        ("low", 0, "voice", "never ring"),
    ],
)
def test_invalid_rules(
    applied_engine: Engine, people: dict[str, Actor], urgency: str, delay: int, method: str,
    message: str,
) -> None:
    alice = people["alice"]
    assert alice.user_id
    sms, voice = verified_phone(applied_engine, alice)
    with write_session(applied_engine) as session, pytest.raises(contacts.Invalid, match=message):
        contacts.add_rule(session, alice, alice.user_id, urgency=urgency, delay=delay,
                          contact_method_id=sms if method == "sms" else voice, now=NOW)


def test_duplicates_and_other_peoples_methods(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice, admin = people["alice"], people["admin"]
    assert alice.user_id and admin.user_id
    sms, _ = verified_phone(applied_engine, alice)
    with write_session(applied_engine) as session:
        contacts.add_rule(session, alice, alice.user_id, urgency="high", delay=0,
                          contact_method_id=sms, now=NOW)
        with pytest.raises(contacts.Invalid, match="exists"):
            contacts.add_rule(session, alice, alice.user_id, urgency="high", delay=0,
                              contact_method_id=sms, now=NOW)
        with pytest.raises(contacts.Invalid, match="not one of"):
            contacts.add_rule(session, admin, admin.user_id, urgency="high", delay=0,
                              contact_method_id=sms, now=NOW)


def test_observers_cannot_edit_others(applied_engine: Engine, people: dict[str, Actor]) -> None:
    alice, bob = people["alice"], people["bob"]
    assert alice.user_id
    sms, _ = verified_phone(applied_engine, alice)
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        contacts.add_rule(session, bob, alice.user_id, urgency="high", delay=0,
                          contact_method_id=sms, now=NOW)
    with Session(applied_engine) as session, pytest.raises(Forbidden):
        contacts.notification_rules(session, bob, alice.user_id)
