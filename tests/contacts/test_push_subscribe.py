"""Push on this device: one contact method per endpoint, verified by a code pushed through
pywebpush to the local push service, removed by the device, turned off when the service says
the subscription is gone, and turned on again when the device subscribes again."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from oncall import contacts
from oncall.cli.vapid_commands import generate_keys
from oncall.contacts import methods
from oncall.context import Context
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, ContactMethodRow, NotificationRow
from oncall.incidents.actors import Actor, Forbidden
from oncall.notify.settings import ProviderSettings
from oncall.settings import Settings
from oncall.testing.peers import PushServicePeer, RecordedRequest
from oncall.worker.runtime import Runtime

from .conftest import NOW  # type: ignore[import-not-found]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Device:
    """A browser's subscription: a P-256 key pair and an auth secret, as browsers make them."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self) -> dict[str, Any]:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": _b64(public), "auth": _b64(self.auth)}}

    def read(self, request: RecordedRequest) -> Any:
        plain = http_ece.decrypt(request.body, private_key=self.key, auth_secret=self.auth,
                                 version="aes128gcm")
        return json.loads(plain)


def push_rows(engine: Engine, user_id: int) -> list[ContactMethodRow]:
    with Session(engine) as session:
        return list(session.scalars(select(ContactMethodRow).where(
            ContactMethodRow.user_id == user_id, ContactMethodRow.type == "push")))


def codes_owed(engine: Engine, method_id: int) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(NotificationRow).where(
            NotificationRow.contact_method_id == method_id,
            NotificationRow.kind == "verification")) or 0


@pytest.fixture
def alice(people: dict[str, Actor]) -> Actor:
    assert people["alice"].user_id is not None
    return people["alice"]


@pytest.fixture
def push() -> Iterator[PushServicePeer]:
    with PushServicePeer() as peer:
        yield peer


@pytest.fixture
def worker(applied_engine: Engine, monkeypatch: pytest.MonkeyPatch,
           tmp_path: Path) -> Runtime:
    """The worker's dispatcher with web push configured, on a fixed clock."""
    monkeypatch.chdir(tmp_path)
    public, private = generate_keys()
    providers = ProviderSettings.from_env({
        "ONCALL_VAPID_PUBLIC_KEY": public, "ONCALL_VAPID_PRIVATE_KEY": private,
        "ONCALL_VAPID_SUBJECT": "mailto:oncall@northwind.example",
        "ONCALL_PUBLIC_URL": "https://oncall.example", "ONCALL_PROVIDER_TIMEOUT": "3"})
    settings = Settings(database_url=str(applied_engine.url), providers=providers)
    return Runtime.from_context(Context(settings, applied_engine, clock=lambda: NOW))


def send_due(worker: Runtime) -> None:
    for notification_id in worker.due_notifications():
        worker.dispatch(notification_id)


def test_the_pushed_code_verifies_the_device(
    applied_engine: Engine, alice: Actor, push: PushServicePeer, worker: Runtime
) -> None:
    assert alice.user_id is not None
    phone = Device(push.endpoint("alice-phone"))
    with write_session(applied_engine) as session:
        method = methods.subscribe_push(session, alice, alice.user_id, phone.subscription(),
                                         NOW, label="Android")
    assert method.display == "push via 127.0.0.1" and method.label == "Android"
    assert not method.verified and method.verification_pending

    send_due(worker)
    (request,) = push.requests
    shown = phone.read(request)
    assert shown["tag"] == "oncall-verification_code"
    code = shown["body"].split("code is ")[1][:6]
    with write_session(applied_engine) as session:
        outcome = contacts.confirm(session, alice, method.id, code, NOW, user_id=alice.user_id)
        assert outcome.ok
        device = methods.push_device(session, alice, alice.user_id, phone.endpoint, NOW)
    assert device is not None and device.verified and device.enabled


