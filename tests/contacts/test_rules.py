"""Personal notification rules: CRUD, replacing a whole urgency, validation, and what a page would
do (own or default)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall import contacts
from oncall.contacts.rules import InvalidRules, RuleSpec, replace_rules
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, ContactMethodRow
from oncall.incidents.actors import Actor, Forbidden

from .conftest import ALICE, NOW  # type: ignore[import-not-found]


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


def _rules(engine: Engine, actor: Actor) -> list[tuple[str, int, str, int]]:
    assert actor.user_id
    with Session(engine) as session:
        return [(r.urgency, int(r.delay.total_seconds()), r.channel, r.id)
                for r in contacts.notification_rules(session, actor, actor.user_id)]


def _audit(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEventRow.type).where(
            AuditEventRow.type.like("notification_rule.%")).order_by(AuditEventRow.id)))


def test_replace_sets_one_urgency_and_keeps_the_other(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice = people["alice"]
    assert alice.user_id
    sms, voice = verified_phone(applied_engine, alice)
    with write_session(applied_engine) as session:
        kept = contacts.add_rule(session, alice, alice.user_id, urgency="high", delay=0,
                                 contact_method_id=sms, now=NOW)
        low = contacts.add_rule(session, alice, alice.user_id, urgency="low", delay=0,
                                contact_method_id=sms, now=NOW)
        contacts.add_rule(session, alice, alice.user_id, urgency="high", delay=60,
                          contact_method_id=voice, now=NOW)
    with write_session(applied_engine) as session:
        after = replace_rules(session, alice, alice.user_id, {"high": [
            RuleSpec(timedelta(0), sms), RuleSpec(timedelta(minutes=5), voice)]}, NOW)
    assert [(r.urgency, r.delay, r.channel) for r in after] == [
        ("high", timedelta(0), "sms"), ("high", timedelta(minutes=5), "voice"),
        ("low", timedelta(0), "sms")]
    # the unchanged rule keeps its id; low was not named, so it stays
    assert after[0].id == kept.id and after[2].id == low.id
    assert after[0].address == "+14155552671" and after[1].usable
    assert _audit(applied_engine)[3:] == ["notification_rule.removed", "notification_rule.added"]
    with write_session(applied_engine) as session:  # the same list again: nothing to audit
        replace_rules(session, alice, alice.user_id, {"high": [
            RuleSpec(timedelta(minutes=5), voice), RuleSpec(timedelta(0), sms)]}, NOW)
    assert len(_audit(applied_engine)) == 5


def test_replace_with_nothing_brings_back_the_defaults(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice = people["alice"]
    assert alice.user_id
    _sms, voice = verified_phone(applied_engine, alice)
    with write_session(applied_engine) as session:
        replace_rules(session, alice, alice.user_id, {"high": [RuleSpec(timedelta(0), voice)]},
                      NOW)
    with Session(applied_engine) as session:
        plan = contacts.effective_rules(session, alice, alice.user_id, "high")
    assert [(r.channel, r.address, r.contact_method_id, r.default) for r in plan] == [
        ("voice", "+14155552671", voice, False)]
    with write_session(applied_engine) as session:
        assert replace_rules(session, alice, alice.user_id, {"high": []}, NOW) == []
    with Session(applied_engine) as session:
        plan = contacts.effective_rules(session, alice, alice.user_id, "high")
    assert plan and all(r.default for r in plan)
    assert ("voice", timedelta(minutes=3)) in [(r.channel, r.delay) for r in plan]


def test_replace_checks_everything_first_and_changes_nothing_on_error(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    alice, admin = people["alice"], people["admin"]
    assert alice.user_id and admin.user_id
    sms, voice = verified_phone(applied_engine, alice)
    with write_session(applied_engine) as session:
        contacts.add_rule(session, alice, alice.user_id, urgency="high", delay=0,
                          contact_method_id=sms, now=NOW)
    before = _rules(applied_engine, alice)
    with write_session(applied_engine) as session, pytest.raises(InvalidRules) as caught:
        replace_rules(session, alice, alice.user_id, {
            "high": [RuleSpec(timedelta(minutes=1), voice), RuleSpec(timedelta(hours=3), sms),
                     RuleSpec(timedelta(0), 999_999), RuleSpec(timedelta(minutes=1), voice)],
            "low": [RuleSpec(timedelta(seconds=-60), voice)],
        }, NOW)
    assert caught.value.problems == [
        ("high[1].delay_minutes", "the delay is limited to 120 minutes"),
        ("high[2].contact_method_id", f"contact method 999999 is not one of {ALICE}'s"),
        ("high[3]", "the same rule is listed twice"),
        ("low[0].delay_minutes", "the delay cannot be negative"),
        ("low[0].contact_method_id",
         "low-urgency incidents never ring a phone: choose another method"),
    ]
    with write_session(applied_engine) as session, pytest.raises(InvalidRules) as unknown:
        replace_rules(session, alice, alice.user_id, {"high": [], "urgent": []}, NOW)
    assert unknown.value.problems == [
        ("urgent", "urgency must be one of high, low, not 'urgent'")]
    with write_session(applied_engine) as session, pytest.raises(InvalidRules) as theirs:
        replace_rules(session, admin, admin.user_id, {"high": [RuleSpec(timedelta(0), sms)]},
                      NOW)
    assert theirs.value.problems[0][0] == "high[0].contact_method_id"
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        replace_rules(session, people["bob"], alice.user_id, {"high": []}, NOW)
    assert _rules(applied_engine, alice) == before
    assert _audit(applied_engine) == ["notification_rule.added"]


def test_the_preview_leaves_out_channels_without_a_provider(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    """An installation with email only: a page of Alice's (phone verified, no rules) is email,
    not the SMS and call the defaults would add where Twilio is set up."""
    from oncall.notify.settings import ProviderSettings

    alice = people["alice"]
    assert alice.user_id
    verified_phone(applied_engine, alice)
    email_only = ProviderSettings.from_env({"ONCALL_SMTP_URL": "smtp://127.0.0.1:2525"})
    with Session(applied_engine) as session:
        plan = contacts.effective_rules(session, alice, alice.user_id, "high",
                                        email_only.channels)
    assert [(r.channel, r.delay, r.default) for r in plan] == [("email", timedelta(0), True)]
