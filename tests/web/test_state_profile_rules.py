"""The profile page's notification rules: add, change, remove, "use the defaults", the errors
shown beside them, and the preview of what a page sends, which follows every edit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from oncall import contacts
from oncall.core.notification_rules import Channel
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, ContactMethodRow, NotificationRuleRow
from oncall.incidents.people import actor_for_email
from oncall.notify.settings import ProviderSettings
from oncall.web.state.profile import ProfileState

from .conftest import NOW, RESPONDER, call

PLATFORM_ADMIN = "priya.raman@northwind.example"
PHONE = "+14155552671"
SHOWN = "+1 415-555-2671"


@pytest.fixture(autouse=True)
def every_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Providers for every channel, as a production installation has: the preview then shows
    the whole plan (`test_the_preview_leaves_out_channels_without_a_provider` shows less)."""
    monkeypatch.setattr(ProviderSettings, "channels", property(lambda self: set(Channel)))


def phone(web: Engine, email: str = RESPONDER, verified: bool = True) -> tuple[str, str]:
    """(sms id, voice id) of a phone added for `email`, as the page names them."""
    with write_session(web) as session:
        actor = actor_for_email(session, email, via="web")
        assert actor is not None and actor.user_id is not None
        sms, voice = contacts.add_phone(session, actor, actor.user_id, PHONE, NOW)
        if verified:
            for row in session.scalars(select(ContactMethodRow).where(
                    ContactMethodRow.id.in_([sms.id, voice.id]))):
                row.verified_at = NOW
    return str(sms.id), str(voice.id)


def preview(steps: list[dict[str, str]]) -> list[tuple[str, str, str, str]]:
    return [(s["when"], s["channel"], s["address"], s["default"]) for s in steps]


def shown(rules: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(r["when"], r["contact"], r["usable"]) for r in rules]


def rule_count(web: Engine) -> int:
    with Session(web) as session:
        return session.scalar(select(func.count()).select_from(NotificationRuleRow)) or 0


def test_defaults_then_edits_change_the_preview(state: Callable[..., Any], web: Engine) -> None:
    sms, voice = phone(web)
    s: ProfileState = state(ProfileState, RESPONDER, "/profile")
    call(s, "load")
    assert s.high_rules == [] and s.low_rules == []
    assert s.method_choices == [{"id": sms, "label": f"sms {SHOWN}"},
                                {"id": voice, "label": f"voice {SHOWN}"}]
    assert preview(s.preview_high) == [
        ("at once", "email", RESPONDER, "default"), ("at once", "slack", RESPONDER, "default"),
        ("after 1 min", "sms", SHOWN, "default"), ("after 3 min", "voice", SHOWN, "default")]
    assert preview(s.preview_low) == [
        ("at once", "email", RESPONDER, "default"), ("at once", "slack", RESPONDER, "default")]

    call(s, "set_new_rule_urgency", "high")
    call(s, "set_new_rule_delay", "2")
    call(s, "set_new_rule_method", voice)
    call(s, "add_rule")
    assert s.rule_error == "" and s.notice == "Rule added." and s.new_rule_delay == "0"
    assert shown(s.high_rules) == [("after 2 min", f"voice {SHOWN}", "")]
    assert preview(s.preview_high) == [("after 2 min", "voice", SHOWN, "")]
    assert preview(s.preview_low)[0][3] == "default"  # low keeps the defaults

    call(s, "set_new_rule_delay", "0")
    call(s, "set_new_rule_method", sms)
    call(s, "add_rule")
    rule = s.high_rules[1]["id"]  # by delay: voice after 2 min comes second
    call(s, "set_rule_delay", rule, "10")
    assert s.notice == "Rule changed."
    assert preview(s.preview_high) == [("at once", "sms", SHOWN, ""),
                                       ("after 10 min", "voice", SHOWN, "")]
    call(s, "set_rule_method", rule, sms)
    assert preview(s.preview_high) == [("at once", "sms", SHOWN, ""),
                                       ("after 10 min", "sms", SHOWN, "")]
    call(s, "remove_rule", rule)
    assert s.notice == "Rule removed."
    assert preview(s.preview_high) == [("at once", "sms", SHOWN, "")]

    call(s, "use_defaults", "high")
    assert s.high_rules == [] and s.notice == "High urgency uses the defaults again."
    assert preview(s.preview_high)[0] == ("at once", "email", RESPONDER, "default")
    with Session(web) as session:
        types = list(session.scalars(select(AuditEventRow.type).where(
            AuditEventRow.type.like("notification_rule.%")).order_by(AuditEventRow.id)))
    assert types == ["notification_rule.added", "notification_rule.added",
                     "notification_rule.changed", "notification_rule.changed",
                     "notification_rule.removed", "notification_rule.removed"]