def test_subscribing_again_updates_the_one_method_of_the_endpoint(
    applied_engine: Engine, alice: Actor, push: PushServicePeer
) -> None:
    assert alice.user_id is not None
    phone = Device(push.endpoint("alice-phone"))
    with write_session(applied_engine) as session:
        first = methods.subscribe_push(session, alice, alice.user_id, phone.subscription(), NOW)
    with write_session(applied_engine) as session:
        row = session.get(ContactMethodRow, first.id)
        assert row is not None
        row.verified_at, row.verification_code_hash = NOW, None
    # the same subscription again (the page reloaded, "Enable" pressed twice): nothing changes
    with write_session(applied_engine) as session:
        again = methods.subscribe_push(session, alice, alice.user_id, phone.subscription(), NOW)
    assert again.id == first.id and again.verified
    assert [r.id for r in push_rows(applied_engine, alice.user_id)] == [first.id]
    assert codes_owed(applied_engine, first.id) == 1

    # new keys for the same endpoint: updated in place, and verified again
    phone.key, phone.auth = ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
    with write_session(applied_engine) as session:
        renewed = methods.subscribe_push(session, alice, alice.user_id, phone.subscription(),
                                          NOW)
    assert renewed.id == first.id and not renewed.verified and renewed.verification_pending
    (row,) = push_rows(applied_engine, alice.user_id)
    assert json.loads(row.address)["keys"] == phone.subscription()["keys"]
    assert codes_owed(applied_engine, first.id) == 2

    # another device is another method
    laptop = Device(push.endpoint("alice-laptop"))
    with write_session(applied_engine) as session:
        other = methods.subscribe_push(session, alice, alice.user_id, laptop.subscription(),
                                        NOW)
    assert other.id != first.id and len(push_rows(applied_engine, alice.user_id)) == 2


def test_disabling_on_the_device_removes_its_method(
    applied_engine: Engine, alice: Actor, push: PushServicePeer
) -> None:
    assert alice.user_id is not None
    phone = Device(push.endpoint("alice-phone"))
    with write_session(applied_engine) as session:
        method = methods.subscribe_push(session, alice, alice.user_id, phone.subscription(), NOW)
    with write_session(applied_engine) as session:
        assert methods.unsubscribe_push(session, alice, alice.user_id, phone.endpoint, NOW)
    assert push_rows(applied_engine, alice.user_id) == []
    with write_session(applied_engine) as session:
        assert not methods.unsubscribe_push(session, alice, alice.user_id, phone.endpoint, NOW)
    with Session(applied_engine) as session:
        removed = session.scalar(select(AuditEventRow).where(
            AuditEventRow.type == "contact.removed"))
    assert removed is not None and removed.before is not None
    assert removed.before["id"] == method.id
    assert "keys" not in json.dumps(removed.before)


def test_only_the_person_subscribes_their_devices(
    applied_engine: Engine, people: dict[str, Actor], push: PushServicePeer
) -> None:
    alice, bob = people["alice"], people["bob"]
    assert alice.user_id is not None
    phone = Device(push.endpoint("alice-phone"))
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        methods.subscribe_push(session, bob, alice.user_id, phone.subscription(), NOW)
    with write_session(applied_engine) as session, pytest.raises(contacts.Invalid):
        methods.subscribe_push(session, alice, alice.user_id, {"endpoint": phone.endpoint}, NOW)


def test_a_gone_subscription_is_turned_off_and_back_on_by_subscribing_again(
    applied_engine: Engine, alice: Actor, push: PushServicePeer, worker: Runtime
) -> None:
    assert alice.user_id is not None
    phone = Device(push.endpoint("alice-phone"))
    with write_session(applied_engine) as session:
        method = methods.subscribe_push(session, alice, alice.user_id, phone.subscription(), NOW)
    push.expire("alice-phone")  # the browser unsubscribed: the push service answers 410
    send_due(worker)
    with Session(applied_engine) as session:
        status = session.scalar(select(NotificationRow.status).where(
            NotificationRow.contact_method_id == method.id))
        device = methods.push_device(session, alice, alice.user_id, phone.endpoint, NOW)
    assert status == "failed"
    assert device is not None and not device.enabled  # no page goes to it any more
    with Session(applied_engine) as session:  # and Alice can see why, in her audit log
        why = session.execute(select(AuditEventRow.type, AuditEventRow.subject_name,
                                     AuditEventRow.data)
                              .where(AuditEventRow.type == "contact.disabled")).all()
    assert [tuple(w) for w in why] == [("contact.disabled", alice.name, {
        "id": method.id, "type": "push",
        "reason": "the push service says the subscription is gone"})]

    with write_session(applied_engine) as session:
        again = methods.subscribe_push(session, alice, alice.user_id, phone.subscription(), NOW)
    assert again.id == method.id and again.enabled and again.verification_pending
