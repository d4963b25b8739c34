"""Web push through pywebpush against a local push service; the test decrypts what arrived."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

from oncall.cli.main import main as cli_main
from oncall.cli.vapid_commands import generate_keys
from oncall.notify.providers.webpush import WebPushProvider
from oncall.notify.settings import ProviderSettings
from oncall.testing.peers import PushServicePeer, RecordedRequest
from oncall.testing.peers.base import Reply

from .conftest import PAGE, provider_settings


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Browser:
    """A subscription's key pair, made the way a browser makes it (P-256 + 16-byte secret)."""

    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.subscription = json.dumps(
            {"endpoint": endpoint, "keys": {"p256dh": _b64(public), "auth": _b64(self.auth)}}
        )

    def decrypt(self, request: RecordedRequest) -> Any:
        plain = http_ece.decrypt(
            request.body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


@pytest.fixture
def push() -> Iterator[PushServicePeer]:
    with PushServicePeer() as peer:
        yield peer


@pytest.fixture
def keys() -> tuple[str, str]:
    return generate_keys()


def _settings(keys: tuple[str, str], **extra: str) -> ProviderSettings:
    public, private = keys
    return provider_settings(
        ONCALL_VAPID_PUBLIC_KEY=public,
        ONCALL_VAPID_PRIVATE_KEY=private,
        ONCALL_VAPID_SUBJECT="mailto:ops@example.com",
        **extra,
    )


def test_push_is_encrypted_for_the_subscription_and_signed(
    push: PushServicePeer, keys: tuple[str, str]
) -> None:
    browser = Browser(push.endpoint("alice-laptop"))
    result = WebPushProvider(_settings(keys)).send(browser.subscription, PAGE)

    assert result.ok and (result.provider_message_id or "").startswith(push.url)
    (request,) = push.requests
    assert request.header("Content-Encoding") == "aes128gcm"
    assert request.header("Urgency") == "high"
    assert request.header("TTL") == "3600"
    payload = browser.decrypt(request)
    assert payload["url"] == PAGE.url
    assert payload["tag"] == f"incident-{PAGE.incident_id}"
    assert payload["title"].startswith("#123 Triggered")
    # the JWT is signed with our private key and names our public key
    auth = request.header("Authorization") or ""
    assert auth.startswith("vapid t=") and f"k={keys[0]}" in auth
    assert Vapid.verify(auth)


@pytest.mark.parametrize("status", [404, 410])
def test_expired_subscription_is_gone(
    push: PushServicePeer, keys: tuple[str, str], status: int
) -> None:
    browser = Browser(push.endpoint("old-phone"))
    if status == 410:
        push.expire("old-phone")
    else:
        push.fail(404, "no such subscription")
    result = WebPushProvider(_settings(keys)).send(browser.subscription, PAGE)
    assert not result.ok and result.gone and not result.retryable and result.status_code == status


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (429, True), (413, False)])
def test_push_service_failures(
    push: PushServicePeer, keys: tuple[str, str], status: int, retryable: bool
) -> None:
    push.fail(status)
    result = WebPushProvider(_settings(keys)).send(Browser(push.endpoint()).subscription, PAGE)
    assert not result.ok and not result.gone and result.retryable is retryable


def test_hanging_push_service_times_out(push: PushServicePeer, keys: tuple[str, str]) -> None:
    push.hang()
    settings = _settings(keys, ONCALL_WEBPUSH_TIMEOUT="0.5")
    result = WebPushProvider(settings).send(Browser(push.endpoint()).subscription, PAGE)
    assert not result.ok and result.retryable and "timeout" in (result.error or "")


@pytest.mark.parametrize("subscription", ["{}", "not json", '{"endpoint": "http://x"}'])
def test_malformed_subscription_is_permanent(keys: tuple[str, str], subscription: str) -> None:
    result = WebPushProvider(_settings(keys)).send(subscription, PAGE)
    assert not result.ok and not result.retryable and not result.gone


def test_vapid_generate_prints_usable_settings(
    capsys: pytest.CaptureFixture[str], push: PushServicePeer
) -> None:
    assert cli_main(["vapid", "generate", "--subject", "mailto:ops@example.com"]) == 0
    lines = capsys.readouterr().out.splitlines()
    env = dict(line.split("=", 1) for line in lines)
    assert sorted(env) == [
        "ONCALL_VAPID_PRIVATE_KEY",
        "ONCALL_VAPID_PUBLIC_KEY",
        "ONCALL_VAPID_SUBJECT",
    ]
    assert len(base64.urlsafe_b64decode(env["ONCALL_VAPID_PUBLIC_KEY"] + "==")) == 65
    settings = provider_settings(env)
    browser = Browser(push.endpoint())
    assert WebPushProvider(settings).send(browser.subscription, PAGE).ok


def test_an_endpoint_on_the_deny_list_is_never_called(push: PushServicePeer,
                                                      keys: tuple[str, str]) -> None:
    """The local push service on 127.0.0.1, denied by ONCALL_WEBHOOK_DENY: nothing reaches it."""
    settings = _settings(keys, ONCALL_WEBHOOK_DENY="127.0.0.0/8")
    result = WebPushProvider(settings).send(Browser(push.endpoint("phone")).subscription, PAGE)
    assert not result.ok and not result.retryable and not result.gone
    assert "on the deny list" in (result.error or "")
    assert push.requests == []


def test_pushes_to_one_service_share_a_kept_connection(
    push: PushServicePeer, keys: tuple[str, str]
) -> None:
    provider = WebPushProvider(_settings(keys))
    browsers = [Browser(push.endpoint(f"device-{n}")) for n in range(5)]
    results = [provider.send(b.subscription, PAGE) for b in browsers]

    assert all(r.ok for r in results)
    assert push.connections == 1


def test_a_redirect_from_the_push_service_is_not_followed(keys: tuple[str, str]) -> None:
    """The deny list checked the endpoint the browser sent; a push service that redirects
    elsewhere (the cloud's metadata service, say) does not get the worker to follow."""
    with PushServicePeer() as elsewhere:

        class Redirecting(PushServicePeer):
            def handle(self, request: RecordedRequest) -> Reply:
                return Reply(307, b"", {"Location": elsewhere.endpoint("inside")})

        with Redirecting() as push:
            browser = Browser(push.endpoint("alice-laptop"))
            result = WebPushProvider(_settings(keys)).send(browser.subscription, PAGE)

        assert not result.ok and not result.retryable and result.status_code == 307
        assert len(push.requests) == 1
        assert elsewhere.requests == []
