"""Browser push through pywebpush with VAPID: the payload is encrypted for the subscription.

A push service answering 404 or 410 says the subscription is gone for good (the browser
unsubscribed or the permission was revoked): the result carries `gone=True` so the caller
deletes it instead of retrying.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests
from py_vapid import Vapid  # type: ignore[import-untyped]
from pywebpush import WebPushException, webpush

from oncall.notify.message import Notice, render_push
from oncall.notify.providers.base import (
    DeliveryResult,
    http_failure,
    network_failure,
    unexpected_failure,
)
from oncall.notify.settings import ProviderSettings


def parse_subscription(address: str | Mapping[str, Any]) -> dict[str, Any]:
    """A browser's `PushSubscription.toJSON()`, as stored: endpoint plus p256dh and auth keys."""
    info = json.loads(address) if isinstance(address, str) else dict(address)
    if not isinstance(info, dict) or not isinstance(info.get("endpoint"), str):
        raise ValueError("push subscription has no endpoint")
    keys = info.get("keys")
    if not isinstance(keys, dict) or not keys.get("p256dh") or not keys.get("auth"):
        raise ValueError("push subscription lacks keys.p256dh / keys.auth")
    return {"endpoint": info["endpoint"], "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}


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
        self.ttl = settings.webpush_ttl

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        """`address`: the subscription JSON."""
        try:
            subscription = parse_subscription(address)
        except ValueError as exc:
            return DeliveryResult.failed(self.name, f"bad subscription: {exc}", retryable=False)
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
        except (requests.RequestException, OSError) as exc:
            return network_failure(self.name, exc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return unexpected_failure(self.name, exc)
        location = response.headers.get("Location") if hasattr(response, "headers") else None
        return DeliveryResult.sent(self.name, str(location) if location else None)
