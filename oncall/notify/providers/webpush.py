"""Browser push through pywebpush with VAPID: the payload is encrypted for the subscription.

A push service answering 404 or 410 says the subscription is gone for good (the browser
unsubscribed or the permission was revoked): the result carries `gone=True` so the caller
deletes it instead of retrying.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from py_vapid import Vapid  # type: ignore[import-untyped]
from pywebpush import WebPushException, webpush

from oncall.notify.message import Notice, render_push
from oncall.notify.providers import connections
from oncall.notify.providers.base import (
    DeliveryResult,
    http_failure,
    network_failure,
    unexpected_failure,
)
from oncall.notify.settings import ProviderSettings
from oncall.workflows.http import DenyList


def parse_subscription(address: str | Mapping[str, Any]) -> dict[str, Any]:
    """A browser's `PushSubscription.toJSON()`, as stored: endpoint plus p256dh and auth keys."""
    info = json.loads(address) if isinstance(address, str) else dict(address)
    if not isinstance(info, dict) or not isinstance(info.get("endpoint"), str):
        raise ValueError("push subscription has no endpoint")
    keys = info.get("keys")
    if not isinstance(keys, dict) or not keys.get("p256dh") or not keys.get("auth"):
        raise ValueError("push subscription lacks keys.p256dh / keys.auth")
    return {"endpoint": info["endpoint"], "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}


def endpoint_refused(endpoint: str, deny: DenyList,
                     resolve: Callable[[str], list[str]] | None = None) -> str | None:
    """Why a push endpoint may not be called, or None. A subscription is whatever a signed-in
    browser sent: its endpoint must not make the worker POST to the cloud's metadata service
    or another address on the deny list (ONCALL_WEBHOOK_DENY, as for workflow webhooks)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        return "the push endpoint is not an http(s) URL"
    if deny.denies_host(host):
        return f"the push endpoint's host {host} is on the deny list"
    try:
        addresses = (resolve or _addresses)(host)
    except OSError:
        return None  # not resolvable now: the send fails on its own and is retried
    for address in addresses:
        if deny.denies_address(address):
            return f"the push endpoint's host {host} resolves to a denied address"
    return None


def _addresses(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None)]


class WebPushProvider:
    name = "webpush"

    def __init__(self, settings: ProviderSettings) -> None:
        settings.require(
            "webpush",
            vapid_private_key=settings.vapid_private_key,
            vapid_subject=settings.vapid_subject,
        )
        assert settings.vapid_private_key is not None and settings.vapid_subject is not None
        self.vapid = Vapid.from_string(settings.vapid_private_key)
        subject = settings.vapid_subject
        self.subject = (
            subject if subject.startswith(("mailto:", "https://")) else f"mailto:{subject}"
        )
        self.timeout = settings.timeout("webpush")
        self.deny = DenyList.of(settings.endpoint_deny)
        self.ttl = settings.webpush_ttl
        self._session = connections.session()
        """A redirect is never followed: the deny list checked the endpoint a browser sent,
        not wherever its server would send the worker next."""

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        """`address`: the subscription JSON."""
        try:
            subscription = parse_subscription(address)
        except ValueError as exc:
            return DeliveryResult.failed(self.name, f"bad subscription: {exc}", retryable=False)
        refused = endpoint_refused(str(subscription.get("endpoint", "")), self.deny)
        if refused is not None:
            return DeliveryResult.failed(self.name, refused, retryable=False)
        headers: dict[str, str | int | float] = {
            "Urgency": "high" if notice.urgency == "high" else "normal"
        }
        try:
            response = webpush(
                subscription_info=subscription,
                data=render_push(notice),
                vapid_private_key=self.vapid,
                vapid_claims={"sub": self.subject},
                timeout=self.timeout,
                ttl=self.ttl,
                headers=headers,
                requests_session=self._session,
            )
        except WebPushException as exc:
            response = exc.response
            if response is None:
                return unexpected_failure(self.name, exc)
            status = int(getattr(response, "status_code", 0) or 0)
            if status in (404, 410):
                return DeliveryResult.failed(
                    self.name,
                    f"HTTP {status}: subscription expired",
                    retryable=False,
                    status_code=status,
                    gone=True,
                )
            return http_failure(self.name, status, str(getattr(response, "text", "")))
        except requests.TooManyRedirects as exc:
            status = int(getattr(exc.response, "status_code", 0) or 0)
            return DeliveryResult.failed(
                self.name, f"HTTP {status}: the push service redirected; not followed",
                retryable=False, status_code=status or None)
        except (requests.RequestException, OSError) as exc:
            return network_failure(self.name, exc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return unexpected_failure(self.name, exc)
        location = response.headers.get("Location") if hasattr(response, "headers") else None
        return DeliveryResult.sent(self.name, str(location) if location else None)