def test_errors_are_shown_beside_the_rules(state: Callable[..., Any], web: Engine) -> None:
    sms, voice = phone(web)
    s: ProfileState = state(ProfileState, RESPONDER, "/profile")
    call(s, "load")
    call(s, "set_new_rule_delay", "121")
    call(s, "add_rule")
    assert s.rule_error == "the delay is limited to 120 minutes" and s.error == ""
    call(s, "set_new_rule_delay", "soon")
    call(s, "add_rule")
    assert s.rule_error == "the delay is a whole number of minutes"
    call(s, "set_new_rule_urgency", "low")
    call(s, "set_new_rule_delay", "0")
    call(s, "set_new_rule_method", voice)
    call(s, "add_rule")
    assert s.rule_error == "low-urgency incidents never ring a phone: choose another method"
    call(s, "set_new_rule_method", sms)
    call(s, "add_rule")
    call(s, "add_rule")
    assert s.rule_error == "the same rule exists already"
    assert rule_count(web) == 1
    rule = s.low_rules[0]["id"]
    call(s, "set_rule_delay", rule, "-5")
    assert s.rule_error == "the delay cannot be negative"
    call(s, "set_rule_method", rule, voice)
    assert "never ring a phone" in s.rule_error
    assert shown(s.low_rules) == [("at once", f"sms {SHOWN}", "")]
    call(s, "set_new_rule_urgency", "medium")
    assert s.new_rule_urgency == "high"


def test_an_unverified_method_is_shown_as_such(state: Callable[..., Any], web: Engine) -> None:
    sms, _voice = phone(web, verified=False)
    s: ProfileState = state(ProfileState, RESPONDER, "/profile")
    call(s, "load")
    assert s.method_choices[0] == {"id": sms, "label": f"sms {SHOWN} (not verified)"}
    call(s, "set_new_rule_method", sms)
    call(s, "add_rule")
    assert shown(s.high_rules) == [
        ("at once", f"sms {SHOWN}", "not verified: skipped until it is")]
    # the rule cannot be used yet: a page still follows the defaults
    assert preview(s.preview_high) == [("at once", "email", RESPONDER, "default"),
                                       ("at once", "slack", RESPONDER, "default")]


def test_a_rule_id_not_on_the_page_is_refused(state: Callable[..., Any], web: Engine) -> None:
    sms, _ = phone(web)
    with write_session(web) as session:
        sam = actor_for_email(session, RESPONDER, via="web")
        assert sam is not None and sam.user_id is not None
        theirs = contacts.add_rule(session, sam, sam.user_id, urgency="high", delay=0,
                                   contact_method_id=int(sms), now=NOW)
    admin: ProfileState = state(ProfileState, PLATFORM_ADMIN, "/profile")
    call(admin, "load")
    for handler, args in [("set_rule_delay", (str(theirs.id), "5")),
                          ("remove_rule", (str(theirs.id),))]:
        call(admin, handler, *args)
        assert admin.rule_error == f"notification rule {theirs.id} does not exist"
    with Session(web) as session:
        row = session.get(NotificationRuleRow, theirs.id)
        assert row is not None and row.delay_seconds == 0
