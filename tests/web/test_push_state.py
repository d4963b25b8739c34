"""The "Push on this device" section: what the browser hands back (a subscription, a code, an
unsubscription) becomes the signed-in person's verified contact method, or goes away."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from reflex_base.event import EventSpec
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.cli.vapid_commands import generate_keys
from oncall.db.models import ContactMethodRow, NotificationRow, UserRow
from oncall.notify.settings import ProviderSettings
from oncall.web import context
from oncall.web.state.push import STATUS_SCRIPT, UNSUBSCRIBE_SCRIPT, WAIT_SCRIPT, PushState

from .conftest import OBSERVER, RESPONDER, FakeQueue, call

SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b-phone",
    "expirationTime": None,
    "keys": {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAk"
                       "j7I99e8QcYP7DkM", "auth": "tBHItJI5svbpez7KI4CCXg"},
}


@pytest.fixture
def vapid(web: Engine) -> str:
    """The server's VAPID public key, as ONCALL_VAPID_PUBLIC_KEY sets it."""
    public, _private = generate_keys()
    ctx = context.current()
    providers = ProviderSettings(vapid_public_key=public)
    context.install(dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, providers=providers)))
    return public


def script(result: Any) -> str:
    """The JavaScript of an `rx.call_script` a handler returned."""
    assert isinstance(result, EventSpec), result
    code = dict((k._js_expr, v) for k, v in result.args)["javascript_code"]
    return str(json.loads(str(code)))


def methods_of(web: Engine, email: str) -> list[ContactMethodRow]:
    with Session(web) as session:
        user = session.scalar(select(UserRow).where(UserRow.email == email))
        assert user is not None
        return list(session.scalars(select(ContactMethodRow).where(
            ContactMethodRow.user_id == user.id, ContactMethodRow.type == "push")))


def pushed_code(web: Engine, method_id: int) -> str:
    with Session(web) as session:
        data = session.scalars(select(NotificationRow.provider_data).where(
            NotificationRow.contact_method_id == method_id,
            NotificationRow.kind == "verification").order_by(NotificationRow.id.desc())).first()
    assert data is not None
    return str(data["code"])


def test_enable_verify_and_disable_on_this_device(
    state: Callable[..., Any], web: Engine, vapid: str, queue: FakeQueue
) -> None:
    s: PushState = state(PushState, RESPONDER, "/push")
    assert script(call(s, "load")) == STATUS_SCRIPT
    assert s.configured
    call(s, "found", {"supported": True, "endpoint": ""})
    assert s.supported and s.device == ""

    subscribe = script(call(s, "enable"))
    assert json.dumps(vapid) in subscribe and 'register("/sw.js"' in subscribe
    assert s.busy

    wait = call(s, "subscribed", {"subscription": SUBSCRIPTION, "label": "Android"})
    assert script(wait) == WAIT_SCRIPT
    assert s.device == "pending" and not s.busy and s.error == ""
    assert s.notice == "A test notification with a code is on its way to this device."
    assert queue.wakes == 1  # the worker sends the code at once
    (row,) = methods_of(web, RESPONDER)
    assert row.label == "Android" and row.verified_at is None and s.method_id == str(row.id)

    call(s, "code_arrived", pushed_code(web, row.id))  # passed on by the service worker
    assert s.device == "verified" and s.error == ""
    assert s.notice == "Push is on for this device: pages now reach it."

    # the page again, later: this browser's subscription is found and shown as on
    again: PushState = state(PushState, RESPONDER, "/push")
    call(again, "load")
    call(again, "found", {"supported": True, "endpoint": SUBSCRIPTION["endpoint"]})
    assert again.device == "verified" and again.method_id == str(row.id)

    assert script(call(again, "disable")) == UNSUBSCRIBE_SCRIPT
    call(again, "unsubscribed", {"endpoint": SUBSCRIPTION["endpoint"]})
    assert again.device == "" and again.notice == "Push is off for this device."
    assert methods_of(web, RESPONDER) == []


def test_enabling_twice_keeps_one_method(
    state: Callable[..., Any], web: Engine, vapid: str
) -> None:
    s: PushState = state(PushState, RESPONDER, "/push")
    call(s, "subscribed", {"subscription": SUBSCRIPTION, "label": ""})
    call(s, "subscribed", {"subscription": SUBSCRIPTION, "label": ""})
    assert s.error == "" and s.device == "pending"
    assert len(methods_of(web, RESPONDER)) == 1


def test_a_code_the_page_missed_is_typed(
    state: Callable[..., Any], web: Engine, vapid: str
) -> None:
    s: PushState = state(PushState, RESPONDER, "/push")
    call(s, "subscribed", {"subscription": SUBSCRIPTION, "label": ""})
    call(s, "code_arrived", "")  # nothing came within the wait
    assert s.notice == "Type the code from the test notification to finish."
    call(s, "set_push_code", "000000")
    call(s, "confirm_code")
    assert s.error.startswith("Push: wrong code") and s.device == "pending"
    (row,) = methods_of(web, RESPONDER)
    call(s, "set_push_code", f" {pushed_code(web, row.id)} ")
    call(s, "confirm_code")
    assert s.device == "verified" and s.push_code == ""


def test_what_the_browser_refuses_is_shown_and_nothing_is_stored(
    state: Callable[..., Any], web: Engine, vapid: str
) -> None:
    s: PushState = state(PushState, OBSERVER, "/push")
    call(s, "subscribed", {"error": "Notifications are blocked for this site."})
    assert s.error == "Notifications are blocked for this site." and s.device == ""
    call(s, "subscribed", {"subscription": {"endpoint": "https://push.example/x"}})
    assert s.error == "the push subscription lacks its p256dh and auth keys"
    call(s, "subscribed", "not a dict")
    assert s.error == "Push could not be enabled."
    assert methods_of(web, OBSERVER) == []


def test_without_vapid_keys_push_is_not_offered(state: Callable[..., Any], web: Engine) -> None:
    s: PushState = state(PushState, RESPONDER, "/push")
    call(s, "load")
    assert not s.configured
    assert call(s, "enable") is None
    assert s.error == "Push is not set up on this server (ONCALL_VAPID_PUBLIC_KEY)."
