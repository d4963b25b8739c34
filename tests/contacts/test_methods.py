"""Contact methods: adding, verifying by code, removing; who may do it; what is audited."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall import contacts
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, ContactMethodRow, NotificationRow, NotificationRuleRow
from oncall.incidents.actors import Actor, Forbidden

from .conftest import NOW  # type: ignore[import-not-found]

SUB: dict[str, Any] = {"endpoint": "https://push.example/send/abc",
       "keys": {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA", "auth": "tBHItJI5svbpez7K"}}


def code_for(engine: Engine, method_id: int) -> str:
    """The code in the pending verification row (the worker would send it)."""
    with Session(engine) as session:
        data = session.scalars(
            select(NotificationRow.provider_data)
            .where(NotificationRow.contact_method_id == method_id,
                   NotificationRow.kind == "verification")
            .order_by(NotificationRow.id.desc())
        ).first()
    assert data is not None
    return str(data["code"])


def audit(engine: Engine) -> list[tuple[str, str | None, str | None]]:
    with Session(engine) as session:
        rows = session.scalars(select(AuditEventRow).where(
            AuditEventRow.type.like("contact.%")).order_by(AuditEventRow.id))
        return [(r.type, r.subject_kind, r.subject_name) for r in rows]


def test_phone_is_stored_in_e164_and_verified_by_one_code(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice = people["alice"]
    assert alice.user_id
    with write_session(applied_engine) as session:
        sms, voice = contacts.add_phone(session, alice, alice.user_id, "+1 (415) 555-2671", NOW)
    assert (sms.type, voice.type) == ("sms", "voice")
    assert sms.address == voice.address == "+14155552671"
    assert sms.display == "+1 415-555-2671"
    assert not sms.verified and sms.verification_pending
    with Session(applied_engine) as session:
        [row] = session.scalars(select(NotificationRow).where(
            NotificationRow.kind == "verification"))
        assert (row.channel, row.address, row.user_id) == ("sms", "+14155552671", alice.user_id)
        stored = session.scalars(select(ContactMethodRow.verification_code_hash)).all()
    code = code_for(applied_engine, sms.id)
    assert len(code) == 6 and code.isdigit()
    assert all(h and code not in h and h.startswith("scrypt$") for h in stored)
    with write_session(applied_engine) as session:
        result = contacts.confirm(session, alice, voice.id, code, NOW + timedelta(minutes=2))
    assert result.ok and {m.type for m in result.verified} == {"sms", "voice"}
    with Session(applied_engine) as session:
        methods = contacts.contact_methods(session, alice, alice.user_id)
    assert all(m.verified for m in methods)
    assert [t for t, *_ in audit(applied_engine)] == [
        "contact.added", "contact.added", "contact.verification_sent", "contact.verified"]
    assert {(k, n) for _, k, n in audit(applied_engine)} == {("user", alice.name)}


@pytest.mark.parametrize("number", ["555-2671", "+1 555", "+44 abc", "", "+999 123456789"])
def test_bad_numbers_are_refused(
    applied_engine: Engine, people: dict[str, Actor], number: str
) -> None:
    alice = people["alice"]
    assert alice.user_id
    with write_session(applied_engine) as session, pytest.raises(contacts.Invalid):
        contacts.add_phone(session, alice, alice.user_id, number, NOW)


def test_national_numbers_need_a_region(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice = people["alice"]
    assert alice.user_id
    with write_session(applied_engine) as session:
        [sms] = contacts.add_phone(session, alice, alice.user_id, "020 7946 0958", NOW,
                                   voice=False, default_region="GB")
    assert sms.address == "+442079460958"


def test_wrong_codes_count_and_lock_out(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice = people["alice"]
    assert alice.user_id
    with write_session(applied_engine) as session:
        [sms] = contacts.add_phone(session, alice, alice.user_id, "+14155552671", NOW,
                                   voice=False)
    code = code_for(applied_engine, sms.id)
    wrong = "000000" if code != "000000" else "111111"
    for left in range(contacts.MAX_ATTEMPTS - 1, -1, -1):
        with write_session(applied_engine) as session:
            result = contacts.confirm(session, alice, sms.id, wrong, NOW)
        assert not result.ok and result.attempts_left == left
    with write_session(applied_engine) as session:  # the right code is void now
        assert not contacts.confirm(session, alice, sms.id, code, NOW).ok
    with write_session(applied_engine) as session:
        contacts.send_code(session, alice, sms.id, NOW + timedelta(minutes=1))
    fresh = code_for(applied_engine, sms.id)
    with write_session(applied_engine) as session:
        assert contacts.confirm(session, alice, sms.id, fresh, NOW + timedelta(minutes=2)).ok


def test_codes_expire_and_resends_are_spaced(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice = people["alice"]
    assert alice.user_id
    with write_session(applied_engine) as session:
        method = contacts.add_email(session, alice, alice.user_id, "Marcus@Home.example", NOW)
    assert method.address == "marcus@home.example" and not method.verified
    code = code_for(applied_engine, method.id)
    later = NOW + contacts.CODE_LIFETIME
    with write_session(applied_engine) as session:
        result = contacts.confirm(session, alice, method.id, code, later)
    assert not result.ok and "expired" in result.message
    with write_session(applied_engine) as session, pytest.raises(contacts.Invalid, match="wait"):
        contacts.send_code(session, alice, method.id, NOW + timedelta(seconds=5))


def test_own_sign_in_email_needs_no_code(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice = people["alice"]
    assert alice.user_id
    with write_session(applied_engine) as session:
        method = contacts.add_email(session, alice, alice.user_id, alice.name.upper(), NOW)
    assert method.verified


@pytest.mark.parametrize(
    "subscription",
    [
        "not json",
        {"endpoint": "https://push.example/x"},
        {"endpoint": "https://push.example/x", "keys": {"p256dh": "k"}},
        {"keys": SUB["keys"]},
        {"endpoint": "ftp://push.example/x", "keys": SUB["keys"]},
    ],
)
def test_bad_push_subscriptions_are_refused(
    applied_engine: Engine, people: dict[str, Actor], subscription: Any
) -> None:
    alice = people["alice"]
    assert alice.user_id
    with write_session(applied_engine) as session, pytest.raises(contacts.Invalid):
        contacts.add_push_subscription(session, alice, alice.user_id, subscription, NOW)


def test_push_subscription_is_stored_without_keys_in_the_audit_log(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice = people["alice"]
    assert alice.user_id
    browser = {**SUB, "expirationTime": None}
    with write_session(applied_engine) as session:
        method = contacts.add_push_subscription(
            session, alice, alice.user_id, json.dumps(browser), NOW)
    assert json.loads(method.address) == SUB
    assert method.display == "push via push.example"
    with Session(applied_engine) as session:
        logged = json.dumps([e.after for e in session.scalars(select(AuditEventRow))])
    assert SUB["keys"]["auth"] not in logged and "push.example" in logged
    with write_session(applied_engine) as session, pytest.raises(contacts.Invalid):
        contacts.add_push_subscription(session, alice, alice.user_id, SUB, NOW)


def test_slack_member(applied_engine: Engine, people: dict[str, Actor]) -> None:
    alice = people["alice"]
    assert alice.user_id
    with write_session(applied_engine) as session:
        method = contacts.add_slack(session, alice, alice.user_id, "U0123ABCD", NOW)
        with pytest.raises(contacts.Invalid):
            contacts.add_slack(session, alice, alice.user_id, "#general", NOW)
    assert method.type == "slack" and not method.verified


def test_only_the_owner_or_a_platform_admin(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice, bob, admin = people["alice"], people["bob"], people["admin"]
    assert alice.user_id
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        contacts.add_phone(session, bob, alice.user_id, "+14155552671", NOW)
    with write_session(applied_engine) as session:
        [sms] = contacts.add_phone(session, admin, alice.user_id, "+14155552671", NOW,
                                   voice=False)
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        contacts.confirm(session, bob, sms.id, "123456", NOW)
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        contacts.remove(session, bob, sms.id, NOW)
    with Session(applied_engine) as session:
        actors = set(session.scalars(select(AuditEventRow.actor).where(
            AuditEventRow.type.like("contact.%"))))
    assert actors == {f"user:{admin.name}"}


def test_remove_takes_its_rules_along(applied_engine: Engine, people: dict[str, Actor]) -> None:
    alice = people["alice"]
    assert alice.user_id
    with write_session(applied_engine) as session:
        [sms] = contacts.add_phone(session, alice, alice.user_id, "+14155552671", NOW,
                                   voice=False)
        contacts.add_rule(session, alice, alice.user_id, urgency="high", delay=60,
                          contact_method_id=sms.id, now=NOW)
    with write_session(applied_engine) as session:
        contacts.remove(session, alice, sms.id, NOW)
    with Session(applied_engine) as session:
        assert session.scalars(select(ContactMethodRow)).all() == []
        assert session.scalars(select(NotificationRuleRow)).all() == []
        pending = session.scalars(select(NotificationRow.status)).all()
    assert pending == ["cancelled"]
    assert audit(applied_engine)[-1][0] == "contact.removed"


def test_pause_and_resume(applied_engine: Engine, people: dict[str, Actor]) -> None:
    alice = people["alice"]
    assert alice.user_id
    with write_session(applied_engine) as session:
        method = contacts.add_email(session, alice, alice.user_id, alice.name, NOW)
        assert not contacts.set_enabled(session, alice, method.id, False, NOW).enabled
        assert contacts.set_enabled(session, alice, method.id, True, NOW).enabled
    assert [t for t, *_ in audit(applied_engine)][-2:] == ["contact.disabled", "contact.enabled"]
